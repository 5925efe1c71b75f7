"""The one table of contigs (cohortgen.genome) and its users (issue #16).

PLINK codes 1-26 and names round-trip in any case and with a "chr" prefix; summary statistics
number 23-25 as X, Y, MT; unplaced, alt and decoy contigs are excluded at ingest with a reason
(VCF input here; PLINK input in tests/test_alleles.py) and counted in the QC funnel.
"""

import numpy as np
import pandas as pd
import pysam
import pytest

from cohortgen.assoc.chunk import is_chrx
from cohortgen.genome import (
    CONTIG_NAMES,
    contig_class,
    contig_code,
    contig_name,
    excluded_contig_reason,
    gwas_ssf_code,
)
from cohortgen.ingest.chunk import ingest_chunk
from cohortgen.ingest.plan import plan_chunks
from cohortgen.io.bed import read_bed
from cohortgen.io.scorefile import canonical_chrom
from cohortgen.io.sumstats import chromosome_codes
from cohortgen.qc.regions import in_long_range_ld
from cohortgen.qc.summary import ingest_funnel
from cohortgen.report.plots import chromosome_order

SPELLINGS = {23: ["X", "x", "chrX", "CHRX", "ChrX", "23", "chr23"],
             24: ["Y", "y", "chrY", "24", "chr24"],
             25: ["XY", "xy", "chrXY", "25", "PAR1", "par2"],
             26: ["MT", "mt", "M", "chrM", "chrMT", "26", "chr26"]}


@pytest.mark.parametrize("code", range(1, 27))
def test_contig_code__names_round_trip(code):
    name = CONTIG_NAMES[code]
    assert contig_code(name) == code
    for spelling in [*SPELLINGS.get(code, []), name, f"chr{name}", f"CHR{name.lower()}",
                     f" {name} "]:
        assert contig_code(spelling) == code, spelling
        assert contig_name(spelling) == name, spelling
    assert contig_class(name) == {23: "x", 24: "y", 25: "par", 26: "mt"}.get(code, "auto")


def test_contig_code__gwas_ssf_numbering():
    """GWAS-SSF and PGS Catalog files number X, Y, MT as 23, 24, 25 (PLINK: 23, 24, 26)."""
    assert [contig_name(c, "gwas_ssf") for c in ("22", "23", "24", "25", "26", "MT", "chrM")] \
        == ["22", "X", "Y", "MT", None, "MT", "MT"]
    assert [gwas_ssf_code(c) for c in ("1", "X", "23", "Y", "24", "XY", "25", "MT", "26")] \
        == [1, 23, 23, 24, 24, 23, 23, 25, 25]
    for code in range(1, 26):
        assert gwas_ssf_code(str(code), "gwas_ssf") == code
    with pytest.raises(ValueError, match="unknown contig numbering 'ucsc'"):
        contig_code("1", "ucsc")


@pytest.mark.parametrize(("name", "reason"), [
    ("1", None), ("chrX", None), ("XY", None), ("chrM", None),
    ("chrUn_KI270302v1", "unplaced_contig"), ("chr1_KI270706v1_random", "unplaced_contig"),
    ("GL000192.1", "unplaced_contig"), ("0", "unplaced_contig"), ("chrUn", "unplaced_contig"),
    ("chr6_GL000251v2_alt", "alt_contig"), ("HLA-A*01:01:01:01", "alt_contig"),
    ("chr1_KN196472v1_fix", "alt_contig"), ("chrEBV", "decoy_contig"),
    ("chrUn_JTFH01000001v1_decoy", "decoy_contig"), ("hs37d5", "decoy_contig"),
    ("scaffold_12", "unknown_contig"), ("27", "unknown_contig"), ("23a", "unknown_contig")])
def test_excluded_contig_reason__primary_and_other_contigs(name, reason):
    assert excluded_contig_reason(name) == reason
    assert (contig_class(name) == "other") == (reason is not None)


def test_users_of_the_table__agree():
    """GWAS-SSF codes of .bim names (PLINK 25 = XY is on X, 26 = MT), PRS names of a .bim and
    of a scoring file, chrX association, plot order and long-range LD all use the table."""
    bim = pd.Series(["1", "chr2", "23", "24", "25", "26", "chrX", "chrM", "XY"])
    assert chromosome_codes(bim).tolist() == [1, 2, 23, 24, 23, 25, 23, 25, 23]
    assert canonical_chrom(bim, "plink").tolist() == ["1", "2", "X", "Y", "XY", "MT", "X",
                                                      "MT", "XY"]
    assert canonical_chrom(pd.Series(["25", "chr23", "M"])).tolist() == ["MT", "X", "MT"]
    assert is_chrx(bim).tolist() == [False, False, True, False, True, False, True, False, True]
    assert chromosome_order(np.array(["MT", "chr10", "23", "2", "chrUn_x", "24"])) == \
        ["2", "10", "X", "Y", "MT", "UN_X"]
    chrom = np.array(["chr6", "6", "CHR6", "chr6_GL000251v2_alt"])
    np.testing.assert_array_equal(in_long_range_ld(chrom, np.full(4, 30_000_000), "GRCh38"),
                                  [True, True, True, False])
    assert in_long_range_ld(np.array([], dtype=str), np.array([], dtype=int), "GRCh38").size == 0


EXTRA_VCF_CONTIGS = {"chrUn_KI270302v1": "unplaced_contig",
                     "chr1_KI270706v1_random": "unplaced_contig",
                     "chr6_GL000251v2_alt": "alt_contig", "HLA-A*01:01:01:01": "alt_contig",
                     "chrEBV": "decoy_contig"}


def test_ingest_chunk__vcf_extra_contigs_excluded_with_reason(tmp_path):
    """Every chunk of a VCF with records on chr1, chrX and five non-primary contigs is ingested;
    the non-primary records are excluded per reason, the others kept, and the funnel adds up."""
    contigs = ["chr1", "chrX", *EXTRA_VCF_CONTIGS]
    header = ["##fileformat=VCFv4.2",
              *[f"##contig=<ID={c},length=200000000>" for c in contigs],
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC"]
    records = [f"{contig}\t{100 * k}\t.\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\t0/0"
               for contig in contigs for k in (1, 2)]
    plain = tmp_path / "g.vcf"
    plain.write_text("\n".join(header + records) + "\n")
    vcf = pysam.tabix_index(str(plain), preset="vcf", force=True)
    plan = plan_chunks(vcf, 1000)
    assert sorted(plan["contig"]) == sorted(contigs)
    tallies = []
    for chunk in plan.itertuples():
        tallies.append(tmp_path / f"{chunk.chunk_id}.json")
        tally = ingest_chunk(vcf, chunk.contig, chunk.start, chunk.end,
                             tmp_path / chunk.chunk_id, tallies[-1])
        reason = EXTRA_VCF_CONTIGS.get(chunk.contig)
        assert tally["records_excluded"] == ({reason: 2} if reason else {})
        assert len(read_bed(tmp_path / chunk.chunk_id)[1]) == (0 if reason else 2)
    funnel = ingest_funnel(tallies)
    assert funnel["records_excluded"] == {"alt_contig": 4, "decoy_contig": 2,
                                          "unplaced_contig": 4}
    assert funnel["records_in"] == 14
    assert funnel["variants_written"] == funnel["records_kept"] == 4
