"""Imputed chunks have their own size, ``chunks.imputed_variants_per_chunk``: larger than the
array chunks by default, so that each dosage job's start-up is shared by more variants."""

import pandas as pd
import pysam
from test_imputed_plan import SAMPLES, write_vcf

from cohortgen.cli import main
from cohortgen.options import parse_options


def write_long_vcf(path, contig: str, n_records: int) -> str:
    """A GT:DS VCF of ``n_records`` records on ``contig`` (bgzipped and indexed)."""
    short = write_vcf(path.with_name("short.vcf.gz"), [contig])
    with pysam.VariantFile(short) as vcf:
        header = str(vcf.header).rstrip("\n").split("\n")
    records = [f"{contig}\t{1000 + 10 * k}\tv{k}\tA\tG\t.\tPASS\t.\tGT:DS\t"
               + "\t".join(["0|1:1.000"] * len(SAMPLES)) for k in range(n_records)]
    plain = path.with_suffix("")
    plain.write_text("\n".join(header + records) + "\n")
    return pysam.tabix_index(str(plain), preset="vcf", force=True)


def test_plan_imputed__imputed_chunk_size_not_the_array_one(tmp_path):
    """250 records: 3 chunks at imputed_variants_per_chunk 100, whatever the array chunk
    size."""
    genotypes = write_vcf(tmp_path / "geno.vcf.gz", ["21"])
    imputed = write_long_vcf(tmp_path / "imp.vcf.gz", "21", 250)
    out = tmp_path / "plan.tsv"
    options = '{"chunks": {"variants_per_chunk": 100000, "imputed_variants_per_chunk": 100}}'
    assert main(["plan-imputed", "--imputed", imputed, "--genotypes", genotypes,
                 "--options", options, "--out", str(out)]) == 0
    assert len(pd.read_csv(out, sep="\t")) == 3  # regions of about 250 / 3 records


def test_imputed_variants_per_chunk__default_is_five_array_chunks():
    chunks = parse_options("{}", "plan_imputed").imputed_variants_per_chunk
    assert chunks == 5 * parse_options("{}", "plan").variants_per_chunk
