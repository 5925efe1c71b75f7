"""VCF reading: bad files raise InputError naming the file; excluded records are tallied;
haploid and half-calls decode as documented in cohortgen.kernels.gt; the text parser of a
.vcf.gz gives exactly what cyvcf2 gives for the same records as BCF."""

import json
import shutil
import subprocess
import sys
import zlib
from functools import partial
from pathlib import Path

import numpy as np
import pysam
import pytest
from conftest import require_tool
from test_kernels_gt import decode_biallelic

import cohortgen.io.vcf_records as records_module
from cohortgen.errors import InputError
from cohortgen.ingest.chunk import IngestRules, ingest_chunk
from cohortgen.io.bgzf import BGZF_EOF
from cohortgen.io.vcf import RecordTally, read_region_blocks
from cohortgen.kernels.gt import (
    MISSING,
)

HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=1,length=1000000>",
    '##ALT=<ID=DEL,Description="Deletion">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
]
FIXED = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"
RECORDS = [
    "1\t100\trs1\tA\tC\t.\tPASS\t.\tGT\t0/0\t0/1\t1/1",
    "1\t200\trs2\tA\tC,G\t.\tPASS\t.\tGT\t0/1\t1/2\t0/0",
    "1\t300\trs3\tA\t<DEL>\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0",
    "1\t400\trs4\tG\tT\t.\tPASS\t.\tGT\t1\t0\t.",
    "1\t500\trs5\tG\tT\t.\tPASS\t.\tGT\t./1\t1/.\t0|1",
    "1\t600\trs6\tGA\tG\t.\tPASS\t.\tGT\t0/1\t1\t./.",
]
SAMPLES = ["A", "B", "C"]


def vcf_text(records=RECORDS, samples=SAMPLES) -> str:
    return "\n".join([*HEADER, "\t".join([FIXED, *samples]), *records]) + "\n"


def write_vcf(tmp_path, text: str, name="x.vcf.gz", index=True):
    """bgzip ``text`` to ``tmp_path/name`` and tabix-index it."""
    plain = tmp_path / name.removesuffix(".gz")
    plain.write_text(text)
    path = tmp_path / name
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    if index:
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def random_vcf_text(n_records=3000, n_samples=40, seed=0) -> str:
    rng = np.random.default_rng(seed)
    cells = np.array(["0/0", "0/1", "1/1", "./."])[rng.integers(0, 4, (n_records, n_samples))]
    records = [
        f"1\t{100 * (k + 1)}\t.\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(row)
        for k, row in enumerate(cells)
    ]
    return vcf_text(records, [f"S{k}" for k in range(n_samples)])


def assert_input_error(call, *fragments):
    with pytest.raises(InputError) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return str(info.value)


def truncated_copy(tmp_path):
    """A bgzipped VCF cut to half its bytes, beside the intact file's index."""
    intact = write_vcf(tmp_path, random_vcf_text(), name="intact.vcf.gz")
    data = intact.read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    shutil.copy(f"{intact}.tbi", f"{cut}.tbi")
    return intact, cut


PLAN_100, PLAN_1000 = (json.dumps({"chunks": {"variants_per_chunk": n}}) for n in (100, 1000))


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "cohortgen.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_ingest__truncated_vcf(tmp_path):
    intact, cut = truncated_copy(tmp_path)
    plan = tmp_path / "plan.tsv"
    result = run_cli("plan", "--genotypes", cut, "--options", PLAN_1000, "--out", plan)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"cohortgen plan: error: {cut}" in result.stderr
    assert (
        run_cli(
            "plan", "--genotypes", intact, "--options", PLAN_1000, "--out", plan
        ).returncode
        == 0
    )
    chunks = plan.read_text().split()[5::5]
    assert len(chunks) == 3
    for chunk in chunks:
        result = run_cli(
            "ingest",
            "--genotypes",
            cut,
            "--plan",
            plan,
            "--chunk",
            chunk,
            "--out-prefix",
            tmp_path / chunk,
            "--tally",
            tmp_path / f"{chunk}.json",
        )
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert f"cohortgen ingest: error: {cut}" in result.stderr
        assert not (tmp_path / f"{chunk}.json").exists()


def test_read_region_blocks__missing_index(tmp_path):
    path = write_vcf(tmp_path, vcf_text(), index=False)
    assert_input_error(
        lambda: list(read_region_blocks(path, "1", 1, 1000, RecordTally())), str(path), "index"
    )


def read_all(path, start=1, end=100000):
    tally = RecordTally()
    blocks = list(read_region_blocks(path, "1", start, end, tally, block_size=2))
    return tally, blocks


