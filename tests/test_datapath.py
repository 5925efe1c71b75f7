"""The straight data path (issue #16): files paired with traits by name, MAC carried from the
chunk, no per-chunk output that nothing reads."""

import numpy as np
import pandas as pd
import pytest
from test_report import build_test_report, write_report_inputs

from cohortgen.assoc.gather import summarize_gwas
from cohortgen.errors import InputError
from cohortgen.io.files import write_json, write_tsv
from cohortgen.io.sumstats import GWAS_SUFFIX, paths_for_traits, write_gwas_ssf


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
