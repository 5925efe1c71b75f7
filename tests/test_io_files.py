"""TSV writing: byte-identical to pandas' ``to_csv``, and the bgzip twin."""

import subprocess
import sys
import zlib

import numpy as np
import pandas as pd
import pysam
import pytest

from cohortgen.io.files import read_tsv, tsv_text, write_tsv, write_tsv_bgzip


def pandas_tsv(table: pd.DataFrame, float_format: str) -> str:
    """The reference: what pandas writes for ``write_tsv``'s settings."""
    return table.to_csv(sep="\t", index=False, float_format=float_format, lineterminator="\n",
                        na_rep="NA")


def variant_like_table(n_rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Strings (with missing), ints, bools and floats over many magnitudes, NaN, inf and -0."""
    rng = np.random.default_rng(seed)
    maf = rng.random(n_rows)
    maf[:4] = [np.inf, -np.inf, -0.0, 5e-324]
    return pd.DataFrame({
        "chrom": pd.Series(rng.choice(["1", "X", "chr22_KI270731v1_random"], n_rows), dtype=str),
        "id": [f"rs{j:07d}" for j in range(n_rows)],
        "pos": rng.integers(-(2**62), 2**62, n_rows),
        "n_het": rng.integers(0, 255, n_rows).astype(np.uint8),
        "maf": maf,
        "p": 10.0 ** -rng.uniform(0, 320, n_rows),
        "call_rate": np.where(rng.random(n_rows) < 0.1, np.nan, rng.random(n_rows)),
        "beta32": rng.normal(size=n_rows).astype(np.float32),
        "pass": rng.random(n_rows) < 0.5,
        "reason": pd.Series(np.where(rng.random(n_rows) < 0.5, "low_maf", None), dtype=str),
        "note": np.where(rng.random(n_rows) < 0.5, "é ü", None).astype(object),
    })


@pytest.mark.parametrize("float_format", ["%.10g", "%.6g", "%.17g"])
def test_tsv_text__matches_pandas(float_format):
    table = variant_like_table()
    assert tsv_text(table, float_format) == pandas_tsv(table, float_format)


@pytest.mark.parametrize("column", [
    ["a\tb", "c"],  # quoted by pandas
    ['say "x"', "c"],
    ["", "c"],
    [1, "mixed"],
    pd.array([1, None], dtype="Int64"),
    pd.array([0.5, None], dtype="Float64"),
    pd.to_datetime(["2024-01-01", None]),
    pd.Categorical(["b", None]),
])
def test_tsv_text__other_columns_match_pandas(column):
    table = pd.DataFrame({"x": [0.25, np.nan], "y": column})
    assert tsv_text(table) == pandas_tsv(table, "%.10g")


@pytest.mark.parametrize("table", [
    pd.DataFrame({"only": [0.1, np.nan]}),
    pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=str)}),
    pd.DataFrame({0: [1.5], 1: ["x"]}),
    pd.DataFrame({"a b\t": [1.5], "c": ["x"]}),
])
def test_tsv_text__edge_shapes_match_pandas(table):
    assert tsv_text(table) == pandas_tsv(table, "%.10g")


def test_write_tsv__bytes_and_mode(tmp_path):
    table = variant_like_table(50)
    write_tsv(tmp_path / "t.tsv", table, private=True)
    assert (tmp_path / "t.tsv").read_bytes() == pandas_tsv(table, "%.10g").encode()
    assert (tmp_path / "t.tsv").stat().st_mode & 0o777 == 0o600


BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
"""The 28-byte empty block that ends every BGZF file (SAM/BAM specification, section 4.1.2)."""


def bgzf_blocks(data: bytes) -> list[bytes]:
    """Split BGZF bytes into blocks by the BSIZE of each block's "BC" extra subfield; fail on
    anything else (plain gzip has no FEXTRA flag, hence no BSIZE to find the next block)."""
    blocks, offset = [], 0
    while offset < len(data):
        assert data[offset:offset + 4] == b"\x1f\x8b\x08\x04", f"no BGZF header at {offset}"
        xlen = int.from_bytes(data[offset + 10:offset + 12], "little")
        extra, bsize = data[offset + 12:offset + 12 + xlen], None
        while extra:
            slen = int.from_bytes(extra[2:4], "little")
            if extra[:2] == b"BC" and slen == 2:
                bsize = int.from_bytes(extra[4:6], "little") + 1
            extra = extra[4 + slen:]
        assert bsize is not None, f"no BC subfield in the block at {offset}"
        blocks.append(data[offset:offset + bsize])
        offset += bsize
    return blocks


def test_write_tsv_bgzip__bgzf_blocks_and_round_trip(tmp_path):
    table = variant_like_table(4000)[["id", "pos", "maf"]]  # ~150 kB of text: several blocks
    path = tmp_path / "t.tsv.gz"
    write_tsv_bgzip(path, table)
    blocks = bgzf_blocks(path.read_bytes())
    assert len(blocks) > 2
    assert blocks[-1] == BGZF_EOF
    inflated = b"".join(zlib.decompress(block, wbits=31) for block in blocks)
    assert inflated == tsv_text(table).encode()
    with pysam.libcbgzf.BGZFile(str(path), "rb") as handle:  # htslib's reader
        assert handle.read() == inflated
    pd.testing.assert_frame_equal(read_tsv(path, dtype={"id": str}), table, check_dtype=False,
                                  rtol=1e-9)


def test_import__qc_stage_skips_pysam():
    code = ("import sys, cohortgen.qc.variant_stats, cohortgen.qc.variant_qc; "
            "print(sorted({'pysam'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