def test_read_region_blocks__excluded_records_tally(tmp_path):
    tally, blocks = read_all(write_vcf(tmp_path, vcf_text()))
    summary = tally.as_dict()
    assert summary["records_in"] == 6
    assert summary["records_kept"] == summary["variants_written"] == 4
    assert summary["records_excluded"] == {"multiallelic": 1, "symbolic_allele": 1}
    assert tally.n_in == tally.n_kept + sum(tally.excluded.values())
    assert [pos for block in blocks for pos in block.pos] == [100, 400, 500, 600]
    assert [i for block in blocks for i in block.ids] == ["rs1", "rs4", "rs5", "rs6"]
    assert [(b.ref, b.alt) for b in blocks] == [(["A", "G"], ["C", "T"]), (["G", "GA"], ["T", "G"])]


def test_read_region_blocks__region_is_by_pos(tmp_path):
    path = write_vcf(tmp_path, vcf_text())
    tally, blocks = read_all(path, start=101, end=599)
    assert tally.n_in == 4
    assert [pos for block in blocks for pos in block.pos] == [400, 500]


def test_read_region_blocks__haploid_and_half_calls_decode(tmp_path):
    _, blocks = read_all(write_vcf(tmp_path, vcf_text()))
    alleles = np.concatenate([block.alleles for block in blocks])
    assert alleles.dtype == np.int16
    assert alleles.shape == (4, 3, 2)
    expected = [[0, 1, 2], [2, 0, MISSING], [MISSING, MISSING, 1], [1, 2, MISSING]]
    np.testing.assert_array_equal(decode_biallelic(alleles), expected)


def cli_ingest(tmp_path, vcf, *extra):
    """``cohortgen plan`` then ``cohortgen ingest`` of every chunk; the first failure or the last
    success (CompletedProcess)."""
    plan = tmp_path / "plan.tsv"
    result = run_cli("plan", "--genotypes", vcf, "--options", PLAN_100, "--out", plan)
    if result.returncode:
        return result
    for chunk in plan.read_text().split()[5::5]:
        result = run_cli("ingest", "--genotypes", vcf, "--plan", plan, "--chunk", chunk,
                         "--out-prefix", tmp_path / chunk, "--tally", tmp_path / f"{chunk}.json",
                         *extra)
        if result.returncode:
            return result
    return result


def assert_cli_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = [line for line in result.stderr.splitlines()
               if line.startswith("cohortgen ") and ": error: " in line]
    assert message, result.stderr
    for fragment in fragments:
        assert fragment in message[0], message[0]


def test_cli_ingest__records_with_spaces(tmp_path):
    records = [RECORDS[0], RECORDS[3].replace("\t", " ")]
    path = write_vcf(tmp_path, vcf_text(records), index=False)
    assert_cli_error(cli_ingest(tmp_path, path), str(path), "spaces, not tabs")


def test_cli_ingest__contig_not_in_header(tmp_path):
    path = write_vcf(tmp_path, vcf_text([RECORDS[0], RECORDS[0].replace("1\t100", "2\t100")]))
    assert_cli_error(cli_ingest(tmp_path, path), str(path), "contig '2'", "does not declare")


def test_cli_ingest__unsorted_records(tmp_path):
    """Two records of equal length swapped after indexing: the index still opens the file."""
    first, second = RECORDS[3], RECORDS[4].replace("./1\t1/.\t0|1", "0/1\t0/0\t1/1")
    sorted_path = write_vcf(tmp_path, vcf_text([RECORDS[0], first, second]), name="s.vcf.gz")
    path = write_vcf(tmp_path, vcf_text([RECORDS[0], second, first]), index=False)
    shutil.copy(f"{sorted_path}.tbi", f"{path}.tbi")
    assert_cli_error(cli_ingest(tmp_path, path), str(path), "not sorted", "1:400 comes after 1:500")


def test_cli_ingest__wrong_column_count(tmp_path):
    records = [RECORDS[0], RECORDS[3].rsplit("\t", 1)[0], RECORDS[4]]
    path = write_vcf(tmp_path, vcf_text(records))
    assert_cli_error(cli_ingest(tmp_path, path), str(path), "record 1:400 has 11 columns",
                     "header has 12")


def test_cli_ingest__bad_gt_value(tmp_path):
    path = write_vcf(tmp_path, vcf_text([RECORDS[0], RECORDS[3].replace("\t0\t.", "\t0/x\t.")]))
    assert_cli_error(cli_ingest(tmp_path, path), str(path), "record 1:400, column 11 (sample B)",
                     "'0/x'")


def test_cli_ingest__uncompressed_vcf(tmp_path):
    path = tmp_path / "plain.vcf"
    path.write_text(vcf_text())
    assert_cli_error(cli_ingest(tmp_path, path), str(path), "bgzip and index it")


