"""Tests for the seeded demo cohort generator (tiny msprime settings, a few seconds in all)."""

import json
from pathlib import Path

import cyvcf2
import numpy as np
import pytest

from cohortgen.errors import InputError
from cohortgen.simulate import DISEASES, PHENOTYPE_COLUMNS, simulate_cohort, thin_positions

TINY = {"n_samples": 300, "n_chromosomes": 2, "chromosome_mb": 5.0, "seed": 7}
MINI = {
    "n_samples": 100,
    "n_chromosomes": 1,
    "chromosome_mb": 2.0,
    "n_related_pairs": 3,
    "n_low_call_samples": 2,
}
OUTPUTS = ("genotypes.vcf.gz", "genotypes.vcf.gz.tbi", "phenotypes.tsv", "truth.json")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A tiny cohort: 300 samples, 2 chromosomes x 5 Mb."""
    out = tmp_path_factory.mktemp("tiny")
    return out, simulate_cohort(out, **TINY)


def read_dosages(vcf: Path) -> tuple[list[str], np.ndarray, list]:
    """Sample IDs, ALT dosages (float64, (n_variants, n_samples), NaN missing) and the records."""
    reader = cyvcf2.VCF(str(vcf))
    samples = list(reader.samples)
    records, dosages = [], []
    for record in reader:
        gt = record.genotype.array()[:, :2].astype(np.float64)
        dosage = gt.sum(axis=1)
        dosage[(gt < 0).any(axis=1)] = np.nan
        dosages.append(dosage)
        records.append((record.CHROM, record.POS, record.ID, record.REF, record.ALT))
    reader.close()
    return samples, np.array(dosages), records


def read_phenotypes(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the tab-separated sheet, all cells as strings."""
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def test_simulate_cohort__writes_valid_outputs(tiny: tuple[Path, dict]) -> None:
    out, summary = tiny
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)  # no partial files left
    samples, dosages, records = read_dosages(out / "genotypes.vcf.gz")
    assert len(samples) == 300
    assert samples[0] == "S00001"
    assert dosages.shape == (summary["n_variants"], 300)
    assert 2000 <= summary["n_variants"] <= 6000
    header = cyvcf2.VCF(str(out / "genotypes.vcf.gz")).raw_header
    assert "##contig=<ID=1,length=5000000>" in header
    assert "##source=cohortgen-simulate" in header
    for chrom in ("1", "2"):
        pos = np.array([r[1] for r in records if r[0] == chrom])
        assert pos.size == summary["n_variants_per_chromosome"][chrom]
        assert np.all(np.diff(pos) > 0)
        assert pos.min() >= 1
    for chrom, pos, vid, ref, alt in records:
        assert vid == f"{chrom}:{pos}:{ref}:{alt[0]}"
        assert len(alt) == 1
        assert ref in "ACGT"
        assert alt[0] in "ACGT"
        assert ref != alt[0]
    # MAF >= 1% before missingness; random missingness moves it a little (tolerance 0.3%).
    frequency = np.nanmean(dosages, axis=1) / 2
    assert np.minimum(frequency, 1 - frequency).min() >= 0.007


def test_simulate_cohort__same_seed_is_byte_identical(tmp_path: Path) -> None:
    first = simulate_cohort(tmp_path / "a", seed=3, **MINI)
    second = simulate_cohort(tmp_path / "b", seed=3, **MINI)
    other = simulate_cohort(tmp_path / "c", seed=4, **MINI)
    assert first["n_variants"] == second["n_variants"]
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / OUTPUTS[0]).read_bytes() != (tmp_path / "c" / OUTPUTS[0]).read_bytes()
    assert other["n_variants"] > 0


def test_simulate_cohort__prevalences_near_targets(tmp_path: Path) -> None:
    simulate_cohort(tmp_path, n_samples=1500, n_chromosomes=1, chromosome_mb=2.0, seed=11)
    header, rows = read_phenotypes(tmp_path / "phenotypes.tsv")
    assert tuple(header) == PHENOTYPE_COLUMNS
    cells = np.array(rows)
    sex = cells[:, 1].astype(int)
    age = cells[:, 2].astype(int)
    assert set(sex) == {1, 2}
    assert 0.45 < np.mean(sex == 1) < 0.55
    assert age.min() >= 30
    assert age.max() <= 80
    truth = json.loads((tmp_path / "truth.json").read_text())
    for k, (disease, (prevalence, _, _)) in enumerate(DISEASES.items()):
        column = cells[:, 3 + k]
        assert set(column) <= {"0", "1", "NA"}
        assert np.mean(column == "NA") < 0.03
        observed = np.mean(column[column != "NA"] == "1")
        # The threshold is the liability quantile, so only NA masking moves it (tolerance 1.5%).
        assert observed == pytest.approx(prevalence, abs=0.015), disease
        record = truth["diseases"][disease]
        assert 20 <= len(record["causal_variants"]) <= 50
        assert 0.2 <= record["heritability_liability"] <= 0.4


