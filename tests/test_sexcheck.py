"""The sex check reads the calls as they came in (issue #11).

A cohort VCF is written directly, from a genetic truth: women diploid on chrX, men hemizygous on
non-PAR chrX (haploid GT) and called on chrY, women with no chrY calls. Its sheet records women
as men and men as women, two samples with unknown sex, a woman whose chrX F is intermediate and a
sheet male with two X chromosomes and a Y (XXY). The VCF goes through the workflow's own steps
(``cohortgen ingest``, ``cohortgen variant-stats``, sample QC) with the sheet, so ingest applies
the sheet's ploidy before sample QC, as in a run.

Reference: plink1.9 ``--check-sex`` on the same VCF (PAR split as GRCh38, the sheet's sex). It
computes F on non-PAR chrX with ALT frequencies from the data: a non-male call counts two
alleles, a male's homozygous call one, a male's het call none; monomorphic variants are skipped,
no MAF filter. It prints F with 4 significant digits, so each F must round to plink's printed
value (absolute difference at most 5e-5).
"""

import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.ingest.chunk import ingest_chunk
from cohortgen.ingest.plan import plan_chunks, read_plan, write_plan
from cohortgen.io.bed import read_bed, write_bed
from cohortgen.io.files import read_json, read_tsv
from cohortgen.kernels.bed import MISSING, pack_dosages, unpack_dosages
from cohortgen.qc.pruned import PruneSettings, select_pruned_set
from cohortgen.qc.sample_qc import SampleQcPaths, SampleSettings, preliminary_samples, sample_qc
from cohortgen.qc.variant_stats import SEX_CHECK_KEYS, read_sex_partials, sum_partials

BUILD = "GRCh38"
BUILD_OPTIONS = '{"genome_build": "GRCh38"}'
N = 240
N_AUTO, N_PAR, N_XNP, N_Y = 800, 60, 600, 40
GENETIC_MALE = np.arange(N) % 2 == 0
"""Genetic sex: even samples are men."""
WOMEN_AS_MEN, MEN_AS_WOMEN = [5, 17, 29], [8, 20, 32]
UNKNOWN_MAN, UNKNOWN_WOMAN = 40, 41
AMBIGUOUS_WOMAN, XXY_MAN = 51, 60
SHEET_SEX = np.where(GENETIC_MALE, 1, 2)
SHEET_SEX[WOMEN_AS_MEN], SHEET_SEX[MEN_AS_WOMEN] = 1, 2
SHEET_SEX[[UNKNOWN_MAN, UNKNOWN_WOMAN]] = 0
PLANTED = {*WOMEN_AS_MEN, *MEN_AS_WOMEN, UNKNOWN_MAN, UNKNOWN_WOMAN, AMBIGUOUS_WOMAN, XXY_MAN}

DIPLOID_GT = np.array(["0/0", "0/1", "1/1", "./."])
HAPLOID_GT = np.array(["0", "", "1", "."])
"""GT text by dosage 0/1/2, missing (index -1 = 3)."""


def sample_ids() -> list[str]:
    return [f"P{k:04d}" for k in range(N)]


def draw(rng, m: int, haploid: np.ndarray) -> np.ndarray:
    """int8 (m, N) ALT dosages, HWE for diploid samples, 0/2 where ``haploid`` (bool (N,)),
    1% missing."""
    freq = rng.uniform(0.1, 0.5, size=(m, 1))
    dosage = rng.binomial(2, np.broadcast_to(freq, (m, N))).astype(np.int8)
    dosage[:, haploid] = 2 * (rng.random((m, int(haploid.sum()))) < freq)
    dosage[rng.random((m, N)) < 0.01] = MISSING
    return dosage


