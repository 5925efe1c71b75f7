"""Property-based fuzz of VCF ingest: mutated small VCFs go through ``cohortgen plan`` and
``cohortgen ingest`` in a subprocess with time and memory limits. Each run ends with exit 0 and
reconciled counts, or exit 2 and a one-line ``cohortgen <cmd>: error:`` message; never a signal,
a hang or a traceback."""

import json
import resource
import subprocess
import sys

import pysam
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SAMPLES = ["A", "B", "C", "D"]
HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=1,length=100000>",
    "##contig=<ID=X,length=200000000>",
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *SAMPLES]),
]
RECORDS = [
    "1\t100\trs1\tA\tC\t.\tPASS\t.\tGT\t0/0\t0/1\t1/1\t./.",
    "1\t200\trs2\tA\tC,G\t.\tPASS\t.\tGT\t0/1\t1/2\t0/0\t2|2",
    "1\t300\trs3\tAT\tA\t.\tPASS\t.\tGT\t0|1\t./1\t1\t0/0",
    "1\t400\trs4\tG\t<DEL>\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0\t0/0",
    "X\t50000\trs5\tG\tT\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0\t0/1",
    "X\t5000000\trs6\tG\tT\t.\tPASS\t.\tGT\t1\t0/1\t0\t1/1",
]
SHEET = "sample_id\tsex\nA\t1\nB\t2\nC\t1\nD\tNA\n"
MEMORY_BYTES = 2 * 1024**3
TIME_LIMIT_S = 20

DRIVER = """
import sys
from pathlib import Path
from cohortgen.cli import main

vcf, work, *extra = sys.argv[1:]
plan = Path(work) / "plan.tsv"
code = main(["plan", "--genotypes", vcf, "--out", str(plan),
             "--options", '{"chunks": {"variants_per_chunk": 100}}'])
if code:
    sys.exit(code)
for chunk in plan.read_text().split()[5::5]:
    code = main(["ingest", "--genotypes", vcf, "--plan", str(plan), "--chunk", chunk,
                 "--out-prefix", f"{work}/{chunk}", "--tally", f"{work}/{chunk}.json", *extra])
    if code:
        sys.exit(code)
"""


def _limit_resources() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def _swap(lines, i, j):
    lines = list(lines)
    i, j = i % len(lines), j % len(lines)
    lines[i], lines[j] = lines[j], lines[i]
    return lines


def _edit_record(records, k, edit):
    records = list(records)
    records[k % len(records)] = edit(records[k % len(records)])
    return records


RECORD_MUTATIONS = {
    "swap_records": lambda r, k, x: _swap(r, k, k + 1 + x % 3),
    "drop_column": lambda r, k, x: _edit_record(r, k, lambda s: s.rsplit("\t", 1)[0]),
    "extra_column": lambda r, k, x: _edit_record(r, k, lambda s: s + "\t0/1"),
    "delete_tab": lambda r, k, x: _edit_record(r, k, lambda s: s.replace("\t", "", 1 + x % 9)),
    "spaces_for_tabs": lambda r, k, x: _edit_record(r, k, lambda s: s.replace("\t", " ")),
    "unknown_contig": lambda r, k, x: _edit_record(r, k, lambda s: "7" + s[s.index("\t"):]),
    "bad_gt": lambda r, k, x: _edit_record(
        r, k, lambda s: s[: s.rindex("\t") + 1] + ["0/x", "1//", "5", "-1", "0/1/1", ""][x % 6]),
    "bad_pos": lambda r, k, x: _edit_record(
        r, k, lambda s: s.replace("\t", "\t" + ["-", "x", "0", "99999999999"][x % 4], 1)),
}


@st.composite
def mutated_vcf(draw) -> tuple[str, bytes]:
    """(description, VCF bytes) with one to three mutations of the small valid VCF."""
    records, notes = list(RECORDS), []
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(sorted(RECORD_MUTATIONS)))
        records = RECORD_MUTATIONS[name](records, draw(st.integers(0, 9)), draw(st.integers(0, 99)))
        notes.append(name)
    data = bytearray(("\n".join(HEADER + records) + "\n").encode())
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["flip", "truncate", "delete"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        else:
            del data[at]
        notes.append(f"{kind}@{at}")
        if not data:
            data = bytearray(b"\n")
    return ", ".join(notes) or "unchanged", bytes(data)


def run_ingest(tmp_path, data: bytes) -> subprocess.CompletedProcess:
    plain = tmp_path / "f.vcf"
    plain.write_bytes(data)
    vcf = tmp_path / "f.vcf.gz"
    pysam.tabix_compress(str(plain), str(vcf), force=True)
    try:
        pysam.tabix_index(str(vcf), preset="vcf", force=True)
    except (OSError, ValueError):
        pass  # an unindexable file must still give a clean error
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(SHEET)
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(vcf), str(tmp_path), "--phenotypes", str(sheet),
         "--options", '{"ingest": {"multiallelic": "split"}}'],
        capture_output=True, timeout=TIME_LIMIT_S, preexec_fn=_limit_resources, check=False,
    )
    # htslib echoes mutated (non-UTF-8) bytes on stderr
    return subprocess.CompletedProcess(result.args, result.returncode,
                                       result.stdout.decode(errors="replace"),
                                       result.stderr.decode(errors="replace"))