def test_simulate_cohort__parent_offspring_never_opposite_homozygous(
    tiny: tuple[Path, dict],
) -> None:
    out, _ = tiny
    samples, dosages, _ = read_dosages(out / "genotypes.vcf.gz")
    truth = json.loads((out / "truth.json").read_text())
    index = {sample: i for i, sample in enumerate(samples)}

    def ibs0(a: int, b: int) -> float:
        x, y = dosages[:, a], dosages[:, b]
        called = ~np.isnan(x) & ~np.isnan(y)
        return float(np.mean(np.abs(x[called] - y[called]) == 2))

    pairs = [p for p in truth["related_pairs"] if p["relationship"] == "parent_offspring"]
    assert pairs
    for pair in pairs:
        assert pair["expected_kinship"] == 0.25
        assert ibs0(index[pair["sample_1"]], index[pair["sample_2"]]) == 0.0
    related = {s for p in truth["related_pairs"] for s in (p["sample_1"], p["sample_2"])}
    unrelated = [i for i, s in enumerate(samples) if s not in related][:20]
    for a, b in zip(unrelated[0::2], unrelated[1::2], strict=True):
        assert ibs0(a, b) > 0.005


def test_simulate_cohort__low_call_samples_miss_ten_percent(tiny: tuple[Path, dict]) -> None:
    out, _ = tiny
    samples, dosages, _ = read_dosages(out / "genotypes.vcf.gz")
    truth = json.loads((out / "truth.json").read_text())
    missing = dict(zip(samples, np.isnan(dosages).mean(axis=0), strict=True))
    low_call = set(truth["low_call_samples"])
    assert len(low_call) == 10
    assert all(missing[s] >= 0.10 for s in low_call)
    assert all(missing[s] < 0.01 for s in samples if s not in low_call)


def test_simulate_cohort__too_many_relatives_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="related pairs"):
        simulate_cohort(tmp_path, n_samples=100, n_related_pairs=40)
    assert not list(tmp_path.iterdir())


def test_thin_positions__keeps_lowest_priority_per_window() -> None:
    rng = np.random.default_rng(0)
    positions = np.sort(rng.choice(100_000, size=500, replace=False))
    priority = rng.random(500)
    kept = thin_positions(positions, priority, spacing=1_000, per_window=2)
    assert np.all(np.diff(kept) > 0)
    for window in np.unique(positions // 1_000):
        members = np.flatnonzero(positions // 1_000 == window)
        expected = members[np.argsort(priority[members])[:2]]
        assert set(kept[np.isin(kept, members)]) == set(expected)


def test_simulate_cohort__x_males_haploid_outside_par(tmp_path: Path) -> None:
    summary = simulate_cohort(tmp_path, seed=5, x_mb=3.5, **MINI)
    _, rows = read_phenotypes(Path(summary["phenotypes"]))
    male = np.array([row[1] == "1" for row in rows])
    reader = cyvcf2.VCF(summary["vcf"])
    par, non_par = [], []
    for record in reader:
        if record.CHROM != "X":
            continue
        ploidy = (record.genotype.array()[:, 1] != -2) + 1  # 2 diploid, 1 haploid
        (par if record.POS <= 2_781_479 else non_par).append((record.POS, ploidy))
    reader.close()
    assert summary["n_variants_per_chromosome"]["X"] == len(par) + len(non_par)
    assert par
    assert non_par
    assert min(pos for pos, _ in par) >= 10_001
    assert all((ploidy == 2).all() for _, ploidy in par)
    assert all((ploidy[male] == 1).all() and (ploidy[~male] == 2).all() for _, ploidy in non_par)
    truth = json.loads(Path(summary["truth"]).read_text())
    assert truth["model"]["chromosome_lengths"]["X"] == 3_500_000
    assert all(not v["id"].startswith("X:") for d in truth["diseases"].values()
               for v in d["causal_variants"])


def test_simulate_cohort__x_keeps_autosomes_identical(tmp_path: Path) -> None:
    """Adding X draws after everything else: autosomes and phenotypes do not change."""
    without = simulate_cohort(tmp_path / "a", seed=3, **MINI)
    with_x = simulate_cohort(tmp_path / "b", seed=3, x_mb=3.0, **MINI)
    assert Path(without["phenotypes"]).read_bytes() == Path(with_x["phenotypes"]).read_bytes()
    autosomal = read_dosages(Path(without["vcf"]))[1]
    np.testing.assert_array_equal(read_dosages(Path(with_x["vcf"]))[1][: len(autosomal)],
                                  autosomal)


def test_simulate_cohort__x_too_short_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="x_mb"):
        simulate_cohort(tmp_path, x_mb=1.0, **MINI)