def test_read_region_blocks__all_missing_sample(tmp_path):
    records = [r.rsplit("\t", 1)[0] + "\t./." for r in (RECORDS[0], RECORDS[4])]
    tally, blocks = read_all(write_vcf(tmp_path, vcf_text(records)))
    dosage = decode_biallelic(np.concatenate([b.alleles for b in blocks]))
    assert tally.n_kept == 2
    assert (dosage[:, 2] == MISSING).all()


MIXED_HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=1,length=1000000>",
    "##contig=<ID=X,length=200000000>",
    '##ALT=<ID=DEL,Description="Deletion">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
]
MIXED_RECORDS = [
    "1\t100\trs1\tA\tC\t.\tPASS\t.\tGT\t0/0\t0|1\t1/1\t./.",
    "1\t150\trs2\tA\tC,G\t.\tPASS\t.\tGT:DP\t1/2:5\t0|2:.\t./1:3\t2",
    "1\t200\trs3\tA\t<DEL>\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0\t0/0",
    "1\t250\trs4\tAT\tA,<DEL>,ATT\t.\tPASS\t.\tGT\t0/1\t3/3\t1|2\t./.",
    "1\t300\t.\tG\tT\t.\tPASS\t.\tGT\t./1\t1/.\t.|1\t0/1",
    "1\t350\trs6\tG\tT\t.\tPASS\t.\tGT\t0/1/1\t0/1\t0/0\t0/0",
    "1\t400\trs7\tG\tT\t.\tPASS\t.\tDP\t5\t6\t7\t8",
    "X\t50000\tpar\tA\tC\t.\tPASS\t.\tGT\t0/1\t1\t0\t./.",
    "X\t5000000\tx1\tA\tC\t.\tPASS\t.\tGT\t1\t0/1\t.\t1|1",
    "X\t5000100\tx2\tA\tC\t.\tPASS\t.\tGT\t0\t1\t0/0\t./1",
]
MIXED_SAMPLES = ["A", "B", "C", "D"]


def mixed_text(records) -> str:
    return "\n".join([*MIXED_HEADER, "\t".join([FIXED, *MIXED_SAMPLES]), *records]) + "\n"


