"""Published scores on imputed dosages: the dosage kernel against its NumPy twin and the .bed
kernel, and ``score_published(pgens=...)`` against ``plink2 --score`` on the same .pgen (SUM and
AVG; additive, dominant, recessive; missing dosages; non-PAR chrX males)."""

import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import slope_and_max_abs_diff
from test_dosage import NO_FILTER, SAMPLES, write_sheet, write_vcf

from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.ingest.dosages import ingest_dosages
from cohortgen.io.files import read_json, read_tsv, write_tsv
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.prs import code_values, dosage_score_sums, score_sums
from cohortgen.prs.stage import score_published

EFFECTS = ("additive", "dominant", "recessive")
SCORED = [s for i, s in enumerate(SAMPLES) if i % 9 != 4]
"""Samples that passed sample QC: plink2 --keep gets the same list (missing dosages are imputed
over them)."""


def naive_dosage_sums(dosage, weights, effect_is_alt, effect_type, alt_mean):
    """Σ_v w · f(effect dosage), missing: the contribution of :func:`code_values`; one sample
    and score at a time."""
    m, n = dosage.shape
    out = np.zeros((n, weights.shape[1]))
    for k in range(weights.shape[1]):
        for v in range(m):
            mean = alt_mean[v] if effect_is_alt[v, k] else 2 - alt_mean[v]
            for j in range(n):
                d = float(dosage[v, j])
                if np.isnan(d):
                    value = mean if effect_type[v, k] == 0 else mean / 2
                else:
                    e = d if effect_is_alt[v, k] else 2 - d
                    value = (e, min(e, 1.0), max(e - 1.0, 0.0))[effect_type[v, k]]
                out[j, k] += weights[v, k] * value
    return out


def _coefficients(rng, m, k):
    return (rng.normal(size=(m, k)), rng.random((m, k)) < 0.5,
            rng.integers(0, 3, size=(m, k)).astype(np.int8), 2 * rng.random(m))


def test_dosage_score_sums__naive_twin():
    rng = np.random.default_rng(3)
    m, n, k = 30, 301, 4
    dosage = (2 * rng.random((m, n))).astype(np.float32)
    dosage[rng.random((m, n)) < 0.1] = np.nan
    weights, alt, kind, mean = _coefficients(rng, m, k)
    ours = dosage_score_sums(dosage, code_values(weights, alt, kind, mean))
    np.testing.assert_allclose(ours, naive_dosage_sums(dosage, weights, alt, kind, mean),
                               rtol=1e-12, atol=1e-12)


def test_dosage_score_sums__hard_call_dosages_equal_bed_kernel():
    """Dosages of exactly 0, 1, 2 or missing score as the .bed codes they stand for."""
    rng = np.random.default_rng(4)
    m, n, k = 25, 97, 3
    calls = rng.integers(-1, 3, size=(m, n)).astype(np.int8)
    weights, alt, kind, mean = _coefficients(rng, m, k)
    values = code_values(weights, alt, kind, mean)
    dosage = np.where(calls < 0, np.nan, calls).astype(np.float32)
    np.testing.assert_allclose(dosage_score_sums(dosage, values),
                               score_sums(pack_dosages(calls), n, values), rtol=0, atol=1e-12)


def test_dosage_score_sums__shape_error():
    with pytest.raises(ValueError, match="values"):
        dosage_score_sums(np.zeros((2, 5), np.float32), np.zeros((3, 4, 1)))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """The imputed VCF of test_dosage (chr22 and non-PAR chrX, 5% missing dosages) ingested
    whole (plink2's input) and as three chunks (ours), sample QC table and PCs."""
    root = tmp_path_factory.mktemp("prs_dosages")
    vcf = write_vcf(root / "imp.vcf.gz", ("DS",), decimals=4)
    sheet = write_sheet(root / "sheet.tsv")
    ingest_dosages(vcf, "22", root / "all22", phenotypes=sheet, limits=NO_FILTER)
    ingest_dosages(vcf, "X", root / "allX", phenotypes=sheet, limits=NO_FILTER)
    chunks = []
    for name, region in (("c0", "22:1-16000500"), ("c1", "22:16000501-17000000"), ("c2", "X")):
        ingest_dosages(vcf, region, root / name, phenotypes=sheet, limits=NO_FILTER)
        chunks.append(root / name)
    write_tsv(root / "samples.tsv", pd.DataFrame({
        "sample_id": SAMPLES, "reason": ["" if s in SCORED else "low_call_rate"
                                         for s in SAMPLES]}))
    rng = np.random.default_rng(8)
    write_tsv(root / "pcs.tsv", pd.DataFrame({"sample_id": SCORED,
                                              "PC1": rng.normal(size=len(SCORED))}))
    (root / "keep").write_text("".join(f"{s}\n" for s in SCORED))
    return {"root": root, "chunks": chunks}


