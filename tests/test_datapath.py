"""The straight data path (issue #16): files paired with traits by name, MAC carried from the
chunk, no per-chunk output that nothing reads."""

import gzip

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from test_chunk_tables import write_chunk_frame
from test_report import build_test_report, write_report_inputs

from cohortgen.assoc.chunk import CHUNK_COLUMNS
from cohortgen.assoc.gather import gather_gwas, summarize_gwas
from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.genome import site_chromosome
from cohortgen.io.bed import write_bed
from cohortgen.io.files import write_json, write_tsv
from cohortgen.io.sumstats import GWAS_SUFFIX, paths_for_traits, read_gwas_ssf, write_gwas_ssf
from cohortgen.kernels.bed import pack_dosages
from cohortgen.prs.match import match_variants


def test_paths_for_traits__by_name_in_trait_order(tmp_path):
    paths = [tmp_path / "b.tsv.gz", tmp_path / "a.tsv.gz"]
    assert paths_for_traits(["a", "b"], paths, GWAS_SUFFIX) == paths[::-1]


@pytest.mark.parametrize(("traits", "names", "match"), [
    (["a", "b"], ["a.tsv.gz"], r"without a <trait>\.tsv\.gz file: \['b'\]"),
    (["a"], ["a.tsv.gz", "c.tsv.gz"], r"files of no listed trait: \[.*c\.tsv\.gz'\]"),
    (["a"], ["a.tsv.gz", "sub/a.tsv.gz"], r"sub/a\.tsv\.gz: not the only file named"),
    (["a"], ["a.loci.tsv"], r"a\.loci\.tsv: not the only file named <trait>\.tsv\.gz"),
])
def test_paths_for_traits__refuses_files_not_one_per_trait(tmp_path, traits, names, match):
    with pytest.raises(InputError, match=match):
        paths_for_traits(traits, [tmp_path / n for n in names], GWAS_SUFFIX)


def test_build_report__summary_rows_paired_with_files_by_name(tmp_path):
    """The disease's lead OR comes from its own loci file when the files come in another order
    than the summary rows (paired by position, the disease showed the trait's lead)."""
    names = write_report_inputs(tmp_path)
    loci = pd.read_csv(tmp_path / "ldl.loci.tsv", sep="\t").assign(beta=0.5)
    write_tsv(tmp_path / "ldl.loci.tsv", loci)
    html = build_test_report(tmp_path, names[::-1])
    diseases = html[:html.index('id="traits">Quantitative traits')]
    assert f">{np.exp(-0.25):.2f}<" in diseases
    assert f">{np.exp(0.5):.2f}<" not in diseases
    assert html == build_test_report(tmp_path, names)


def gwas_file(path, p_values: list[float]) -> None:
    """A GWAS-SSF file of len(p_values) variants on chromosome 1 (EAF 0.3, n 1000)."""
    m = len(p_values)
    write_gwas_ssf(path, pd.DataFrame({
        "chromosome": "1", "base_pair_location": np.arange(1, m + 1) * 100,
        "effect_allele": "A", "other_allele": "G", "beta": 0.1, "standard_error": 0.05,
        "effect_allele_frequency": 0.3, "p_value": p_values, "n": 1000}),
        {"genome_assembly": "GRCh38"})


def test_summarize_gwas__files_paired_with_traits_by_name(tmp_path):
    gwas_file(tmp_path / "d.tsv.gz", [1e-9, 0.5, 0.2])
    gwas_file(tmp_path / "e.tsv.gz", [0.3, 0.9])
    for name, lead in (("d", 1e-9), ("e", 0.3)):
        write_tsv(tmp_path / f"{name}.loci.tsv", pd.DataFrame({"p_value": [lead]}))
    write_json(tmp_path / "null.json", {"diseases": {
        name: {"status": "OK", "n_cases": 300, "n_controls": 700} for name in "de"}})
    summary = summarize_gwas(["d", "e"], [tmp_path / "e.tsv.gz", tmp_path / "d.tsv.gz"],
                             [tmp_path / "e.loci.tsv", tmp_path / "d.loci.tsv"],
                             tmp_path / "null.json", tmp_path / "summary.tsv")
    assert summary["disease"].tolist() == ["d", "e"]
    assert summary["n_variants"].tolist() == [3, 2]
    assert summary["n_genome_wide"].tolist() == [1, 0]


def test_gather_gwas__mac_is_the_chunk_count(tmp_path):
    """The GWAS-SSF ``mac`` column is the association chunk's count, not rebuilt."""
    chunk = pd.DataFrame({
        "disease": "d", "chromosome": "1", "base_pair_location": [100, 200],
        "effect_allele": "A", "other_allele": "G", "beta": 0.1, "standard_error": 0.05,
        "effect_allele_frequency": [1 - 19 / 1.4e6, 0.25], "p_value": [0.5, 0.2],
        "variant_id": ["v1", "v2"], "rsid": np.nan, "n": 700_000, "n_cases": 200_000,
        "n_controls": 500_000, "effect_allele_frequency_cases": 0.3,
        "effect_allele_frequency_controls": 0.3, "status": "OK", "mac": [19, 350_000]})
    write_chunk_frame(tmp_path / "chunk.columns", chunk[CHUNK_COLUMNS])
    write_json(tmp_path / "null.json", {"covariates": ["age"], "diseases": {
        "d": {"status": "OK", "n_cases": 200_000, "n_controls": 500_000}}})
    gather_gwas("d", [tmp_path / "chunk.columns"], tmp_path / "null.json", "GRCh38",
                tmp_path / "d.tsv.gz")
    assert read_gwas_ssf(tmp_path / "d.tsv.gz")["mac"].tolist() == [19, 350_000]