def bgzf_block(text: bytes) -> bytes:
    """One BGZF block holding ``text`` (SAM spec 4.1)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = packer.compress(text) + packer.flush()
    bsize = (len(body) + 25).to_bytes(2, "little")  # block size - 1
    header = bytes.fromhex("1f8b08040000000000ff060042430200") + bsize
    return header + body + zlib.crc32(text).to_bytes(4, "little") + len(text).to_bytes(4, "little")


def text_and_bcf(tmp_path, records):
    """The same records as an indexed .vcf.gz (parsed from text) and an indexed .bcf (cyvcf2)."""
    vcf = write_vcf(tmp_path, mixed_text(records), name="m.vcf.gz")
    bcf = tmp_path / "m.bcf"
    bcftools = require_tool("bcftools")
    subprocess.run([bcftools, "view", "-Ob", "-o", str(bcf), str(vcf)], check=True,
                   capture_output=True)
    subprocess.run([bcftools, "index", str(bcf)], check=True, capture_output=True)
    return vcf, bcf


def region_blocks(path, contig, multiallelic):
    tally = RecordTally()
    blocks = list(read_region_blocks(path, contig, 1, 200_000_000, tally, block_size=2,
                                     multiallelic=multiallelic))
    return tally.as_dict(), blocks


@pytest.mark.parametrize("multiallelic", ["drop", "split"])
def test_read_region_blocks__text_equals_cyvcf2(tmp_path, multiallelic):
    """Half-calls, haploid X calls, multi-allelics, missing, phased, GT:DP, ploidy 3, no GT."""
    vcf, bcf = text_and_bcf(tmp_path, MIXED_RECORDS)
    for contig in ("1", "X"):
        text_tally, text_blocks = region_blocks(vcf, contig, multiallelic)
        bcf_tally, bcf_blocks = region_blocks(bcf, contig, multiallelic)
        assert text_tally == bcf_tally
        assert len(text_blocks) == len(bcf_blocks) >= 1
        for ours, theirs in zip(text_blocks, bcf_blocks, strict=True):
            np.testing.assert_array_equal(ours.alleles, theirs.alleles)
            np.testing.assert_array_equal(ours.alt_index, theirs.alt_index)
            assert (ours.chrom, ours.pos, ours.ids, ours.ref, ours.alt) == (
                theirs.chrom, theirs.pos, theirs.ids, theirs.ref, theirs.alt)
    assert text_tally["records_excluded"] == {}  # X
    assert region_blocks(vcf, "1", multiallelic)[0]["records_excluded"]["ploidy_above_2"] == 1


@pytest.mark.parametrize("multiallelic", ["drop", "split"])
def test_read_region_blocks__text_equals_cyvcf2_across_pieces(tmp_path, monkeypatch,
                                                              multiallelic):
    """The mixed records 40 times over in BGZF blocks of 500 bytes of text, read in pieces of
    300 compressed bytes by 2 threads (records and runs of kept records span pieces; blocks end
    with them): the same variants, genotypes and tally as cyvcf2 reads from the BCF."""
    records = [record.replace(f"\t{pos}\t", f"\t{pos + 1000 * k}\t", 1)
               for k in range(40) for record, pos in zip(MIXED_RECORDS[:7], range(100, 450, 50),
                                                         strict=True)]
    _, bcf = text_and_bcf(tmp_path, records)
    text = mixed_text(records).encode()
    vcf = tmp_path / "small_blocks.vcf.gz"
    vcf.write_bytes(b"".join(bgzf_block(text[k:k + 500]) for k in range(0, len(text), 500))
                    + BGZF_EOF)
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    monkeypatch.setattr(records_module, "parsed_pieces",
                        partial(records_module.parsed_pieces, read_size=300))
    runs = []
    for path in (vcf, bcf):
        tally = RecordTally()
        blocks = list(read_region_blocks(path, "1", 1, 10**6, tally, block_size=5,
                                         multiallelic=multiallelic, threads=2))
        runs.append((tally.as_dict(), len(blocks),
                     np.concatenate([b.alleles for b in blocks]).tolist(),
                     [sum((getattr(b, name) for b in blocks), [])
                      for name in ("pos", "ids", "ref", "alt")],
                     np.concatenate([b.alt_index for b in blocks]).tolist()))
    assert runs[0][0] == runs[1][0]
    assert runs[0][2:] == runs[1][2:]
    assert runs[0][1] > runs[1][1]  # blocks end with the pieces


@pytest.mark.parametrize("half_calls", ["missing", "haploid"])
def test_ingest_chunk__text_equals_cyvcf2(tmp_path, half_calls):
    vcf, bcf = text_and_bcf(tmp_path, MIXED_RECORDS)
    sheet = tmp_path / "sex.tsv"
    sheet.write_text("sample_id\tsex\nA\t1\nB\t1\nC\t2\nD\tNA\n")
    rules = IngestRules(half_calls=half_calls, multiallelic="split")
    for contig in ("1", "X"):
        outputs = []
        for source in (vcf, bcf):
            prefix = tmp_path / f"{source.name}.{contig}"
            tally = ingest_chunk(str(source), contig, 1, 200_000_000, prefix,
                                 tmp_path / f"{prefix.name}.json", sheet, rules)
            outputs.append((tally, *(Path(f"{prefix}.{ext}").read_bytes()
                                     for ext in ("bed", "bim", "fam"))))
        assert outputs[0] == outputs[1]


@pytest.mark.parametrize("suffix", ["vcf.gz", "bcf"])
def test_read_region_blocks__allele_index_out_of_range(tmp_path, suffix):
    vcf, bcf = text_and_bcf(tmp_path, [MIXED_RECORDS[0].replace("0|1", "0|5")])
    path = vcf if suffix == "vcf.gz" else bcf
    assert_input_error(lambda: region_blocks(path, "1", "drop"), str(path), "record 1:100",
                       "sample B", "allele index 5", "2 alleles")


def test_read_region_blocks__gt_not_first_format_key(tmp_path):
    record = MIXED_RECORDS[0].replace("\tGT\t", "\tDP:GT\t").replace("\t0", "\t3:0")
    vcf = write_vcf(tmp_path, vcf_text([record], MIXED_SAMPLES))
    assert_input_error(lambda: read_all(vcf), str(vcf), "record 1:100", "GT is FORMAT key 2",
                       "GT first")


def test_read_region_blocks__unsorted_across_chunks(tmp_path):
    """Record 1:400 placed after 1:500 (index from the sorted file): the chunk starting at 450
    reads 1:500 and then meets 1:400, out of order."""
    first, second = RECORDS[3], RECORDS[4].replace("./1\t1/.\t0|1", "0/1\t0/0\t1/1")
    sorted_path = write_vcf(tmp_path, vcf_text([RECORDS[0], first, second]), name="s.vcf.gz")
    path = write_vcf(tmp_path, vcf_text([RECORDS[0], second, first]), index=False)
    shutil.copy(f"{sorted_path}.tbi", f"{path}.tbi")
    assert_input_error(lambda: read_all(path, start=450), str(path), "not sorted",
                       "1:400 comes after 1:500")


