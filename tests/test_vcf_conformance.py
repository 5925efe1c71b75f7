"""VCF conformance (VCF 4.1-4.5): generated valid and invalid files, read by both record readers.

Valid files: every record bcftools lists is counted (``records_in`` summed over the chunks of
the plan equals ``bcftools view -H | wc -l``), exclusions carry a reason, every accepted
genotype equals plink2's (``plink2 --vcf ... --make-bed``) and the native and htslib readers
write identical chunks. Invalid files: an InputError naming the file and the line, from both
readers.
"""

import subprocess
from pathlib import Path

import numpy as np
import pysam
import pytest
from conftest import require_tool

from cohortgen.errors import InputError
from cohortgen.genome import excluded_contig_reason
from cohortgen.ingest.chunk import IngestRules, ingest_chunk
from cohortgen.ingest.plan import plan_chunks
from cohortgen.io.bed import read_bed
from cohortgen.io.vcf_header import declared_contigs
from cohortgen.kernels.bed import unpack_dosages

VERSIONS = ["4.1", "4.2", "4.3", "4.4", "4.5"]
SAMPLES = ["A", "B", "C", "D"]
GT_LINE = '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">'
DP_LINE = '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">'
COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES)


def record(chrom: str, pos: str, vid: str, ref: str = "A", alt: str = "C",
           cells: str = "0/0\t0/1\t1|1\t./.", form: str = "GT") -> str:
    return f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t.\t{form}\t{cells}"


def many(chrom: str, first: int, count: int, prefix: str) -> list[str]:
    """``count`` records of ``chrom`` from POS ``first`` on, 100 apart, varied genotypes."""
    cells = ["0/0\t0/1\t1/1\t./.", "0|1\t1|0\t0/0\t1/1", "1/1\t./.\t0/1\t0/0"]
    return [record(chrom, str(first + 100 * k), f"{prefix}{k}", cells=cells[k % 3])
            for k in range(count)]


BASIC = [
    *many("1", 100, 5, "a"),
    record("1", "700", "multi", alt="C,G", cells="0/1\t1/2\t0/0\t2/2"),
    record("1", "800", "sym", alt="<DEL>"),
    record("1", "900", "dp", form="GT:DP", cells="0/1:5\t1/1:.\t0/0:7\t./.:3"),
    *many("2", 50, 4, "b"),
]
CONTIGS = ["##contig=<ID=1,length=100000>", "##contig=<ID=2,length=100000>"]
ALT_LINE = '##ALT=<ID=DEL,Description="Deletion">'

VALID = {
    "basic": (CONTIGS, BASIC),
    "no_contig_lines": ([], BASIC),
    # contigs ending in '>' are read whole, then excluded at ingest as unknown_contig (not human
    # chromosome names, cohortgen.genome); the records on "1" are written
    "contig_id_ending_in_gt": ([CONTIGS[0], "##contig=<ID=ctg>,length=5000>", "##contig=<ID=2>>"],
                               [*many("1", 100, 5, "f"), *many("ctg>", 100, 3, "g"),
                                *many("2>", 100, 2, "h")]),
    "telomere_pos_0": (CONTIGS, [record("1", "0", "tel1", ref="N"), *many("1", 100, 3, "t"),
                                 record("2", "0", "tel2"), *many("2", 100, 2, "u")]),
}
INVALID = {
    "pos_missing_first": (CONTIGS, [record("1", ".", "dot"), *many("1", 100, 3, "a")], 8,
                          "POS '.'"),
    "pos_missing_second_contig": (CONTIGS, [*many("1", 100, 3, "a"), record("2", ".", "dot"),
                                            *many("2", 100, 2, "b")], 11, "POS '.'"),
    "id_whitespace": (CONTIGS, [*many("1", 100, 2, "a"), record("1", "300", "rs 3")], 10,
                      "ID 'rs 3' contains whitespace"),
    "bad_gt": (CONTIGS, [*many("1", 100, 2, "a"), record("1", "300", "x", cells="0/1\t0/x\t0/0"
                                                         "\t1/1")], 10, "sample B"),
    "column_count": (CONTIGS, [record("1", "100", "x", cells="0/1\t0/0")], 8,
                     "has 11 columns but the header has 13"),
}


def write_indexed(path: Path, version: str, meta: list[str], records: list[str]) -> Path:
    """``path`` (.vcf.gz): a VCF of that version, meta lines, records; bgzipped and indexed."""
    lines = [f"##fileformat=VCFv{version}", *meta, ALT_LINE, GT_LINE, DP_LINE, COLUMNS, *records]
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    # tabix, not pysam.tabix_index: pysam refuses to index a file with a POS of '.', which tabix
    # indexes (leaving that record out, as the files in the wild were made)
    subprocess.run([require_tool("tabix"), "-f", "-p", "vcf", str(path)], check=True,
                   capture_output=True)
    return path


def ingest_all(vcf: Path, out: Path, reader: str) -> tuple[list[dict], list[bytes]]:
    """Plan ``vcf`` in chunks of 3 records and ingest every chunk with ``reader``: the tallies
    and the bytes of every .bed/.bim/.fam, in chunk order."""
    plan = plan_chunks(str(vcf), 3)
    tallies, outputs = [], []
    for chunk, contig, start, end in plan[["chunk_id", "contig", "start", "end"]].itertuples(
            index=False):
        prefix = out / f"{reader}_{chunk}"
        tallies.append(ingest_chunk(str(vcf), contig, int(start), int(end), prefix,
                                    out / f"{prefix.name}.json",
                                    rules=IngestRules(vcf_reader=reader)))
        outputs += [Path(f"{prefix}.{ext}").read_bytes() for ext in ("bed", "bim", "fam")]
    return tallies, outputs


