"""workflow/schemas/phenotypes.schema.yaml is the sheet's declared contract and the sheet reader
(cohortgen.io.phenotypes) its validator of record: both accept and reject the same sheets."""

from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from cohortgen.errors import InputError
from cohortgen.io.phenotypes import MISSING_TOKENS, read_phenotypes

SCHEMA = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "workflow/schemas/phenotypes.schema.yaml").read_text())
DISEASES = ["hypertension", "stroke"]
COVARIATES = ["age", "sex", "bmi"]
CATEGORICAL = ["site"]
HEADER = ["sample_id", "sex", "age", "hypertension", "stroke", "bmi", "site"]
ROWS = [["S001", "1", "54", "0", "1", "27.5", "north"],
        ["00123", "2", "61.5", "1", "NA", "", "south"],
        ["S003", "NA", ".", "", "0", "31", "NA"]]


def row_schema() -> dict:
    """The schema of a row of a sheet for the config above: its disease, numeric and
    categorical columns added as the schema's description says."""
    kinds = {**{name: "disease" for name in DISEASES}, "bmi": "number", "site": "label"}
    properties = {name: {"$ref": f"#/$defs/{kind}"} for name, kind in kinds.items()}
    return {**SCHEMA, "properties": {**SCHEMA["properties"], **properties},
            "required": [*SCHEMA["required"], "age", *kinds]}


def schema_accepts(path: Path) -> bool:
    rows = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    validator = jsonschema.Draft202012Validator(row_schema())
    return all(validator.is_valid(row) for row in rows.to_dict("records"))


def reader_accepts(path: Path) -> bool:
    try:
        read_phenotypes(path, DISEASES, COVARIATES, CATEGORICAL)
    except InputError:
        return False
    return True


def write_sheet(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("".join("\t".join(row) + "\n" for row in [header, *rows]))
    return path


def sheet_with(tmp_path: Path, column: str, value: str) -> Path:
    rows = [list(row) for row in ROWS]
    rows[1][HEADER.index(column)] = value
    return write_sheet(tmp_path / "sheet.tsv", HEADER, rows)


def test_schema__is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_schema__the_good_sheet_passes_both(tmp_path):
    path = write_sheet(tmp_path / "sheet.tsv", HEADER, ROWS)
    assert reader_accepts(path)
    assert schema_accepts(path)


CELLS = [
    # (column, value, accepted)
    *[(column, token, True) for column in ("sex", "age", "hypertension", "bmi", "site")
      for token in sorted(MISSING_TOKENS)],
    ("sample_id", "00123", True), ("sample_id", "S 2", True), ("sample_id", "", False),
    ("sample_id", " S2", False), ("sample_id", "S2 ", False),
    ("sex", "2", True), ("sex", "1.0", True), ("sex", " 2 ", True), ("sex", "02", True),
    ("sex", "0", False), ("sex", "3", False), ("sex", "12", False), ("sex", "M", False),
    ("sex", "female", False), ("sex", "1.5", False), ("sex", "NAN", False),
    ("hypertension", "1", True), ("hypertension", "1.0", True), ("hypertension", "0.0", True),
    ("hypertension", "0.", True), ("hypertension", "2", False), ("hypertension", "10", False),
    ("hypertension", "-1", False), ("hypertension", "0.5", False), ("hypertension", "yes", False),
    ("hypertension", "+", False), ("hypertension", "N/A", False),
    ("age", "61", True), ("age", "-0.5", True), ("age", "1e2", True), ("age", ".5", True),
    ("age", "sixty", False), ("age", "inf", False), ("age", "NAN", False), ("age", "1,5", False),
    ("age", "6 1", False), ("bmi", "27.", True), ("bmi", "27kg", False),
    ("site", "2", True), ("site", "site A", True),
]


@pytest.mark.parametrize(("column", "value", "accepted"), CELLS)
def test_schema_and_reader__agree_on_a_cell(tmp_path, column, value, accepted):
    path = sheet_with(tmp_path, column, value)
    assert (reader_accepts(path), schema_accepts(path)) == (accepted, accepted)


@pytest.mark.parametrize("column", ["sample_id", "sex", "age", "hypertension", "bmi", "site"])
def test_schema_and_reader__a_required_column_missing_fails_both(tmp_path, column):
    keep = [k for k, name in enumerate(HEADER) if name != column]
    path = write_sheet(tmp_path / "sheet.tsv", [HEADER[k] for k in keep],
                       [[row[k] for k in keep] for row in ROWS])
    assert (reader_accepts(path), schema_accepts(path)) == (False, False)


def test_schema__documents_every_column_kind():
    assert set(SCHEMA["$defs"]) == {"missing", "number", "disease", "label"}
    for node in [*SCHEMA["$defs"].values(), *SCHEMA["properties"].values()]:
        assert node["description"]