def test_summarize_gwas__mac20_filter_uses_the_chunk_mac(tmp_path):
    """With 700,000 samples a MAC of 19 on an effect allele of frequency 1 - 19 / 1.4e6 was
    rebuilt from the 6-digit frequency (0.999986) as 20, so lambda GC took in three strong
    signals of MAC 19; with the chunk's MAC they stay out (lambda against scipy)."""
    p = np.array([1e-6, 1e-6, 1e-6, 0.5, 0.3, 0.7, 0.9])
    mac = np.array([19, 19, 19, 100, 100, 20, 20])
    write_gwas_ssf(tmp_path / "d.tsv.gz", pd.DataFrame({
        "chromosome": "1", "base_pair_location": np.arange(1, 8) * 100, "effect_allele": "A",
        "other_allele": "G", "beta": 0.1, "standard_error": 0.05,
        "effect_allele_frequency": 1 - mac / 1.4e6, "p_value": p, "n": 700_000, "mac": mac}),
        {"genome_assembly": "GRCh38"})
    write_tsv(tmp_path / "d.loci.tsv", pd.DataFrame({"p_value": [1e-6]}))
    write_json(tmp_path / "null.json", {"diseases": {
        "d": {"status": "OK", "n_cases": 200_000, "n_controls": 500_000}}})
    row = summarize_gwas(["d"], [tmp_path / "d.tsv.gz"], [tmp_path / "d.loci.tsv"],
                         tmp_path / "null.json", tmp_path / "summary.tsv").iloc[0]
    assert row["n_variants_mac20"] == 4
    expected = np.median(chi2.isf(p[3:], 1)) / chi2.ppf(0.5, 1)
    assert row["lambda_gc"] == pytest.approx(expected, rel=1e-12)


def test_summarize_gwas__file_without_mac_is_stale(tmp_path):
    gwas_file(tmp_path / "d.tsv.gz", [0.5])
    lines = gzip.decompress((tmp_path / "d.tsv.gz").read_bytes()).decode().splitlines()
    assert lines[0].endswith("\tmac")  # an older cohortgen wrote no mac column
    older = "".join(line.rsplit("\t", 1)[0] + "\n" for line in lines)
    (tmp_path / "d.tsv.gz").write_bytes(gzip.compress(older.encode()))
    write_tsv(tmp_path / "d.loci.tsv", pd.DataFrame({"p_value": [0.5]}))
    write_json(tmp_path / "null.json", {"diseases": {
        "d": {"status": "OK", "n_cases": 300, "n_controls": 700}}})
    with pytest.raises(InputError, match=r"d\.tsv\.gz: no column mac; .* rerun"):
        summarize_gwas(["d"], [tmp_path / "d.tsv.gz"], [tmp_path / "d.loci.tsv"],
                       tmp_path / "null.json", tmp_path / "summary.tsv")


def test_site_chromosome__one_coding_for_every_join():
    assert [site_chromosome(c) for c in ("chr1", "X", "23", "XY", "PAR1", "25", "MT", "26")] == [
        "1", "X", "X", "X", "X", "X", "MT", "MT"]
    assert [site_chromosome(c, "gwas_ssf") for c in ("23", "24", "25", "XY")] == [
        "X", "Y", "MT", "X"]
    assert site_chromosome("chrUn_gl000220") == "chrUn_gl000220"


def test_match_variants__score_on_x_finds_the_cohort_variant_on_xy():
    """PLINK's XY (pseudo-autosomal) holds chrX positions: GWAS-SSF files put it on 23, and a
    scoring file's X line at the same position is the same site (it was ``missing``)."""
    variants = pd.DataFrame({"chrom": ["XY", "X"], "pos": [100_000, 5_000_000],
                             "ref": ["A", "C"], "alt": ["G", "T"], "alt_freq": 0.3,
                             "score_pass": True, "pass": True, "diploid": [True, False]})
    score = pd.DataFrame({"chrom": ["X", "X"], "pos": [100_000, 5_000_000],
                          "effect_allele": ["G", "T"], "other_allele": ["A", "C"],
                          "effect_allele_frequency": np.nan, "effect_type": "additive",
                          "weight": [1.0, 2.0], "line": [2, 3]})
    lines = match_variants(score, variants).lines
    assert lines["status"].tolist() == ["same", "same"]
    assert lines["variant"].tolist() == [0, 1]


def test_variant_stats__writes_the_sample_partials_only(tmp_path):
    """``cohortgen variant-stats`` writes the per-sample partial sums and no per-variant table
    (nothing read the old ``variant_stats.tsv``)."""
    ids = ["s1", "s2", "s3"]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": "-9"})
    bim = pd.DataFrame({"chrom": ["1", "X", "X"], "id": ["a", "b", "c"], "cm": 0.0,
                        "pos": [1000, 5_000_000, 6_000_000], "a1": "A", "a2": "G"})
    write_bed(tmp_path / "chunk", pack_dosages(np.array([[0, 1, 2], [1, 2, 0], [1, 0, 2]],
                                                        dtype=np.int8)), bim, fam)
    (tmp_path / "sheet.tsv").write_text("sample_id\tsex\tage\ns1\t2\t40\ns2\t1\t50\n")
    assert main(["variant-stats", "--bfile", str(tmp_path / "chunk"), "--phenotypes",
                 str(tmp_path / "sheet.tsv"), "--options", '{"genome_build": "GRCh38"}',
                 "--sample-partials", str(tmp_path / "partials.npz")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "chunk.bed", "chunk.bim", "chunk.fam", "partials.npz", "sheet.tsv"]
    with np.load(tmp_path / "partials.npz") as part:
        assert part["x_n_called"].tolist() == [2, 2, 2]
        assert part["auto_variants"].tolist() == [1, 1, 1]
