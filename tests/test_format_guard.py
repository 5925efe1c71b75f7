"""A FORMAT value htslib cannot parse (DS ``1.0x0``, GT ``0-1``) is an InputError naming the
file, line, record, sample and value on every path that can hand VCF text to cyvcf2 (which
crashed the process with a segmentation fault on it). Each read runs in a subprocess, so a
regression to a crash fails the test instead of killing pytest."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pysam
import pytest

from cohortgen.kernels.format_guard import FLOAT, GT, INTEGER, STRING, first_bad_value

HEADER = {
    "GT": '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    "DS": '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Dosage">',
    "GP": '##FORMAT=<ID=GP,Number=G,Type=Float,Description="Probabilities">',
    "HDS": '##FORMAT=<ID=HDS,Number=2,Type=Float,Description="Haplotype dosages">',
}
GOOD = {"GT": ["0/1", "0/0", "1/1"], "GT:DS": ["0/1:1.0", "0/0:0", "1/1:2"],
        "GT:GP": ["0/1:0,1,0", "0/0:1,0,0", "1/1:0,0,1"],
        "GT:HDS": ["0|1:0,1", "0|0:0,0", "1|1:1,1"]}
BAD = {"GT": (1, "0-1"), "GT:DS": (0, "0/1:1.0x0"), "GT:GP": (2, "1/1:0,0,1e"),
       "GT:HDS": (1, "0|0:0,0z")}
"""Per FORMAT: (sample index, the bad cell) planted in the second record."""

READ = """
import sys
from pathlib import Path
from cohortgen.errors import InputError
path, how = Path(sys.argv[1]), sys.argv[2]
try:
    if how == "genotypes":
        from cohortgen.io.vcf import RecordTally, read_region_blocks
        blocks = read_region_blocks(path, "1", 1, 10**6, RecordTally(), reader="htslib")
        print(sum(len(b.pos) for b in blocks))
    else:
        from cohortgen.io.dosage_vcf import read_vcf_dosages
        print(sum(len(b.pos) for b in read_vcf_dosages(path, "1", 1, 10**6, reader=how)))
except InputError as exc:
    print(f"InputError: {exc}")
"""


def _write_vcf(path: Path, fmt: str, rows: list[list[str]]) -> Path:
    """bgzipped, tabix-indexed VCF of samples S1..S3, one record per row of cells."""
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=1,length=1000000>"]
    lines += [HEADER[key] for key in fmt.split(":")]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3")
    lines += [f"1\t{100 + 10 * i}\trs{i}\tA\tG\t.\tPASS\t.\t{fmt}\t" + "\t".join(cells)
              for i, cells in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return Path(pysam.tabix_index(str(path), preset="vcf", force=True))


def _read(path: Path, how: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", READ, str(path), how], capture_output=True,
                          text=True, timeout=300)


def _cases():
    for fmt in GOOD:
        hows = ["genotypes", "htslib", "auto"] if fmt != "GT" else ["genotypes", "htslib"]
        for how in hows:
            yield pytest.param(fmt, how, id=f"{fmt}-{how}")


@pytest.mark.parametrize(("fmt", "how"), list(_cases()))
def test_read__bad_format_value_is_input_error(tmp_path, fmt, how):
    sample, cell = BAD[fmt]
    bad_row = list(GOOD[fmt])
    bad_row[sample] = cell
    path = _write_vcf(tmp_path / "bad.vcf", fmt, [GOOD[fmt], bad_row, GOOD[fmt]])
    result = _read(path, how)
    assert result.returncode == 0, f"crashed ({result.returncode}): {result.stderr[-500:]}"
    message = result.stdout
    assert message.startswith("InputError: "), message
    value = cell.split(":")[-1]
    assert str(path) in message
    assert "1:110" in message
    assert f"sample S{sample + 1}" in message
    assert repr(value) in message or repr(cell) in message
    if how != "auto":  # the guard also gives the line
        assert ", line 7:" in message or ", line 6:" in message


@pytest.mark.parametrize(("fmt", "how"), list(_cases()))
def test_read__good_file_same_layout_passes(tmp_path, fmt, how):
    path = _write_vcf(tmp_path / "good.vcf", fmt, [GOOD[fmt]] * 3)
    result = _read(path, how)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == "3", result.stdout


_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity)",
                    re.IGNORECASE)
_GT = re.compile(r"[/|]?(\.|[0-9]+)([/|](\.|[0-9]+))*")


def _naive_ok(value: str, code: int) -> bool:
    """Plain-Python twin of the kernel's check of one value."""
    if code == STRING or value in ("", "."):
        return True
    if code == GT:
        return _GT.fullmatch(value) is not None
    pattern = _INTEGER if code == INTEGER else _FLOAT
    return all(v in ("", ".") or pattern.fullmatch(v) for v in value.split(","))


VALUES = ["0", "12", "-3", "+4", "1.", ".5", "1.0", "1e5", "1.5E-3", "nan", "-Inf", "INFINITY",
          "1.0x0", "1e", "e5", "--1", "1-", "1.2.3", "0,1,0", "0,,1", "0,1x", "0/1", "0|1",
          "./.", "|0", "0-1", "0/", "1/2/3", "a", "0 1", ".1.", "1e+", "0x10", "/"]


@pytest.mark.parametrize("code", [INTEGER, FLOAT, GT, STRING])
def test_first_bad_value__matches_naive_twin(code):
    for value in VALUES:
        line = f"{value}:x\t0:{value}"
        text = np.frombuffer(line.encode(), dtype=np.uint8)
        found = first_bad_value(text, np.array([0]), np.array([len(line)]), np.array([0]),
                                np.array([2]), np.array([code, code], dtype=np.int8))
        expected = _naive_ok(value, code) and _naive_ok("x", code) and _naive_ok("0", code)
        assert (found[0] < 0) == expected, (value, code, found)
        if not _naive_ok(value, code):
            assert line[found[2]:found[3]] == value
