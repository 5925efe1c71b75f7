"""The htslib record reader (cohortgen.io.vcf_htslib) on a .vcf.gz gives the chunks the native
reader gives: variants, genotypes, tally and the .bed/.bim/.fam bytes (the conformance cases are
in test_vcf_conformance.py)."""

import pytest
from test_io_vcf import MIXED_RECORDS, mixed_text, write_vcf

from cohortgen.ingest.chunk import IngestRules, ingest_chunk


@pytest.mark.parametrize("half_calls", ["missing", "haploid"])
@pytest.mark.parametrize("multiallelic", ["drop", "split"])
def test_ingest_chunk__htslib_equals_native(tmp_path, half_calls, multiallelic):
    """Half-calls, haploid X calls, multi-allelics, missing, phased, GT:DP, ploidy 3, no GT,
    40 times over (records span pieces and blocks)."""
    records = [record.replace(f"\t{pos}\t", f"\t{pos + 1000 * k}\t", 1)
               for k in range(40) for record, pos in zip(MIXED_RECORDS[:7], range(100, 450, 50),
                                                         strict=True)]
    vcf = write_vcf(tmp_path, mixed_text([*records, *MIXED_RECORDS[7:]]), name="m.vcf.gz")
    sheet = tmp_path / "sex.tsv"
    sheet.write_text("sample_id\tsex\nA\t1\nB\t1\nC\t2\nD\tNA\n")
    for contig, start, end in (("1", 1, 20_000), ("1", 20_001, 10**6), ("X", 1, 10**8)):
        outputs = []
        for reader in ("native", "htslib"):
            prefix = tmp_path / f"{reader}.{contig}.{start}"
            rules = IngestRules(half_calls, multiallelic, vcf_reader=reader)
            tally = ingest_chunk(str(vcf), contig, start, end, prefix,
                                 tmp_path / f"{prefix.name}.json", sheet, rules)
            outputs.append((tally, *(prefix.with_name(f"{prefix.name}.{ext}").read_bytes()
                                     for ext in ("bed", "bim", "fam"))))
        assert outputs[0] == outputs[1]
        assert outputs[0][0]["records_in"] > 0
