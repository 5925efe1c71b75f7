"""``cohortgen plan-imputed`` checks the genome build of inputs that declare no contig lengths
(BGEN and PGEN imputed files, a PLINK genotype fileset) by their positions: a variant beyond a
chromosome's length in ``genome_build`` is refused, naming the file, chromosome and position."""

import subprocess

import pytest

from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.genome import contig_length
from cohortgen.ingest.imputed_plan import plan_imputed

SAMPLES = [f"s{i:02d}" for i in range(20)]

GRCH37_ONLY = ("1", 249_100_000)
"""A site of GRCh37's chromosome 1 (249,250,621 bp) beyond GRCh38's (248,956,422 bp)."""
GRCH38_ONLY = ("17", 83_100_000)
"""A site of GRCh38's chromosome 17 (83,257,441 bp) beyond GRCh37's (81,195,210 bp)."""


def write_plain_vcf(path, contig, last):
    """A GT:DS VCF (no ##contig lengths) of 5 records of ``contig``, the last at ``last``."""
    header = ["##fileformat=VCFv4.2",
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              '##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">',
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(SAMPLES)]
    cells = "\t".join(["0|1:1.000", "0|0:0.000"] * (len(SAMPLES) // 2))
    records = [f"{contig}\t{last - 1000 * k}\tv{k}\tA\tG\t.\tPASS\t.\tGT:DS\t{cells}"
               for k in reversed(range(5))]
    path.write_text("\n".join(header + records) + "\n")
    return path


def convert(plink2, vcf, out, kind):
    """``vcf`` as ``kind``: "pgen" (prefix), "bgen" (.bgen + .sample) or "bed" (prefix)."""
    make = {"pgen": ["--make-pgen"], "bgen": ["--export", "bgen-1.2", "ref-first"],
            "bed": ["--make-bed"]}[kind]
    subprocess.run([plink2, "--vcf", str(vcf), "dosage=DS", *make, "--out", str(out)],
                   check=True, capture_output=True)
    return out.with_suffix(".bgen") if kind == "bgen" else out


@pytest.fixture
def array(tmp_path, plink2):
    """Genotypes as a PLINK fileset with sites of both builds (every position < both lengths)."""
    vcf = write_plain_vcf(tmp_path / "array.vcf", "1", 10_000_000)
    return str(convert(plink2, vcf, tmp_path / "array", "bed"))


def test_contig_length__both_builds_and_aliases():
    assert contig_length("chr1", "GRCh37") == 249_250_621
    assert contig_length("X", "hg38") == 156_040_895
    assert contig_length("XY", "GRCh38") == contig_length("23", "GRCh38")
    assert contig_length("MT", "GRCh38") is None
    assert contig_length("chrUn_gl000220", "GRCh37") is None


@pytest.mark.parametrize("kind", ["pgen", "bgen"])
@pytest.mark.parametrize(("site", "build", "other"), [(GRCH37_ONLY, "GRCh38", "GRCh37"),
                                                      (GRCH38_ONLY, "GRCh37", "GRCh38")])
def test_plan_imputed__positions_beyond_the_build_are_refused(tmp_path, plink2, array, kind,
                                                               site, build, other):
    contig, last = site
    vcf = write_plain_vcf(tmp_path / "imp.vcf", contig, last)
    imputed = convert(plink2, vcf, tmp_path / "imp", kind)
    with pytest.raises(InputError) as error:
        plan_imputed([imputed], array, 100, 0.05, build)
    message = str(error.value)
    for word in (str(imputed), f"chromosome {contig}", str(last), build, f"fits {other}",
                 "genome_build"):
        assert word in message
    plan = plan_imputed([imputed], array, 100, 0.05, other)
    assert plan["end"].max() == last


def test_plan_imputed__plink_genotypes_beyond_the_build_are_refused(tmp_path, plink2):
    contig, last = GRCH37_ONLY
    genotypes = convert(plink2, write_plain_vcf(tmp_path / "g.vcf", contig, last),
                        tmp_path / "geno", "bed")
    imputed = convert(plink2, write_plain_vcf(tmp_path / "imp.vcf", "1", 1_000_000),
                      tmp_path / "imp", "pgen")
    with pytest.raises(InputError, match=rf"geno\.bim: chromosome 1 .* {last}, beyond its "
                                         r"length in GRCh38"):
        plan_imputed([imputed], str(genotypes), 100, 0.05, "GRCh38")
    assert len(plan_imputed([imputed], str(genotypes), 100, 0.05, "GRCh37")) == 1


def test_plan_imputed_cli__reads_genome_build_from_options(tmp_path, plink2, array):
    contig, last = GRCH38_ONLY
    imputed = convert(plink2, write_plain_vcf(tmp_path / "imp.vcf", contig, last),
                      tmp_path / "imp", "pgen")
    out = tmp_path / "plan.tsv"
    command = ["plan-imputed", "--imputed", str(imputed), "--genotypes", array, "--out", str(out)]
    assert main([*command, "--options", '{"genome_build": "GRCh37"}']) != 0
    assert not out.exists()
    assert main([*command, "--options", '{"genome_build": "GRCh38"}']) == 0
    assert out.exists()
