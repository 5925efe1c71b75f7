"""In-cohort scores end to end on a tiny simulated cohort (chunk inputs written here)."""

import gzip
import stat
from pathlib import Path

import cyvcf2
import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import write_bed
from cohortgen.io.files import read_tsv, write_tsv
from cohortgen.io.scorefile import read_scoring_file
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.prs.incohort import assign_folds, evaluate_all, load_cohort, run_fold
from cohortgen.prs.stage import PERFORMANCE_COLUMNS
from cohortgen.qc.keep import write_keep
from cohortgen.simulate import simulate_cohort

OPTIONS = {"folds": 3, "min_maf": 0.05, "r2_grid": [0.2], "p_thresholds": [1e-4, 0.01, 0.1],
           "n_chains": 2, "burn_in": 30, "num_iter": 30, "ld_window_kb": 3000, "threads": 1}


def _vcf_dosages(vcf: Path):
    """(samples, variant table, int8 ALT dosages (m, n)) of a bi-allelic VCF."""
    reader = cyvcf2.VCF(str(vcf))
    rows, dosage = [], []
    code = np.array([0, 1, MISSING, 2], dtype=np.int8)
    for v in reader:
        if len(v.ALT) == 1:
            rows.append((v.CHROM, v.POS, v.REF, v.ALT[0]))
            dosage.append(code[v.gt_types])
    table = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    return list(reader.samples), table, np.array(dosage)


def write_chunks(cohort: Path, out: Path) -> list[Path]:
    """One chunk (.bed + variant_qc.tsv) per autosome; returns the prefixes."""
    samples, table, dosage = _vcf_dosages(cohort / "genotypes.vcf.gz")
    fam = pd.DataFrame({"fid": samples, "iid": samples, "father": "0", "mother": "0",
                        "sex": 0, "pheno": -9})
    called = np.where(dosage >= 0, dosage, 0).sum(axis=1)
    table["alt_freq"] = called / (2.0 * np.maximum((dosage >= 0).sum(axis=1), 1))
    table["id"] = table["chrom"] + ":" + table["pos"].astype(str)
    table["pass"] = True
    prefixes = []
    for k, chrom in enumerate(c for c in table["chrom"].unique() if c.isdigit()):
        rows = np.flatnonzero(table["chrom"] == chrom)
        part = table.iloc[rows]
        bim = pd.DataFrame({"chrom": part["chrom"], "id": part["id"], "cm": 0.0,
                            "pos": part["pos"], "a1": part["alt"], "a2": part["ref"]})
        prefix = out / f"c{k:04d}"
        write_bed(prefix, pack_dosages(dosage[rows]), bim, fam)
        write_tsv(Path(f"{prefix}.variant_qc.tsv"),
                  part[["chrom", "pos", "id", "ref", "alt", "alt_freq", "pass"]])
        prefixes.append(prefix)
    rng = np.random.default_rng(3)
    write_keep(out / "keep.txt", samples[5:])
    pcs = pd.DataFrame(rng.normal(size=(len(samples), 2)), columns=["PC1", "PC2"])
    write_tsv(out / "pcs.tsv", pcs.assign(sample_id=samples)[["sample_id", "PC1", "PC2"]])
    return prefixes


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    cohort = tmp_path_factory.mktemp("cohort")
    simulate_cohort(cohort, n_samples=400, n_chromosomes=2, chromosome_mb=5.0, seed=11)
    work = tmp_path_factory.mktemp("chunks")
    return cohort, work, write_chunks(cohort, work)


DISEASES = ["hypertension", "type2_diabetes", "asthma"]


def run(inputs, out: Path, min_cases: int = 10):
    """The three in-cohort steps for DISEASES; returns the gathered performance table."""
    cohort, work, prefixes = inputs
    out.mkdir(parents=True, exist_ok=True)
    qc = [Path(f"{p}.variant_qc.tsv") for p in prefixes]
    data = load_cohort(prefixes[0], work / "keep.txt", cohort / "phenotypes.tsv", DISEASES,
                       ["age", "sex"], work / "pcs.tsv")
    assign_folds(data, OPTIONS["folds"], 42, out / "folds.tsv")
    files = [out / f"fold{f}.npz" for f in range(OPTIONS["folds"] + 1)]
    for f, path in enumerate(files):
        run_fold(f, prefixes, qc, data, out / "folds.tsv", min_cases, 42, OPTIONS, path)
    return evaluate_all(data, qc, out / "folds.tsv", files[1:], files[0], "GRCh38",
                        {"hypertension": 0.3}, min_cases, 5, OPTIONS, out, out / "all.tsv")