def assert_clean_outcome(tmp_path, result, note) -> None:
    assert "Traceback" not in result.stderr, (note, result.stderr[-2000:])
    assert result.returncode in (0, 2), (note, result.returncode, result.stderr[-2000:])
    if result.returncode == 2:
        errors = [line for line in result.stderr.splitlines()
                  if line.startswith("cohortgen ") and ": error: " in line]
        assert len(errors) == 1, (note, result.stderr[-2000:])
        return
    for tally_path in tmp_path.glob("c*.json"):
        tally = json.loads(tally_path.read_text())
        assert tally["records_in"] == tally["records_kept"] + sum(
            tally["records_excluded"].values()), (note, tally)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated_vcf())
def test_cli_ingest__mutated_vcf_never_crashes(tmp_path_factory, case):
    note, data = case
    tmp_path = tmp_path_factory.mktemp("fuzz")
    assert_clean_outcome(tmp_path, run_ingest(tmp_path, data), note)


def test_cli_ingest__unmutated_fuzz_seed_is_ingested(tmp_path):
    result = run_ingest(tmp_path, ("\n".join(HEADER + RECORDS) + "\n").encode())
    assert result.returncode == 0, result.stderr
    tallies = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("c*.json"))]
    assert sum(t["records_in"] for t in tallies) == len(RECORDS)
    assert sum(t["variants_written"] for t in tallies) == len(RECORDS)  # rs2 split, rs4 out


def _many_records(n: int) -> list[str]:
    """``n`` valid biallelic chr1 records (positions 1,000 apart), so the bgzip stream holds
    several BGZF blocks."""
    calls = ["0/0", "0/1", "1/1", "./.", "0|1"]
    return [f"1\t{1000 * (k + 1)}\tv{k}\tA\tG\t.\tPASS\t.\tGT\t"
            + "\t".join(calls[(k + s) % 5] for s in range(len(SAMPLES))) for k in range(n)]


@st.composite
def corrupted_bgzip(draw) -> tuple[str, tuple[str, int], int, int]:
    """(kind, where, bit, length) of one corruption of the compressed stream; where is
    ("head", byte offset < 200: the first block, which holds the header) or ("permille", k:
    offset k/1000 of the way through the file)."""
    where = draw(st.one_of(st.tuples(st.just("head"), st.integers(0, 199)),
                           st.tuples(st.just("permille"), st.integers(0, 999))))
    return (draw(st.sampled_from(["flip", "truncate", "delete", "zero_run"])), where,
            draw(st.integers(0, 7)), draw(st.integers(1, 64)))


@pytest.mark.slow
@settings(max_examples=24, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=corrupted_bgzip())
def test_cli_ingest__corrupted_bgzip_stream_never_crashes(tmp_path_factory, case):
    """Damage inside the compressed blocks (bad deflate data, CRC or size fields, a cut
    stream), with the index of the intact file left in place, ends in a clean outcome."""
    kind, (region, offset), bit, length = case
    tmp_path = tmp_path_factory.mktemp("bgzf")
    plain = tmp_path / "f.vcf"
    plain.write_text("\n".join(HEADER + _many_records(3000)) + "\n")
    vcf = tmp_path / "f.vcf.gz"
    pysam.tabix_compress(str(plain), str(vcf), force=True)
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    data = bytearray(vcf.read_bytes())
    at = offset if region == "head" else offset * (len(data) - 1) // 1000
    if kind == "flip":
        data[at] ^= 1 << bit
    elif kind == "truncate":
        del data[at:]
    elif kind == "delete":
        del data[at:at + length]
    else:
        data[at:at + length] = bytes(len(data[at:at + length]))
    vcf.write_bytes(data)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(SHEET)
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(vcf), str(tmp_path), "--phenotypes", str(sheet)],
        capture_output=True, timeout=TIME_LIMIT_S, preexec_fn=_limit_resources, check=False,
    )
    result = subprocess.CompletedProcess(result.args, result.returncode,
                                         result.stdout.decode(errors="replace"),
                                         result.stderr.decode(errors="replace"))
    assert_clean_outcome(tmp_path, result, f"{kind}@{at}")