def _variants(root, contig):
    return read_tsv(root / f"all{contig}.variants.tsv", dtype={"id": str, "ref": str, "alt": str})


def _score_table(variants, rng, effect: str) -> pd.DataFrame:
    """Lines on every other variant, cycling same, swapped, flipped, flipped + swapped; weights
    small so that every |SUM| < 1 (plink2 prints 6 significant digits: absolute error < 1e-6)."""
    rows = np.arange(0, len(variants), 2)
    alt, ref = variants["alt"].to_numpy()[rows], variants["ref"].to_numpy()[rows]
    swap = np.arange(rows.size) % 2 == 1
    flip = np.arange(rows.size) % 4 >= 2
    effect_allele, other = np.where(swap, ref, alt), np.where(swap, alt, ref)
    strand = str.maketrans("ACGT", "TGCA")
    effect_allele = [a.translate(strand) if f else a for a, f in zip(effect_allele, flip,
                                                                        strict=True)]
    other = [a.translate(strand) if f else a for a, f in zip(other, flip, strict=True)]
    table = pd.DataFrame({"chrom": variants["chrom"].to_numpy()[rows],
                          "pos": variants["pos"].to_numpy()[rows], "effect_allele": effect_allele,
                          "other_allele": other,
                          "weight": rng.normal(scale=0.3 / rows.size, size=rows.size),
                          "plink_id": variants["id"].to_numpy()[rows],
                          "plink_allele": np.where(swap, ref, alt)})
    if effect != "additive":
        table[f"is_{effect}"] = "True"
    return table


def _plink2_scores(plink2, prefix, table, effect, out):
    table[["plink_id", "plink_allele", "weight"]].to_csv(f"{out}.txt", sep="\t", index=False)
    modifier = [] if effect == "additive" else [effect]
    keep = ["--pfile", str(prefix), "--keep", str(prefix.parent / "keep"), "--threads", "1"]
    # plink2 mean-imputes from --read-freq under 50 samples: the frequencies of the same samples
    subprocess.run([plink2, *keep, "--freq", "--out", str(out)], check=True,
                   capture_output=True)
    subprocess.run([plink2, *keep, "--read-freq", f"{out}.afreq", "--score", f"{out}.txt", "1",
                    "2", "3", "header", *modifier, "cols=+scoresums", "--out", str(out)],
                   check=True, capture_output=True)
    table = pd.read_csv(f"{out}.sscore", sep="\t", dtype={"#IID": str})
    return table.rename(columns={"#IID": "IID"}).set_index("IID")


@pytest.mark.reference
@pytest.mark.parametrize(("contig", "effect"),
                         [("22", e) for e in EFFECTS] + [("X", "additive")])
def test_score_published__dosages_equal_plink2_score(cohort, plink2, tmp_path, contig, effect):
    """SUM and AVG per sample within 1e-6 of ``plink2 --score`` on the same dosages (missing
    dosages mean-imputed over the scored samples; chrX: males' dosages on the 0..2 scale)."""
    root = cohort["root"]
    table = _score_table(_variants(root, contig), np.random.default_rng(6), effect)
    write_tsv(tmp_path / "w.tsv", table.drop(columns=["plink_id", "plink_allele"]))
    records = score_published(["w"], [tmp_path / "w.tsv"], [], [], root / "samples.tsv",
                              root / "pcs.tsv", "GRCh38", 0.5, False, 0.5, tmp_path / "prs",
                              pgens=cohort["chunks"])
    assert records["w"]["status"] == "OK"
    assert records["w"]["genotypes"] == "dosages"
    assert records["w"]["n_variants_scored"] == len(table)
    assert min(records["w"][k] for k in ("same", "swapped", "flipped", "flipped_swapped")) > 0
    ref = _plink2_scores(plink2, root / f"all{contig}", table, effect, tmp_path / "ref")
    ours = read_tsv(tmp_path / "prs" / "scores" / "w.tsv.gz",
                    dtype={"sample_id": str}).set_index("sample_id")
    assert ours.index.tolist() == SCORED
    assert np.abs(ours["SUM"]).max() < 1
    for column in ("SUM", "AVG"):
        slope, diff = slope_and_max_abs_diff(ref.loc[SCORED, f"SCORE1_{column}"], ours[column])
        assert diff < 1e-6, (column, diff)
        assert abs(slope - 1) < 1e-5, (column, slope)
    assert (ref["ALLELE_CT"] < 2 * len(table)).any()  # some dosages were missing: imputed


