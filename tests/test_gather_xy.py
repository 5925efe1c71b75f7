"""``gather-gwas`` merges chunk tables whose rows interleave in genome order without holding the
group: PLINK's XY chunk (GWAS-SSF 23, as X) holds PAR1 and PAR2, so every chrX chunk lies
between its rows. The files are the bytes of the whole table of the chunks in genome order, and
the peak memory is the XY chunk's and one chrX chunk's, not chrX's."""

import sys

import pandas as pd
import pytest
from test_gather_order import gathered
from test_gather_stream import NULL, peak_growth_mb, write_chunks

from cohortgen.assoc.gather import merged_order, merged_parts, read_chunk_group
from cohortgen.io.files import write_json
from cohortgen.io.sumstats import gwas_ssf_variant_ids

PAR1_END, PAR2_START = 2_781_479, 155_701_383  # GRCh38
XY_AROUND_X = [  # PLINK's order: X chunks, then the XY chunk holding both PARs
    ("X", [3_000_000, 2_900_000, 60_000_000], ["AG", "CT", "GA"]),
    ("X", [90_000_000, 150_000_000], ["AG", "TC"]),
    ("XY", [PAR2_START + 10, 70_000, PAR1_END - 5, PAR2_START + 5], ["AG", "TC", "A1", "CT"]),
]
TIES_ACROSS_CHUNKS = [  # rows at one position in both chunks, variant IDs interleaving
    # 23_5000_T_C, _G_A, _A_G, then 23_5000_1_A (non-nucleotide: untested)
    ("X", [5_000, 5_000, 5_000, 9_000, 5_000], ["CT", "AG", "GA", "AG", "A1"]),
    # 23_5000_C_T, the same _G_A and _1_A as the X chunk
    ("XY", [5_000, 5_000, 100, 200_000_000, 5_000], ["TC", "AG", "AG", "AG", "A1"]),
]


def test_gather_gwas__xy_chunk_around_x_chunks_merged_in_genome_order(tmp_path, monkeypatch,
                                                                      capsys):
    """One group of the three chunks; its rows are merged (not gathered at once), in runs
    PAR1, the X chunks, PAR2; the bytes are the whole table's."""
    paths, groups, log = gathered(tmp_path, monkeypatch, capsys, XY_AROUND_X)
    assert groups == [[paths[2], paths[0], paths[1]]]
    assert "3 chunk tables overlap" in log
    assert "gathered at once" not in log
    chunk, row = merged_order(groups[0], "d")
    assert chunk.tolist() == [0, 0, 1, 1, 1, 2, 2, 0, 0]
    assert row.tolist() == [1, 2, 1, 0, 2, 0, 1, 3, 0]


def test_gather_gwas__ties_across_merged_chunks(tmp_path, monkeypatch, capsys):
    """Rows sharing a position in two chunks (two variants in both, one of them untested) are
    ordered by their GWAS-SSF variant IDs, a variant in both chunks in the order of the group:
    the whole table's bytes, untested table included."""
    paths, groups, log = gathered(tmp_path, monkeypatch, capsys, TIES_ACROSS_CHUNKS)
    assert groups == [[paths[1], paths[0]]]
    assert "gathered at once" not in log
    chunk, row = merged_order(groups[0], "d")
    assert list(zip(chunk.tolist(), row.tolist(), strict=True)) == [
        (0, 2), (0, 4), (1, 4), (1, 2), (0, 0), (0, 1), (1, 1), (1, 0), (1, 3), (0, 3)]


@pytest.mark.parametrize("min_rows", [1, 3, 1000])
def test_merged_parts__rows_of_the_group_sorted(tmp_path, min_rows):
    """Two chunks whose rows alternate: the parts (of at least ``min_rows`` rows but the last)
    joined are the group's rows sorted stably by (chromosome, position, variant ID)."""
    chunks = [("1", [10, 30, 50, 50, 70], ["AG", "AG", "CT", "AG", "AG"]),
              ("1", [20, 40, 50, 60, 80, 90], ["AG", "AG", "GA", "AG", "AG", "AG"])]
    paths = write_chunks(tmp_path, "d", False, chunks)
    parts = list(merged_parts(paths, "d", min_rows))
    assert all(len(part) >= min_rows for part in parts[:-1])
    whole = read_chunk_group(paths, "d")
    key = pd.DataFrame({"position": whole["base_pair_location"], "id": gwas_ssf_variant_ids(
        whole["chromosome"], whole["base_pair_location"], whole["effect_allele"],
        whole["other_allele"]).tolist()})
    expected = whole.iloc[key.sort_values(["position", "id"], kind="stable").index]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True),
                                  expected.reset_index(drop=True))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_gather_gwas__xy_chunk_around_x_chunks_peaks_at_two_chunks(tmp_path):
    """An XY chunk of 3,000 rows (PAR1 and PAR2) around 30 chrX chunks of 3,000 rows, after
    the XY chunk and 2 chrX chunks: merged, the peak grows by less than 25 MiB; gathering the
    group at once took about 1.7 kB per row (~150 MiB here)."""
    rows, n_chunks = 3000, 30
    write_json(tmp_path / "null.json", NULL)
    start = PAR1_END + 1
    chunks = [("X", list(range(start + k * rows, start + (k + 1) * rows)),
               ["AG", "CT", "GA"] * (rows // 3)) for k in range(n_chunks)]
    par = [*range(10_001, 10_001 + rows // 2), *range(PAR2_START, PAR2_START + rows // 2)]
    paths = write_chunks(tmp_path, "d", True, [*chunks, ("XY", par, ["AG", "TC"] * (rows // 2))])
    growth = peak_growth_mb(tmp_path, "d", [paths[-1], *paths[:2]], paths)
    assert growth < 25, f"peak grew {growth:.1f} MiB merging an XY chunk with {n_chunks} X chunks"