def chunk_genotypes(out: Path, reader: str) -> dict[str, tuple[str, list[int]]]:
    """Variant ID -> (A1, dosages) over every chunk ``ingest_all`` wrote."""
    found = {}
    for bed in sorted(out.glob(f"{reader}_c*.bed")):
        packed, bim, fam = read_bed(bed.with_suffix(""))
        dosage = unpack_dosages(np.ascontiguousarray(packed), len(fam))
        for row, (vid, a1) in enumerate(zip(bim["id"], bim["a1"], strict=True)):
            found[vid] = (a1, dosage[row].tolist())
    return found


def plink2_genotypes(vcf: Path, out: Path) -> dict[str, tuple[str, list[int]]]:
    """Variant ID -> (A1, dosages) of ``plink2 --vcf vcf --make-bed`` (biallelic records, the
    telomere records included: the test compares the variants cohortgen accepts)."""
    prefix = out / "plink2"
    subprocess.run([require_tool("plink2"), "--vcf", str(vcf), "--make-bed", "--out",
                    str(prefix), "--allow-extra-chr", "--max-alleles", "2", "--threads", "1"],
                   check=True, capture_output=True)
    packed, bim, fam = read_bed(prefix)
    assert fam["iid"].tolist() == SAMPLES
    dosage = unpack_dosages(np.ascontiguousarray(packed), len(fam))
    return {vid: (a1, dosage[row].tolist())
            for row, (vid, a1) in enumerate(zip(bim["id"], bim["a1"], strict=True))}


def bcftools_count(vcf: Path) -> int:
    listed = subprocess.run([require_tool("bcftools"), "view", "-H", str(vcf)], check=True,
                            capture_output=True, text=True).stdout
    return len(listed.splitlines())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", sorted(VALID))
def test_ingest__valid_conformance_case(tmp_path, case, version):
    meta, records = VALID[case]
    vcf = write_indexed(tmp_path / f"{case}.vcf.gz", version, meta, records)
    runs = {reader: ingest_all(vcf, tmp_path, reader) for reader in ("native", "htslib")}
    assert runs["native"] == runs["htslib"]
    tallies = runs["native"][0]
    assert sum(t["records_in"] for t in tallies) == bcftools_count(vcf) == len(records)
    excluded = {}
    for tally in tallies:
        for reason, count in tally["records_excluded"].items():
            excluded[reason] = excluded.get(reason, 0) + count
    n_telomeres = sum(r.split("\t")[1] == "0" for r in records)
    assert excluded.get("pos_0_telomere", 0) == n_telomeres
    n_unknown = sum(excluded_contig_reason(r.split("\t")[0]) is not None for r in records)
    assert excluded.get("unknown_contig", 0) == n_unknown
    ours, theirs = chunk_genotypes(tmp_path, "native"), plink2_genotypes(vcf, tmp_path)
    assert len(ours) == sum(t["variants_written"] for t in tallies) >= 5
    assert {vid: theirs[vid] for vid in ours} == ours


def test_plan_vcf_chunks__no_contig_lines_warns(tmp_path, capsys):
    vcf = write_indexed(tmp_path / "n.vcf.gz", "4.2", [], BASIC)
    plan = plan_chunks(str(vcf), 100)
    assert plan["contig"].tolist() == ["1", "2"]
    assert "no ##contig lines" in capsys.readouterr().err


def test_declared_contigs__id_ending_in_gt(tmp_path):
    meta, records = VALID["contig_id_ending_in_gt"]
    vcf = write_indexed(tmp_path / "g.vcf.gz", "4.2", [*meta, '##contig=<ID=q,x="a,b">'],
                        records)
    assert declared_contigs(vcf) == {"1", "ctg>", "2>", "q"}


def test_plan_vcf_chunks__undeclared_contig_names_it(tmp_path):
    """A header that declares some contigs must declare all: the message names the missing one
    (and not one that is there)."""
    vcf = write_indexed(tmp_path / "u.vcf.gz", "4.2", ["##contig=<ID=ctg>>"],
                        [*many("ctg>", 100, 2, "g"), *many("2", 100, 2, "h")])
    with pytest.raises(InputError, match="contig '2'"):
        plan_chunks(str(vcf), 100)


HTSLIB_CANNOT_REFUSE = {"bad_gt", "column_count"}
"""Cases the htslib reader cannot refuse: cyvcf2 0.34's region query crashes the process on a GT
htslib cannot parse, and htslib fills absent sample columns with missing calls (README)."""


@pytest.mark.parametrize(("case", "reader"), [
    (case, reader) for case in sorted(INVALID) for reader in ("native", "htslib")
    if reader == "native" or case not in HTSLIB_CANNOT_REFUSE])
def test_ingest__invalid_conformance_case(tmp_path, case, reader):
    """Refused with InputError naming the file and the line (1-based, header lines counted),
    in whichever chunk the bad record falls."""
    meta, records, line, fragment = INVALID[case]
    vcf = write_indexed(tmp_path / f"{case}.vcf.gz", "4.3", meta, records)
    with pytest.raises(InputError) as info:
        ingest_all(vcf, tmp_path, reader)
    assert f"{vcf}, line {line}: " in str(info.value)
    assert fragment in str(info.value)