def genetic_truth(rng) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per contig: (positions, dosages int8 (m, N), haploid bool (N,))."""
    x_haploid = GENETIC_MALE.copy()
    x_haploid[XXY_MAN] = False
    y_called = GENETIC_MALE.copy()
    x_np = draw(rng, N_XNP, x_haploid)
    het = x_np[:, AMBIGUOUS_WOMAN] == 1
    x_np[het & (rng.random(N_XNP) < 0.5), AMBIGUOUS_WOMAN] = 0  # chrX F near 0.5
    y = draw(rng, N_Y, np.ones(N, dtype=bool))
    y[:, ~y_called] = MISSING
    no = np.zeros(N, dtype=bool)
    return {
        "1": (100_000 + 5_000 * np.arange(N_AUTO), draw(rng, N_AUTO, no), no),
        "2": (100_000 + 5_000 * np.arange(N_AUTO), draw(rng, N_AUTO, no), no),
        "X": (np.concatenate([20_000 + 40_000 * np.arange(N_PAR),
                              3_000_000 + 10_000 * np.arange(N_XNP)]),
              np.concatenate([draw(rng, N_PAR, no), x_np]),
              x_haploid),
        "Y": (3_000_000 + 10_000 * np.arange(N_Y), y, np.ones(N, dtype=bool)),
    }


def vcf_lines(contig: str, pos: np.ndarray, dosage: np.ndarray, haploid: np.ndarray) -> list:
    """Record lines; haploid samples get haploid GTs except in chrX's PAR1."""
    rows = []
    for p, row in zip(pos, dosage, strict=True):
        hap = haploid & (contig != "X" or p > 2_781_479)
        cells = np.where(hap, HAPLOID_GT[row], DIPLOID_GT[row])
        rows.append("\t".join([contig, str(p), f"{contig}_{p}", "G", "A", ".", "PASS", ".",
                               "GT", *cells]))
    return rows


def write_vcf(path: Path, truth: dict) -> Path:
    header = ["##fileformat=VCFv4.2",
              *[f"##contig=<ID={c},length=160000000>" for c in truth],
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                         "FORMAT", *sample_ids()])]
    body = [line for contig, values in truth.items() for line in vcf_lines(contig, *values)]
    path.write_text("\n".join(header + body) + "\n")
    import pysam

    return Path(pysam.tabix_index(str(path), preset="vcf", force=True))


def write_sheet(path: Path, rng) -> Path:
    sheet = pd.DataFrame({"sample_id": sample_ids(),
                          "sex": np.where(SHEET_SEX == 0, "NA", SHEET_SEX.astype(str)),
                          "age": rng.integers(30, 80, N),
                          "hypertension": rng.integers(0, 2, N)})
    sheet.to_csv(path, sep="\t", index=False)
    return path


def run_cli(*args) -> None:
    assert main([str(a) for a in args]) == 0


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict:
    """The planted cohort through ingest, variant stats and sample QC (default settings)."""
    root = tmp_path_factory.mktemp("sexcheck")
    rng = np.random.default_rng(111)
    truth = genetic_truth(rng)
    vcf = write_vcf(root / "cohort.vcf", truth)
    sheet = write_sheet(root / "pheno.tsv", rng)
    plan = root / "plan.tsv"
    write_plan(plan_chunks(str(vcf), 100_000), plan)
    chunks = read_plan(plan)
    for chunk in chunks["chunk_id"]:
        out = root / chunk
        out.mkdir()
        run_cli("ingest", "--genotypes", vcf, "--plan", plan, "--chunk", chunk, "--out-prefix",
                out / "genotypes", "--tally", out / "ingest.json", "--phenotypes", sheet,
                "--options", BUILD_OPTIONS, "--sex-partials", out / "sex_partials.npz")
        run_cli("variant-stats", "--bfile", out / "genotypes", "--phenotypes", sheet,
                "--options", BUILD_OPTIONS, "--sample-partials", out / "sample_partials.npz",
                "--sex-partials", out / "sex_partials.npz")
    dirs = {contig: root / chunk for contig, chunk in zip(chunks["contig"], chunks["chunk_id"],
                                                          strict=True)}
    prefixes = [d / "genotypes" for d in dirs.values()]
    partials = [d / "sample_partials.npz" for d in dirs.values()]
    fam = root / chunks["chunk_id"].iloc[0] / "genotypes.fam"
    prelim = preliminary_samples(fam, partials, sheet, 0.95)
    select_pruned_set(prefixes, prelim, PruneSettings(genome_build=BUILD), root / "pruned",
                      root / "pruned.json")
    out = SampleQcPaths(*(root / name for name in
                          ("samples.tsv", "keep.txt", "pairs.tsv", "pcs.tsv", "pca.json")))
    sample_qc(fam, partials, sheet, ["hypertension"], ["age", "sex"], root / "pruned",
              SampleSettings(), out)
    table = read_tsv(out.samples_tsv, dtype={"sample_id": str, "reason": str})
    return {"root": root, "vcf": vcf, "sheet": sheet, "truth": truth, "dirs": dirs,
            "table": table.fillna({"reason": ""})}


