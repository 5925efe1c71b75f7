"""The association step's variant table from a .pvar (:func:`cohortgen.io.pgen.read_pvar_table`,
:func:`cohortgen.assoc.genotypes.pgen_variants`): equal to a line-by-line parse, and a clear error
naming the line of a .pvar with too few or too many columns."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortgen.assoc.genotypes import pgen_variants
from cohortgen.errors import InputError
from cohortgen.io.pgen import read_pvar_table

PVAR = ("##fileformat=PLINKv2.0\n##INFO=<ID=R2,Number=1,Type=Float,Description=\"r2\">\n"
        "#CHROM\tPOS\tID\tREF\tALT\tINFO\n"
        "1\t5\trs1\tA\tC\tR2=0.5\n"
        "1\t6\t1:6:A:G\tA\tG\tR2=1.4;TYPED\n"
        "2\t7\trs3\tAT\tG\t.\n"
        "X\t8\trs4\tA\tG\tTYPED=1;R2=\n"
        "X\t9\trs5\tA\tG\tXTYPED;AR2=0.3;R2=0.25\n"
        "MT\t10\trs6\tA\tG\tAF=0.1;R2=1e-3\n")


def naive_pgen_variants(path: Path) -> pd.DataFrame:
    """pgen_variants by splitting each line and each INFO item (the test oracle)."""
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        chrom, pos, vid, ref, alt, info = line.split("\t")
        items = dict((item.split("=", 1) + [""])[:2] for item in info.split(";"))
        r2 = float(items.get("R2") or "nan")
        rows.append({"chrom": chrom, "id": vid, "pos": int(pos), "a1": alt, "a2": ref,
                     "info": min(r2, 1.0), "typed": int("TYPED" in items)})
    return pd.DataFrame(rows)


def test_pgen_variants__equal_the_line_by_line_parse(tmp_path):
    (tmp_path / "d.pvar").write_text(PVAR)
    table = pgen_variants(tmp_path / "d")
    expected = naive_pgen_variants(tmp_path / "d.pvar")
    pd.testing.assert_frame_equal(table, expected)
    assert table["chrom"].tolist() == ["1", "1", "2", "X", "X", "MT"]
    np.testing.assert_array_equal(table["typed"], [0, 1, 0, 1, 0, 0])


def test_read_pvar_table__headerless_and_empty(tmp_path):
    (tmp_path / "a.pvar").write_text("1\t5\trs1\tA\tC\n")
    assert read_pvar_table(tmp_path / "a.pvar").to_dict("records") == [
        {"CHROM": "1", "POS": "5", "ID": "rs1", "REF": "A", "ALT": "C"}]
    (tmp_path / "b.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n")
    assert read_pvar_table(tmp_path / "b.pvar").columns.tolist() == ["CHROM", "POS", "ID", "REF",
                                                                     "ALT"]


@pytest.mark.parametrize(("body", "line"), [("1\t5\trs1\tA\tC\tR2=1\n1\t6\trs2\tA\n", 4),
                                            ("1\t5\trs1\tA\tC\tR2=1\tEXTRA\n", 3),
                                            ("1\t5\trs1\tA\n", 3)])
def test_read_pvar_table__wrong_column_count_names_the_line(tmp_path, body, line):
    path = tmp_path / "bad.pvar"
    path.write_text("##x\n#CHROM\tPOS\tID\tREF\tALT\tINFO\n" + body)
    with pytest.raises(InputError, match=rf"bad\.pvar, line {line}: .*columns"):
        read_pvar_table(path)
