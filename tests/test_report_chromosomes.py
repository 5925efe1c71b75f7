"""The report keeps the chromosome of every GWAS-SSF row as a categorical (a byte a row, no
string a row) from reading through the Manhattan figure, which names the categories only: the
figures are those of the chromosome names as strings."""

import numpy as np
import pandas as pd
import pytest
from test_trait_memory import gwas_table

import cohortgen.io.sumstats as sumstats
from cohortgen.io.files import write_tsv_bgzip
from cohortgen.io.sumstats import read_gwas_ssf, untested_path_for, write_gwas_ssf
from cohortgen.report.plots import chromosome_ranks, genome_positions, manhattan_figure
from cohortgen.report.stage import association_context

ROWS = 3_000


@pytest.fixture(scope="module")
def gwas_dir(tmp_path_factory):
    """A GWAS-SSF file ``d.tsv.gz`` of :data:`ROWS` rows on chromosomes 1-22 and X (23), with
    its (empty) untested table and a loci file of two leads, one on X."""
    root = tmp_path_factory.mktemp("report_chromosomes")
    table = gwas_table(ROWS, 11)
    table["chromosome"] = np.sort(np.random.default_rng(2).integers(1, 24, ROWS)).astype(str)
    table.loc[[5, ROWS - 5], "p_value"] = [1e-9, 1e-12]
    write_gwas_ssf(root / "d.tsv.gz", table, {"genome_assembly": "GRCh38"})
    write_tsv_bgzip(untested_path_for(root / "d.tsv.gz"), pd.DataFrame(columns=["reason"]))
    leads = table.loc[[5, ROWS - 5], ["chromosome", "base_pair_location", "effect_allele",
                                      "other_allele", "p_value", "beta", "standard_error"]]
    leads.to_csv(root / "d.loci.tsv", sep="\t", index=False)
    return root


@pytest.mark.parametrize("block_rows", [None, 500])
def test_read_gwas_ssf__categorical_chromosome_is_the_string_column(gwas_dir, monkeypatch,
                                                                    block_rows):
    """Read whole or in blocks of 500 rows (each with its own categories) with a row filter:
    the categorical's values are the strings read without it."""
    if block_rows:
        monkeypatch.setattr(sumstats, "READ_CHUNK_ROWS", block_rows)
    keep = (lambda b: b["p_value"].to_numpy(float) < 0.5) if block_rows else None
    columns = ("chromosome", "p_value")
    coded = read_gwas_ssf(gwas_dir / "d.tsv.gz", columns, keep, categorical=("chromosome",))
    text = read_gwas_ssf(gwas_dir / "d.tsv.gz", columns, keep)
    assert isinstance(coded["chromosome"].dtype, pd.CategoricalDtype)
    assert coded["chromosome"].astype(str).tolist() == text["chromosome"].tolist()
    assert 0 < len(coded) <= ROWS


def test_association_context__chromosomes_a_byte_a_row(gwas_dir):
    """The figures' chromosome array holds codes (1 byte a row) into 23 names, not a string
    (or a pointer to one) a row."""
    row = pd.Series({"disease": "d", "status": "OK", "lambda_gc": 1.0, "n_genome_wide": 2,
                     "n_suggestive": 2})
    context = association_context(row, gwas_dir / "d.tsv.gz", gwas_dir / "d.loci.tsv")
    chrom = context["chrom"]
    assert isinstance(chrom, pd.Categorical)
    assert len(chrom) == ROWS
    assert len(chrom.categories) == 23
    assert pd.Series(chrom).memory_usage(deep=True, index=False) < 2 * ROWS


def test_manhattan_figure__categorical_chromosomes_draw_the_string_figure(gwas_dir):
    """The same figure (points, ticks, labels) from the categorical as from the names as
    strings, with a chromosome whose points all have a missing p (left out of the axis) and an
    unused category."""
    table = read_gwas_ssf(gwas_dir / "d.tsv.gz", ("chromosome", "base_pair_location",
                                                  "p_value"), categorical=("chromosome",))
    p = table["p_value"].to_numpy(float, copy=True)
    p[(table["chromosome"] == "7").to_numpy()] = np.nan
    chrom = table["chromosome"].array.add_categories(["25"])
    pos = table["base_pair_location"].to_numpy()
    labelled = [("X", int(pos[-5]), "GENE1"), ("1", int(pos[5]), "1:5")]
    coded = manhattan_figure(chrom, pos, p, "m", labelled=labelled)
    text = manhattan_figure(np.asarray(chrom).astype(str), pos, p, "m", labelled=labelled)
    assert coded.to_json() == text.to_json()
    assert "7" not in coded.layout.xaxis.ticktext
    assert [a.text for a in coded.layout.annotations if a.text in ("GENE1", "1:5")] == [
        "GENE1", "1:5"]


def test_chromosome_ranks__names_in_natural_order():
    """Ranks of names given as GWAS-SSF codes, ``chr`` names or X, as a categorical or str."""
    names = np.array(["23", "chr2", "10", "2", "X", "1", "MT"])
    index, order = chromosome_ranks(names)
    assert order == ["1", "2", "10", "X", "MT"]
    assert index.tolist() == [3, 1, 2, 1, 3, 0, 4]
    coded_index, coded_order = chromosome_ranks(pd.Categorical(names))
    assert coded_order == order
    assert coded_index.tolist() == index.tolist()
    x, *_ = genome_positions(pd.Categorical(names), np.arange(1, 8))
    np.testing.assert_array_equal(x, genome_positions(names, np.arange(1, 8))[0])
