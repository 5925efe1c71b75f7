"""GWAS-SSF row formatting (vectorised) against a plain per-row, per-value Python twin."""

import math

import numpy as np
import pandas as pd
import pytest

from cohortgen.errors import InputError
from cohortgen.io.sumstats import (
    FLOAT_COLUMNS,
    GWAS_SSF_COLUMNS,
    INT_COLUMNS,
    NA,
    format_gwas_ssf_rows,
)

CODES = {**{str(i): i for i in range(1, 23)}, "X": 23, "Y": 24, "MT": 25, "M": 25, "23": 23}


def naive_rows(table: pd.DataFrame) -> list[str]:
    """The module docstring's formats written value by value: sort by (code, position, id)."""

    def code(name) -> int:
        text = str(name).strip()
        return CODES[text[3:].upper() if text.lower().startswith("chr") else text.upper()]

    def text(name, value) -> str:
        if name == "chromosome":
            return str(code(value))
        if name not in table.columns or pd.isna(value):
            return NA
        if name == "p_value":
            return f"{value:.4e}" if math.isfinite(value) else NA
        if name in FLOAT_COLUMNS:
            return f"{value:.6g}" if math.isfinite(value) else NA
        if name in INT_COLUMNS:
            return str(int(value))
        return str(value)

    records = table.to_dict("records")
    records.sort(key=lambda r: (code(r["chromosome"]), int(r["base_pair_location"]),
                                "" if pd.isna(r.get("variant_id")) else str(r["variant_id"])))
    return ["\t".join(text(name, r.get(name)) for name in GWAS_SSF_COLUMNS) for r in records]


def hard_table(n: int, seed: int) -> pd.DataFrame:
    """Random rows plus values at formatting edges: ties, ±0, non-finite, tiny, huge, NA."""
    rng = np.random.default_rng(seed)
    edges = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1e-300, 1.7976931348623157e308,
             1234565.0, 0.5, 2.5, 9.999995, 999999.5, 1e-5, 9.99995e-5, 0.0001, 123456.0]
    floats = np.concatenate([edges, rng.normal(size=n) * 10.0 ** rng.integers(-12, 8, n)])
    m = len(floats)
    return pd.DataFrame({
        "chromosome": rng.choice(["1", "chr2", "X", "chrX", " 23", "MT", "chrM", "10"], m),
        "base_pair_location": rng.integers(1, 50, m),
        "effect_allele": rng.choice(["A", "AT", "G"], m),
        "other_allele": rng.choice(["C", "T"], m),
        "beta": floats,
        "standard_error": rng.permutation(floats),
        "effect_allele_frequency": rng.random(m),
        "p_value": np.concatenate([[0.0, 1.0, 1e-300, 5e-324], rng.random(m - 4) ** 20]),
        "variant_id": np.where(rng.random(m) < 0.1, None, [f"v{i % 7}" for i in range(m)]),
        "n": np.where(rng.random(m) < 0.1, np.nan, rng.integers(0, 10**7, m)),
        "n_cases": rng.integers(0, 5000, m),
        "status": rng.choice(["OK", "FIRTH"], m),
    })


@pytest.mark.parametrize("seed", [0, 1])
def test_format_gwas_ssf_rows__byte_identical_to_naive_twin(seed):
    table = hard_table(3000, seed)
    assert format_gwas_ssf_rows(table) == naive_rows(table)


def test_format_gwas_ssf_rows__bad_values_name_column_and_row():
    table = hard_table(20, 2)
    bad_string = table.assign(status=["OK"] * 5 + ["a\tb"] + ["OK"] * (len(table) - 6))
    with pytest.raises(InputError, match="'status'.*table index 5"):
        format_gwas_ssf_rows(bad_string)
    bad_chrom = table.assign(chromosome=["1"] * 3 + ["chrQ"] + ["1"] * (len(table) - 4))
    with pytest.raises(InputError, match="'chrQ' in row 4"):
        format_gwas_ssf_rows(bad_chrom)