def _outputs(out: Path, disease: str = "hypertension") -> list[Path]:
    return [out / f"{disease}.performance.tsv", out / f"{disease}.scores.tsv.gz",
            out / f"{disease}_ldpred2.txt.gz"]


@pytest.mark.slow
def test_incohort__outputs_private_valid_and_reproducible(inputs, tmp_path):
    gathered = run(inputs, tmp_path / "a")
    assert list(gathered["disease"]) == [d for d in DISEASES for _ in range(2)]
    table = read_tsv(tmp_path / "a" / "hypertension.performance.tsv")
    paths = _outputs(tmp_path / "a")
    assert all(p.exists() for p in paths)
    for private in (paths[1], tmp_path / "a" / "folds.tsv", tmp_path / "a" / "fold1.npz"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert list(table.columns) == list(PERFORMANCE_COLUMNS)
    assert list(table["score"]) == ["incohort_ct", "incohort_ldpred2"]
    for _, row in table.iterrows():
        if str(row["status"]).startswith("OK"):
            assert 0.0 <= row["auc"] <= 1.0
    scores = read_tsv(paths[1], dtype={"sample_id": str})
    assert set(scores["fold"]) == {1, 2, 3}
    assert not scores["sample_id"].isin([f"S{i:05d}" for i in range(1, 6)]).any()
    scoring = read_scoring_file(paths[2], "GRCh38")
    assert len(scoring.table) > 0
    assert np.all(np.isfinite(scoring.table["weight"]))
    assert "#weight_type=NR" in gzip.decompress(paths[2].read_bytes()).decode()
    run(inputs, tmp_path / "b")
    for a, b in zip(paths, _outputs(tmp_path / "b"), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_incohort__too_few_cases_gives_status_rows(inputs, tmp_path):
    table = run(inputs, tmp_path, min_cases=10_000)
    assert table["status"].str.startswith("SKIPPED").all()
    assert len(table) == 2 * len(DISEASES)
    assert all(p.exists() for p in _outputs(tmp_path))


def test_load_cohort__categorical_covariate_levels_and_missing_label(inputs, tmp_path):
    """A text-labelled site adds one indicator per non-reference level (sorted labels, as the
    association null models), and a sample whose label is missing is not eligible."""
    cohort, work, prefixes = inputs
    base = load_cohort(prefixes[0], work / "keep.txt", cohort / "phenotypes.tsv", DISEASES,
                       ["age", "sex"], work / "pcs.tsv")
    first = base.sample_ids[int(np.flatnonzero(base.eligible)[0])]
    sheet = pd.read_csv(cohort / "phenotypes.tsv", sep="\t", dtype={"sample_id": str})
    sheet["site"] = np.array(["b_east", "a_north", "c_west"])[np.arange(len(sheet)) % 3]
    sheet.loc[sheet["sample_id"] == first, "site"] = "NA"
    sheet.to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    data = load_cohort(prefixes[0], work / "keep.txt", tmp_path / "sheet.tsv", DISEASES,
                       ["age", "sex"], work / "pcs.tsv", ["site"])
    assert data.design.shape[1] == base.design.shape[1] + 2
    site = sheet.set_index("sample_id").loc[data.sample_ids, "site"].to_numpy(str)
    ok = data.eligible
    np.testing.assert_array_equal(data.design[ok, 2], site[ok] == "b_east")
    np.testing.assert_array_equal(data.design[ok, 3], site[ok] == "c_west")
    np.testing.assert_array_equal(data.design[ok][:, [0, 1]], base.design[ok][:, [0, 1]])
    assert not data.eligible[data.sample_ids.index(first)]
    assert (data.eligible == (base.eligible & (site != "NA"))).all()
