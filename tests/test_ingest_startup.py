"""Start-up of ``cohortgen ingest`` for a VCF chunk: no pandas import, and the plan row read
without pandas agrees with the pandas reader."""

import subprocess
import sys

import pytest
from test_ingest import small_vcf

from cohortgen.errors import InputError
from cohortgen.ingest.plan import plan_chunks, read_plan, read_plan_chunk, write_plan
from cohortgen.io.bed import read_bed

RECORDS = [f"{contig}\t{pos}\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\t0/1\t1/1\t./."
           for contig in ("1", "2") for pos in range(1000, 9000, 1000)]


@pytest.fixture
def planned(tmp_path):
    """(VCF, plan path) of a two-contig VCF in chunks of 3 records."""
    vcf = small_vcf(tmp_path, RECORDS, contigs=("1", "2"))
    plan = tmp_path / "plan.tsv"
    write_plan(plan_chunks(str(vcf), 3), plan)
    return vcf, plan


def test_read_plan_chunk__matches_read_plan(planned):
    _, plan = planned
    table = read_plan(plan)
    assert len(table) > 2
    for row in table.itertuples():
        assert read_plan_chunk(plan, row.chunk_id) == (row.contig, row.start, row.end)


def test_read_plan_chunk__unknown_chunk_or_not_a_plan(planned, tmp_path):
    _, plan = planned
    with pytest.raises(InputError, match="no chunk 'c9999'") as info:
        read_plan_chunk(plan, "c9999")
    assert str(plan) in str(info.value)
    other = tmp_path / "other.tsv"
    other.write_text("sample_id\tsex\nA\t1\n")
    with pytest.raises(InputError, match="not a chunk plan") as info:
        read_plan_chunk(other, "c0001")
    assert str(other) in str(info.value)
    rows = [line.split("\t") for line in plan.read_text().splitlines()]
    rows[2][2] = "one"  # line 3: chunk c0002's start
    plan.write_text("".join("\t".join(row) + "\n" for row in rows))
    with pytest.raises(InputError, match=r"line 3: chunk 'c0002' has start 'one'") as info:
        read_plan_chunk(plan, "c0002")
    assert str(plan) in str(info.value)


def test_ingest__vcf_chunk_does_not_import_pandas(planned, tmp_path):
    vcf, plan = planned
    out = tmp_path / "c0004"
    script = (
        "import sys\nfrom cohortgen.cli import main\n"
        f"status = main(['ingest', '--genotypes', {str(vcf)!r}, '--plan', {str(plan)!r}, "
        f"'--chunk', 'c0004', '--out-prefix', {str(out)!r}, '--tally', {f'{out}.json'!r}])\n"
        "print(status, 'pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["0", "False"]
    contig, start, end = read_plan_chunk(plan, "c0004")
    packed, bim, fam = read_bed(out)
    in_chunk = [(c, int(p)) for c, p, *_ in map(str.split, RECORDS)
                if c == contig and start <= int(p) <= end]
    assert in_chunk
    assert list(zip(bim["chrom"], bim["pos"], strict=True)) == in_chunk
    assert (packed.shape[0], fam["iid"].tolist()) == (len(bim), ["A", "B", "C", "D"])
