"""read_phenotypes: bad sheets raise InputError naming file, line, column or sample; common
encodings and layouts (BOM, CRLF, commas, leading zeros, NA) are read correctly."""

import re

import numpy as np
import pytest

from cohortgen.errors import InputError
from cohortgen.io.phenotypes import read_phenotypes

DISEASES = ["hypertension", "asthma"]
COVARIATES = ["age"]
HEADER = "sample_id\tsex\tage\thypertension\tasthma"
GOOD_ROWS = ["00123\t1\t54\t0\t1", "S2\t2\t61\t1\tNA", "S3\tNA\t\t\t0"]


def write_sheet(tmp_path, lines, name="pheno.tsv", newline="\n", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def read(path):
    return read_phenotypes(path, DISEASES, COVARIATES)


def assert_input_error(path, *fragments):
    with pytest.raises(InputError) as info:
        read(path)
    message = str(info.value)
    for fragment in (str(path), *fragments):
        assert fragment in message, message
    return message


def test_read_phenotypes__missing_column(tmp_path):
    path = write_sheet(tmp_path, ["sample_id\tsex\thypertension\tasthma", "S1\t1\t0\t0"])
    assert_input_error(path, "line 1", "age")


def test_read_phenotypes__value_outside_coding(tmp_path):
    path = write_sheet(tmp_path, [HEADER, "S1\t1\t50\t0\t0", "S2\t2\t60\t2\t0"])
    assert_input_error(path, "line 3", "'hypertension'", "'2'")


def test_read_phenotypes__sex_outside_coding(tmp_path):
    path = write_sheet(tmp_path, [HEADER, "S1\t3\t50\t0\t0"])
    message = assert_input_error(path, "line 2", "'sex'", "'3'")
    assert "female" in message


def test_read_phenotypes__duplicated_sample(tmp_path):
    path = write_sheet(tmp_path, [HEADER, "S1\t1\t50\t0\t0", "S2\t2\t60\t1\t0", "S1\t1\t50\t0\t0"])
    message = assert_input_error(path, "'S1'")
    assert re.search(r"line 4\b.*line 2\b", message), message


def test_read_phenotypes__non_utf8(tmp_path):
    path = write_sheet(
        tmp_path, [HEADER, "S1\t1\t50\t0\t0", "Jos\u00e9\t2\t60\t1\t0"], encoding="latin-1"
    )
    assert_input_error(path, "line 3", "UTF-8")


def test_read_phenotypes__non_utf8_with_cr_line_ends(tmp_path):
    path = write_sheet(
        tmp_path,
        [HEADER, "S1\t1\t50\t0\t0", "Jos\u00e9\t2\t60\t1\t0"],
        newline="\r",
        encoding="latin-1",
    )
    assert_input_error(path, "line 3", "UTF-8")


def test_read_phenotypes__non_numeric_age(tmp_path):
    path = write_sheet(tmp_path, [HEADER, "S1\t1\t50\t0\t0", "S2\t2\tfifty\t1\t0"])
    assert_input_error(path, "line 3", "'age'", "'fifty'")


def test_read_phenotypes__wrong_field_count(tmp_path):
    path = write_sheet(tmp_path, [HEADER, "S1\t1\t50\t0\t0", "S2\t2\t60\t1"])
    assert_input_error(path, "line 3", "4 fields")


def test_read_phenotypes__line_numbers_after_quoted_newline(tmp_path):
    header = HEADER.replace("\t", ",")
    path = write_sheet(
        tmp_path, [header, '"S1 with\nnote",1,50,0,0', "S2,2,60,7,0"], name="pheno.csv"
    )
    assert_input_error(path, "line 4", "'7'")


def assert_good_sheet(table):
    assert table.index.tolist() == ["00123", "S2", "S3"]
    assert table.index.name == "sample_id"
    assert list(table.columns) == ["sex", "age", *DISEASES]
    assert all(dtype == np.float64 for dtype in table.dtypes)
    expected = np.array([[1, 54, 0, 1], [2, 61, 1, np.nan], [np.nan, np.nan, np.nan, 0]])
    np.testing.assert_array_equal(table.to_numpy(), expected)


@pytest.mark.parametrize(
    ("name", "separator", "newline", "bom"),
    [
        ("plain.tsv", "\t", "\n", ""),
        ("bom.tsv", "\t", "\n", "\ufeff"),
        ("crlf.tsv", "\t", "\r\n", ""),
        ("comma.csv", ",", "\n", ""),
        ("excel.csv", ",", "\r\n", "\ufeff"),
    ],
)
def test_read_phenotypes__accepted_layouts(tmp_path, name, separator, newline, bom):
    lines = [line.replace("\t", separator) for line in [HEADER, *GOOD_ROWS]]
    lines[0] = bom + lines[0]
    assert_good_sheet(read(write_sheet(tmp_path, lines, name=name, newline=newline)))


def test_read_phenotypes__leading_zeros_stay_strings(tmp_path):
    table = read(write_sheet(tmp_path, [HEADER, "00123\t1\t50\t0\t0", "0042\t2\t60\t1\t0"]))
    assert table.index.tolist() == ["00123", "0042"]
    assert table.loc["00123", "age"] == 50


def test_read_phenotypes__na_and_empty_are_nan(tmp_path):
    table = read(write_sheet(tmp_path, [HEADER, "S1\tNA\t\tNA\t", "S2\t1\tnan\t.\t1"]))
    assert np.isnan(table.loc["S1"].to_numpy()).all()
    assert np.isnan(table.loc["S2", ["age", "hypertension"]].to_numpy()).all()


def test_read_phenotypes__codes_written_as_floats(tmp_path):
    table = read(write_sheet(tmp_path, [HEADER, "S1\t2.0\t50.5\t1.0\t0.0"]))
    np.testing.assert_array_equal(table.loc["S1"].to_numpy(), [2, 50.5, 1, 0])


def test_read_phenotypes__blank_lines_are_skipped(tmp_path):
    table = read(write_sheet(tmp_path, [HEADER, "", *GOOD_ROWS, "\t\t\t\t"]))
    assert_good_sheet(table)