def test_sample_qc__sheet_sex_errors_in_both_directions_are_caught(cohort):
    table = cohort["table"]
    mismatch = np.flatnonzero(table["reason"] == "sex_mismatch").tolist()
    assert mismatch == sorted(WOMEN_AS_MEN + MEN_AS_WOMEN)
    assert np.flatnonzero(table["sex_mismatch"]).tolist() == mismatch
    assert table.loc[WOMEN_AS_MEN, "x_f"].max() < 0.2  # their het calls were seen
    assert table.loc[MEN_AS_WOMEN, "x_f"].min() > 0.8
    assert np.flatnonzero(table["sex_ambiguous"]).tolist() == [AMBIGUOUS_WOMAN, XXY_MAN]
    assert table.loc[[AMBIGUOUS_WOMAN, XXY_MAN], "keep"].all()  # flagged, kept by default
    assert 0.3 < table.loc[AMBIGUOUS_WOMAN, "x_f"] < 0.7
    assert table.loc[XXY_MAN, "x_f"] < 0.2
    assert table.loc[XXY_MAN, "y_call_rate"] > 0.9
    unknown = table.loc[[UNKNOWN_MAN, UNKNOWN_WOMAN]]
    assert unknown["genetic_sex"].tolist() == [1, 2]
    assert not unknown[["sex_mismatch", "sex_ambiguous"]].to_numpy().any()
    assert (unknown["reason"] != "sex_mismatch").all()


def test_sample_qc__no_false_sex_calls(cohort):
    table = cohort["table"]
    others = table.drop(index=sorted(PLANTED))
    assert not others[["sex_mismatch", "sex_ambiguous"]].to_numpy().any()
    assert (others["genetic_sex"] == others["sheet_sex"]).all()
    f = others["x_f"]
    assert f[others["sheet_sex"] == 2].max() < 0.2
    assert f[others["sheet_sex"] == 1].min() > 0.99
    men = table.index[GENETIC_MALE]  # chrY call rates of the calls as they came in
    assert table.loc[men, "y_call_rate"].min() > 0.9
    assert table.loc[table.index[~GENETIC_MALE], "y_call_rate"].max() == 0


