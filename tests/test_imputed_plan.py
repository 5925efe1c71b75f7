"""``cohortgen plan-imputed``: the checks across a cohort's imputed files and its genotypes (each
a clear InputError naming file and sample, contig or value; no plan written), and the plan."""

import subprocess

import pysam
import pytest

from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.ingest.imputed_plan import plan_imputed

SAMPLES = [f"s{i:02d}" for i in range(20)]


def write_vcf(path, contigs, samples=SAMPLES, length=51304566, dosage=True, index=True):
    """A tiny GT:DS VCF (bgzipped; indexed unless ``index`` is False) with 5 records per
    contig, each contig declared with ``length``."""
    fmt = "GT:DS" if dosage else "GT"
    cell = "0|1:1.000" if dosage else "0|1"
    header = ["##fileformat=VCFv4.2",
              *[f"##contig=<ID={c},length={length}>" for c in contigs],
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              *(['##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">'] if dosage
                else []),
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)]
    records = [f"{c}\t{1000 + 10 * k}\t{c}_{k}\tA\tG\t.\tPASS\t.\t{fmt}\t"
               + "\t".join([cell] * len(samples)) for c in contigs for k in range(5)]
    plain = path.with_suffix("")
    plain.write_text("\n".join(header + records) + "\n")
    if not index:
        pysam.tabix_compress(str(plain), str(path), force=True)
        return path
    return pysam.tabix_index(str(plain), preset="vcf", force=True)


@pytest.fixture
def genotypes(tmp_path):
    return write_vcf(tmp_path / "geno.vcf.gz", ["21", "22"])


def test_plan_imputed__one_chunk_per_region_of_each_file(tmp_path, genotypes):
    files = [write_vcf(tmp_path / "a.vcf.gz", ["21"]), write_vcf(tmp_path / "b.vcf.gz", ["22"])]
    plan = plan_imputed([tmp_path / "a.vcf.gz", tmp_path / "b.vcf.gz"], genotypes, 100, 0.05)
    assert plan["chunk_id"].tolist() == ["c0001", "c0002"]
    assert plan["file"].tolist() == files
    assert plan["contig"].tolist() == ["21", "22"]


def test_plan_imputed__pgen_input_planned_from_pvar(tmp_path, genotypes, plink2):
    vcf = write_vcf(tmp_path / "a.vcf.gz", ["21", "22"])
    subprocess.run([plink2, "--vcf", vcf, "dosage=DS", "--make-pgen", "--out",
                    str(tmp_path / "p")], check=True, capture_output=True)
    plan = plan_imputed([tmp_path / "p"], genotypes, 3, 0.05)
    assert plan["contig"].tolist() == ["21", "21", "22", "22"]
    assert plan["n_variants"].sum() == 10


def test_plan_imputed__hard_calls_only_file_is_planned(tmp_path, genotypes):
    """A VCF without DS, HDS or GP is read from GT (with a warning at ingest), as plink2 does."""
    write_vcf(tmp_path / "a.vcf.gz", ["21"], dosage=False)
    plan = plan_imputed([tmp_path / "a.vcf.gz"], genotypes, 100, 0.05)
    assert plan["contig"].tolist() == ["21"]


@pytest.mark.parametrize(("case", "words"), [
    ("same_contig", ["b.vcf.gz", "contig 22", "a.vcf.gz"]),
    ("other_samples", ["b.vcf.gz", "sample 3", "'x02'", "'s02'"]),
    ("sample_loss", ["lacks 5 of the 20 samples", "max_sample_loss", "s15"]),
    ("build", ["a.vcf.gz", "length 48129895", "51304566", "genome builds"]),
    ("no_index", ["a.vcf.gz", "no index", "tabix"]),
])
def test_plan_imputed__bad_input_names_file_and_value(tmp_path, genotypes, case, words):
    a = tmp_path / "a.vcf.gz"
    b = tmp_path / "b.vcf.gz"
    files = [a]
    if case == "same_contig":
        write_vcf(a, ["21", "22"])
        write_vcf(b, ["22"])
        files.append(b)
    elif case == "other_samples":
        write_vcf(a, ["21"])
        write_vcf(b, ["22"], samples=[s.replace("s02", "x02") for s in SAMPLES])
        files.append(b)
    elif case == "sample_loss":
        write_vcf(a, ["21"], samples=SAMPLES[:15])
    elif case == "build":
        write_vcf(a, ["21"], length=48129895)
    else:
        write_vcf(a, ["21"], index=False)
    out = tmp_path / "plan.tsv"
    with pytest.raises(InputError) as error:
        plan_imputed(files, genotypes, 100, 0.05)
    for word in words:
        assert word in str(error.value)
    assert main(["plan-imputed", "--imputed", *map(str, files), "--genotypes", genotypes,
                 "--out", str(out)]) != 0
    assert not out.exists()