def test_score_published__dosage_variant_failing_imputed_qc_is_failed_filter(cohort, tmp_path):
    """A line whose only match failed the imputed-variant QC (not stored) is failed_filter,
    and its QC reason is logged."""
    root = tmp_path
    vcf = write_vcf(root / "imp.vcf.gz", ("DS",), decimals=4)
    ingest_dosages(vcf, "22", root / "c", limits=replace(NO_FILTER, min_r2=0.9))
    variants = read_tsv(root / "c.variants.tsv", dtype={"id": str, "ref": str, "alt": str,
                                                        "reason": str})
    table = _score_table(variants, np.random.default_rng(1), "additive")
    write_tsv(root / "w.tsv", table.drop(columns=["plink_id", "plink_allele"]))
    records = score_published(["w"], [root / "w.tsv"], [], [], cohort["root"] / "samples.tsv",
                              cohort["root"] / "pcs.tsv", "GRCh38", 0.0, False, 0.9,
                              root / "prs", pgens=[root / "c"])
    low = (variants["reason"].fillna("").to_numpy()[::2] == "low_r2").sum()
    assert low > 0
    assert records["w"]["failed_filter"] == low
    log = read_tsv(root / "prs" / "match" / "w.variants.tsv.gz", dtype={"gwas_qc_reason": str})
    assert (log.loc[log["status"] == "failed_filter", "gwas_qc_reason"] == "low_r2").all()


def test_main__prs_score_with_pgens(cohort, tmp_path, capsys):
    """``cohortgen prs-score --pgens``: the dosage chunks replace --bfiles/--variant-qc;
    neither given is a clear error."""
    root = cohort["root"]
    table = _score_table(_variants(root, "22"), np.random.default_rng(2), "additive")
    write_tsv(tmp_path / "w.tsv", table.drop(columns=["plink_id", "plink_allele"]))
    common = ["prs-score", "--names", "w", "--files", str(tmp_path / "w.tsv"),
              "--samples", str(root / "samples.tsv"), "--pcs", str(root / "pcs.tsv"),
              "--out-dir", str(tmp_path / "prs")]
    assert main([*common, "--pgens", *map(str, cohort["chunks"])]) == 0
    assert read_json(tmp_path / "prs" / "match" / "w.json")["genotypes"] == "dosages"
    assert main(common) != 0
    assert "give --bfiles and --variant-qc (array hard calls) or --pgens" in capsys.readouterr().err


def test_score_published__pgen_chunks_with_different_samples(cohort, tmp_path):
    """Chunks whose .psam lists differ are refused, naming the chunk."""
    root = cohort["root"]
    vcf = write_vcf(tmp_path / "imp.vcf.gz", ("DS",), decimals=4)
    (tmp_path / "some").write_text("".join(f"{s}\n" for s in SAMPLES[:30]))
    ingest_dosages(vcf, "X", tmp_path / "fewer", keep=tmp_path / "some", limits=NO_FILTER,
                   phenotypes=write_sheet(tmp_path / "sheet.tsv"))
    table = pd.concat([_score_table(_variants(root, c), np.random.default_rng(2), "additive")
                       for c in ("22", "X")])
    write_tsv(tmp_path / "w.tsv", table.drop(columns=["plink_id", "plink_allele"]))
    with pytest.raises(InputError, match="fewer: its samples differ"):
        score_published(["w"], [tmp_path / "w.tsv"], [], [], root / "samples.tsv",
                        root / "pcs.tsv", "GRCh38", 0.5, False, 0.5, tmp_path / "prs",
                        pgens=[cohort["chunks"][0], tmp_path / "fewer"])


def test_score_published__dosage_chunk_missing_or_mismatched(cohort, tmp_path):
    """A --pgens prefix without its files, or whose .pgen holds fewer variants than its table
    passes, is refused naming the file."""
    root = cohort["root"]
    table = _score_table(_variants(root, "22"), np.random.default_rng(2), "additive")
    write_tsv(tmp_path / "w.tsv", table.drop(columns=["plink_id", "plink_allele"]))
    arguments = (["w"], [tmp_path / "w.tsv"], [], [], root / "samples.tsv", root / "pcs.tsv",
                 "GRCh38", 0.5, False, 0.5, tmp_path / "prs")
    with pytest.raises(InputError, match=r"nowhere\.pgen: missing; --pgens takes"):
        score_published(*arguments, pgens=[tmp_path / "nowhere"])
    for ext in ("pgen", "pvar", "psam"):
        shutil.copy(f"{cohort['chunks'][0]}.{ext}", tmp_path / f"mixed.{ext}")
    shutil.copy(f"{root / 'all22'}.variants.tsv", tmp_path / "mixed.variants.tsv")
    with pytest.raises(InputError, match=r"mixed\.pgen: \d+ variants, but variant \d+ is wanted"):
        score_published(*arguments, pgens=[tmp_path / "mixed"])