def naive_chrx_f(dosage: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """plink1.9 --check-sex F per sample from ALT dosages (m, n) of the input (module doc)."""
    called = dosage != MISSING
    male = (sex == 1)[None, :]
    male_hom = called & male & (dosage != 1)
    other = called & ~male
    alt = np.where(other, dosage, 0).sum(axis=1) + np.where(male_hom, dosage // 2, 0).sum(axis=1)
    p = alt / (2 * other.sum(axis=1) + male_hom.sum(axis=1))
    use = called & ((p > 0) & (p < 1))[:, None]
    e_hom = np.where(use, (1 - 2 * p * (1 - p))[:, None], 0).sum(axis=0)
    o_hom = (use & (dosage != 1)).sum(axis=0)
    return (o_hom - e_hom) / (use.sum(axis=0) - e_hom)


def test_sex_check__f_is_the_input_calls_f(cohort):
    pos, dosage, _ = cohort["truth"]["X"]
    f = naive_chrx_f(dosage[pos > 2_781_479], SHEET_SEX)
    np.testing.assert_allclose(cohort["table"]["x_f"], f, rtol=1e-9, atol=1e-12)  # %.10g


@pytest.mark.reference
def test_sex_check__matches_plink19_check_sex_on_the_input(cohort, plink19):
    root = cohort["root"]
    update = root / "sex.txt"
    update.write_text("".join(f"{s}\t{s}\t{x}\n" for s, x in zip(sample_ids(), SHEET_SEX,
                                                                 strict=True)))
    for args in (["--vcf", cohort["vcf"], "--split-x", "b38", "--update-sex", update,
                  "--make-bed"], ["--bfile", root / "ref", "--check-sex"]):
        subprocess.run([plink19, *map(str, args), "--out", str(root / "ref")], check=True,
                       capture_output=True)
    ref = pd.read_csv(root / "ref.sexcheck", sep=r"\s+", dtype={"IID": str})
    table = cohort["table"]
    assert ref["IID"].tolist() == table["sample_id"].tolist()
    got, expected = table["x_f"].to_numpy(), ref["F"].to_numpy(float)
    printed = np.array([float(f"{value:.4g}") for value in got])
    np.testing.assert_array_equal(printed, expected)  # every printed digit
    assert np.abs(got - expected).max() <= 5e-5
    slope, intercept = np.polyfit(got, expected, 1)
    assert abs(slope - 1) < 1e-4
    assert abs(intercept) < 1e-4
    np.testing.assert_array_equal(table["genetic_sex"], ref["SNPSEX"])
    problem = (ref["STATUS"] == "PROBLEM").to_numpy() & (SHEET_SEX > 0)
    np.testing.assert_array_equal(table["sex_mismatch"] | table["sex_ambiguous"], problem)


def test_ingest_chunk__ploidy_applied_downstream_and_sums_private(cohort):
    x_dir, y_dir = cohort["dirs"]["X"], cohort["dirs"]["Y"]
    packed, bim, fam = read_bed(x_dir / "genotypes")
    non_par = bim["pos"].to_numpy() > 2_781_479
    dosage = unpack_dosages(packed, N)[non_par]
    assert not (dosage[:, SHEET_SEX == 1] == 1).any()  # sheet males' hets set missing
    assert (dosage[:, WOMEN_AS_MEN] == MISSING).mean() > 0.3
    assert fam["sex"].tolist() == SHEET_SEX.tolist()
    tally = read_json(x_dir / "ingest.json")
    assert tally["genotypes_changed"]["het_haploid_set_missing"] > 0
    y_packed, _, _ = read_bed(y_dir / "genotypes")
    assert (unpack_dosages(y_packed, N)[:, SHEET_SEX == 2] == MISSING).all()
    for directory in cohort["dirs"].values():
        mode = (directory / "sex_partials.npz").stat().st_mode
        assert stat.S_IMODE(mode) == 0o600
        assert stat.S_IMODE((directory / "sample_partials.npz").stat().st_mode) == 0o600
    sums = sum_partials([d / "sex_partials.npz" for d in cohort["dirs"].values()])
    assert sums["y_variants"].tolist() == [N_Y] * N
    assert sums["x_n_called"].min() > 0.9 * N_XNP


def test_ingest_chunk__plink_input_gives_the_vcf_sums(cohort, tmp_path):
    """The same calls as a PLINK fileset (chrX and Y rows, unaltered) give the same sums."""
    rows = [(contig, *cohort["truth"][contig][:2]) for contig in ("X", "Y")]
    bim = pd.DataFrame({"chrom": [c for c, pos, _ in rows for _ in pos],
                        "id": [f"{c}_{p}" for c, pos, _ in rows for p in pos], "cm": 0.0,
                        "pos": np.concatenate([pos for _, pos, _ in rows]), "a1": "A", "a2": "G"})
    ids = sample_ids()
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": "-9"})
    write_bed(tmp_path / "raw", pack_dosages(np.concatenate([d for _, _, d in rows])), bim, fam)
    for contig in ("X", "Y"):
        npz = tmp_path / f"{contig}.npz"
        ingest_chunk(str(tmp_path / "raw"), contig, 1, 160_000_000, tmp_path / contig,
                     tmp_path / f"{contig}.json", phenotypes=cohort["sheet"],
                     sex_partials_npz=npz)
        got = read_sex_partials(npz, N)
        want = read_sex_partials(cohort["dirs"][contig] / "sex_partials.npz", N)
        for key in SEX_CHECK_KEYS:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=0)


def test_variant_stats__sex_sums_of_other_samples_are_refused(cohort, tmp_path):
    x_dir = cohort["dirs"]["X"]
    wrong = tmp_path / "wrong.npz"
    with np.load(x_dir / "sex_partials.npz") as part:
        np.savez(wrong, **{key: part[key][:-1] for key in part.files})
    status = main(["variant-stats", "--bfile", str(x_dir / "genotypes"), "--phenotypes",
                   str(cohort["sheet"]), "--options", BUILD_OPTIONS,
                   "--sample-partials", str(tmp_path / "p.npz"),
                   "--sex-partials", str(wrong)])
    assert status == 2
    with pytest.raises(InputError, match=f"{wrong}: not the sex-check sums of this chunk's {N}"):
        read_sex_partials(wrong, N)


def test_ingest__autosomal_chunk_sums_nothing_and_skips_pandas(cohort, tmp_path):
    """An autosomal chunk writes sex-check sums with no array (read as zeros), importing no
    pandas for it (the start-up cost of every chunk job)."""
    plan = cohort["root"] / "plan.tsv"
    chunk = cohort["dirs"]["1"].name
    out, npz = tmp_path / "auto", tmp_path / "auto.npz"
    script = (
        "import sys\nfrom cohortgen.cli import main\n"
        f"status = main(['ingest', '--genotypes', {str(cohort['vcf'])!r}, '--plan', "
        f"{str(plan)!r}, '--chunk', {chunk!r}, '--out-prefix', {str(out)!r}, '--tally', "
        f"{f'{out}.json'!r}, '--sex-partials', {str(npz)!r}])\n"
        "print(status, 'pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["0", "False"]
    assert stat.S_IMODE(npz.stat().st_mode) == 0o600
    with np.load(npz) as part:
        assert part.files == []
    zeros = read_sex_partials(npz, N)
    assert sorted(zeros) == sorted(SEX_CHECK_KEYS)
    assert not any(values.any() for values in zeros.values())
