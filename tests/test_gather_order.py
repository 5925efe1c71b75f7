"""``gather-gwas`` puts a trait's chunk tables in genome order before streaming them
(:func:`~cohortgen.assoc.gather.chunk_groups`): contigs listed chr10 before chr2, or in PLINK's
X, Y, XY order (GWAS-SSF writes XY as 23, before Y = 24), still stream one chunk at a time;
only chunks whose key ranges overlap are read together. The files are the bytes of the whole
table of the chunks in genome order."""

import sys

import pytest
from test_gather_stream import NULL, file_bytes, peak_growth_mb, whole_table_files, write_chunks

from cohortgen.assoc.gather import chunk_groups, chunk_key_range, gather_gwas
from cohortgen.io.files import write_json

CHR10_BEFORE_CHR2 = [
    ("chr10", [500, 100, 300], ["AG", "CT", "GA"]),
    ("chr2", [700, 900], ["AG", "TC"]),
    ("chr1", [50, 60, 40], ["AG", "A1", "CT"]),  # a non-nucleotide allele: untested
]
PLINK_SEX_CONTIGS = [  # PLINK's order X, Y, XY; XY (pseudo-autosomal, 23) sorts before Y (24)
    ("X", [3_000_000, 2_800_000], ["AG", "CT"]),
    ("Y", [2_900_000, 3_100_000], ["AG", "GA"]),
    ("XY", [70_000, 2_600_000], ["TC", "AG"]),  # PAR1, before the X chunk's first row
]
OVERLAPPING = [
    ("1", [100, 900], ["AG", "CT"]),
    ("1", [1500, 1700], ["AG", "GA"]),
    ("1", [500, 1200], ["TC", "AG"]),  # between the rows of the first chunk
    ("2", [10, 20], ["AG", "CT"]),
]


def gathered(tmp_path, monkeypatch, capsys, chunks) -> tuple[list, list, str]:
    """(the chunk tables as written, the groups gather-gwas writes, its log) of ``chunks``
    given in that order; the gathered files are checked against the whole table's bytes."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_json(tmp_path / "null.json", NULL)
    paths = write_chunks(tmp_path, "d", False, chunks)
    groups = chunk_groups(paths, "d")
    genome_order = [p for group in groups for p in group]
    whole_table_files("d", genome_order, tmp_path / "null.json", tmp_path / "whole.tsv.gz")
    gather_gwas("d", paths, tmp_path / "null.json", "GRCh38", tmp_path / "s.tsv.gz",
                imputed_qc={"min_r2": 0.3, "r2_source": "info"})
    assert file_bytes(tmp_path / "s.tsv.gz") == [
        b.replace(b"whole.tsv.gz", b"s.tsv.gz") for b in file_bytes(tmp_path / "whole.tsv.gz")]
    return paths, groups, capsys.readouterr().err


def test_gather_gwas__chr10_before_chr2_streams_in_genome_order(tmp_path, monkeypatch, capsys):
    paths, groups, log = gathered(tmp_path, monkeypatch, capsys, CHR10_BEFORE_CHR2)
    assert groups == [[paths[2]], [paths[1]], [paths[0]]]
    assert "gathered at once" not in log


def test_gather_gwas__plink_x_y_xy_order_streams_xy_before_y(tmp_path, monkeypatch, capsys):
    paths, groups, log = gathered(tmp_path, monkeypatch, capsys, PLINK_SEX_CONTIGS)
    assert groups == [[paths[2]], [paths[0]], [paths[1]]]
    assert "gathered at once" not in log


def test_gather_gwas__overlapping_chunks_are_gathered_together(tmp_path, monkeypatch, capsys):
    paths, groups, log = gathered(tmp_path, monkeypatch, capsys, OVERLAPPING)
    assert groups == [[paths[0], paths[2]], [paths[1]], [paths[3]]]
    assert "2 chunk tables overlap" in log


def test_chunk_key_range__first_and_last_gwas_ssf_keys(tmp_path):
    paths = write_chunks(tmp_path, "d", False, [*PLINK_SEX_CONTIGS, ("1", [], [])])
    assert chunk_key_range(paths[2], "d") == ((23, 70_000, "23_70000_C_T"),
                                              (23, 2_600_000, "23_2600000_G_A"))
    assert chunk_key_range(paths[3], "d") is None
    ties = write_chunks(tmp_path / "ties", "d", False,
                        [("1", [300, 100, 300, 100], ["AG", "TC", "CT", "AG"])])
    assert chunk_key_range(ties[0], "d") == ((1, 100, "1_100_C_T"), (1, 300, "1_300_T_C"))


def test_gather_gwas__chunks_meeting_at_one_position(tmp_path, monkeypatch, capsys):
    """Two chunks sharing position 300: apart when the variant IDs there follow each other
    (1_300_C_T then 1_300_G_A), together when they interleave (1_300_T_C, then 1_300_G_A)."""
    apart = [("1", [300, 400], ["AG", "CT"]), ("1", [100, 300], ["AG", "TC"])]
    paths, groups, _ = gathered(tmp_path / "apart", monkeypatch, capsys, apart)
    assert groups == [[paths[1]], [paths[0]]]
    interleaved = [("1", [300, 400], ["AG", "CT"]), ("1", [100, 300], ["AG", "CT"])]
    paths, groups, log = gathered(tmp_path / "interleaved", monkeypatch, capsys, interleaved)
    assert groups == [[paths[1], paths[0]]]
    assert "2 chunk tables overlap" in log


@pytest.mark.parametrize("empty", [1, 3])
def test_chunk_groups__chunks_without_rows(tmp_path, empty):
    """Chunks without rows are left out; one is kept when all are (it gives the columns)."""
    paths = write_chunks(tmp_path, "d", False, [("1", [], [])] * empty)
    assert chunk_groups(paths, "d") == [[paths[0]]]
    assert chunk_groups([], "d") == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_gather_gwas__chunks_listed_backwards_peak_at_one_chunk(tmp_path):
    """30 chunks of 3,000 rows listed last to first, after 2 of them: streamed in genome order,
    the peak stays one chunk's (the whole table would add about 150 MiB)."""
    rows, n_chunks = 3000, 30
    write_json(tmp_path / "null.json", NULL)
    chunks = [("1", list(range(1 + k * rows, 1 + (k + 1) * rows)),
               ["AG", "CT", "GA"] * (rows // 3)) for k in range(n_chunks)]
    paths = write_chunks(tmp_path, "d", True, chunks)[::-1]
    growth = peak_growth_mb(tmp_path, "d", paths[:2], paths)
    assert growth < 25, f"peak grew {growth:.1f} MiB gathering {n_chunks} chunks after 2"
