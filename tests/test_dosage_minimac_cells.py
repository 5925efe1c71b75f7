"""The text reader's fixed-layout path for Minimac4's ``GT:DS:GP`` cells
(``a/b:d.ddd:d.ddd,d.ddd,d.ddd``, every byte at a constant offset, no float parse) takes only
cells the general path stores with the same value, and leaves every other cell (an error, a
missing value, another layout) to it: each error planted in such a cell and in a general one
gives the rules' error (the cyvcf2 reader's), at the start, middle and end of a line."""

import numpy as np
import pytest
from test_dosage import SAMPLES
from test_dosage_gp_thousandths import HEADER, outcome
from test_dosage_vcf_fast import vcf_of

from cohortgen.kernels.dosage_text import _minimac_cell, _thousandths_table

GOOD = "0/1:1.000:0.250,0.500,0.250"

FAST = ["0/1:1.000:0.250,0.500,0.250", "0|0:0.000:1.000,0.000,0.000",
        "1|1:2.000:0.000,0.000,1.000", "0/1:1.019:0.250,0.500,0.250",
        "0/1:0.981:0.250,0.500,0.250", "0/0:0.123:0.890,0.097,0.013",
        "1/0:1.999:0.000,0.001,0.999"]
"""Cells the fixed-layout path takes (DS within 0.019 of the GP dosage)."""

ERRORS = {
    "ds_range": ("1/1:2.001:0.000,0.000,1.000", "1/1:2.1:0,0,1"),
    "gp_sum": ("0/1:1.000:0.300,0.500,0.300", "0/1:1:0.3,0.5,0.3"),
    "gp_sum_low": ("0/1:1.000:0.200,0.500,0.200", "0/1:1.0:0.2,0.5,0.2"),
    "gp_above_1": ("0/0:0.000:1.500,0.000,0.000", "0/0:0:1.5,0,0"),
    "ds_vs_gp": ("0/1:1.500:0.250,0.500,0.250", "0/1:1.5:0.25,0.5,0.25"),
    "ds_vs_gp_low": ("0/1:0.500:0.250,0.500,0.250", "0/1:0.5:0.25,0.5,0.25"),
    "ds_vs_gp_limit": ("0/1:1.021:0.250,0.500,0.250", "0/1:1.0205:0.25,0.5,0.25"),
}
"""Per error, a cell in the fixed layout and a general one."""

NOT_NUMBERS = ["0/1:1.0x0:0.250,0.500,0.250", "0/1:1.000:0.2a0,0.500,0.250",
               "0/1:1.000:0.250,0.500,0.25:", "a/1:1.000:0.250,0.500,0.250",
               "0-1:1.000:0.250,0.500,0.250"]
"""Fixed-layout cells with a byte out of place, for the cell test only (the cyvcf2
reader crashes on them: htslib refuses the character, then the process segfaults)."""

OTHERS = ["./.:.:.", "./.:1.000:0.250,0.500,0.250", "0/1:.:0.250,0.500,0.250",
          "0/1:1.000:.", "0/1:1.020:0.250,0.500,0.250", "0/1:0.980:0.250,0.500,0.250",
          "0/1:1:0.25,0.5,0.25", "0/1:1.0000:0.250,0.500,0.250", "0/1:1.000:0.250,0.500,0.2500",
          "10/1:1.000:0.250,0.500,0.250", "0/1:1.000:0.250,0.500,0.250,0.000",
          "0:0.000:1.000,0.000", "0/1/1:1.000:0.250,0.500,0.250"]
"""Valid or invalid cells the fixed-layout path leaves to the general one (missing values,
the 0.02 limit itself, other widths, GT other than two one-digit alleles)."""


def cell_result(cell: str) -> tuple[int, int]:
    """:func:`_minimac_cell` of ``cell`` alone on its line and followed by a tab."""
    alone = _minimac_cell(np.frombuffer(cell.encode(), dtype=np.uint8), 0, len(cell))
    text = np.frombuffer(f"{cell}\t{GOOD}".encode(), dtype=np.uint8)
    followed = _minimac_cell(text, 0, len(text))
    assert followed == ((-1, -1) if alone == (-1, -1) else (alone[0], len(cell)))
    return alone


@pytest.mark.parametrize("cell", FAST)
def test_minimac_cell__takes_the_fixed_layout_with_its_stored_dosage(cell):
    units, end = cell_result(cell)
    assert end == len(cell)
    ds = float(cell.split(":")[1])
    assert units == round(ds * 1000)
    assert _thousandths_table()[units] == np.float32(np.floor(ds * 16384 + 0.5) / 16384)


@pytest.mark.parametrize("cell", [fixed for fixed, _ in ERRORS.values()] + OTHERS + NOT_NUMBERS)
def test_minimac_cell__leaves_errors_and_other_cells_to_the_general_path(cell):
    assert cell_result(cell) == (-1, -1)


@pytest.mark.parametrize("where", [0, 1, 2])
@pytest.mark.parametrize("cell", FAST + [c for pair in ERRORS.values() for c in pair] + OTHERS)
def test_text_reader__fixed_layout_cells_decided_as_the_rules(tmp_path, cell, where):
    """The planted cell at the start, middle or end of the second of three records."""
    lines = [f"22\t{500 + k}\tv{k}\tA\tG\t.\tPASS\t.\tGT:DS:GP\t"
             + "\t".join(cell if (k, j) == (1, where) else GOOD for j in range(3))
             for k in range(3)]
    vcf = vcf_of(tmp_path, lines, header=HEADER, samples=SAMPLES[:3])
    text, rules = outcome(vcf, "22", "text"), outcome(vcf, "22", "htslib")
    if isinstance(rules, str):
        assert text == rules
        assert "v1" in text
    else:
        assert not isinstance(text, str), text
        np.testing.assert_array_equal(text, rules)
