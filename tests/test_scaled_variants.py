"""``scaled(per_million_variants=...)``: a rule's memory grows with the variants of the cohort's
chunk plan (the in-cohort PRS fold job's training LD does)."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

SNAKEFILE = """
configfile: "config.yaml"
include: "{common}"

rule all:
    input: "results/toy/fold.done"

checkpoint plan_chunks:
    output: plan="results/{{cohort}}/chunks/plan.tsv"
    shell:
        "printf 'chunk_id\\\\tcontig\\\\tstart\\\\tend\\\\tn_variants\\\\n"
        "c0000\\\\t1\\\\t1\\\\t9\\\\t250000\\\\n"
        "c0001\\\\t2\\\\t1\\\\t9\\\\t500000\\\\n' > {{output}}"

rule fold:
    input: chunk_files("results/{{cohort}}/chunks/plan.tsv")
    output: "results/{{cohort}}/fold.done"
    resources:
        mem_mb=scaled(100, per_1000_samples=10, per_million_variants=2000),
    shell: "touch {{output}}"
"""


def test_scaled__memory_grows_with_the_variants_of_the_plan(tmp_path):
    """10 samples and 750,000 planned variants: 100 + 10 x 0.01 + 2,000 x 0.75 = 1,600.1 MB,
    rounded up."""
    sheet = tmp_path / "phenotypes.tsv"
    sheet.write_text("sample_id\tsex\n" + "".join(f"s{i}\t1\n" for i in range(10)))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(
        {"cohorts": {"toy": {"genotypes": "unused.vcf.gz", "phenotypes": str(sheet)}}}))
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(
        common=REPO / "workflow/rules/common.smk"))
    snakemake = Path(sys.executable).parent / "snakemake"
    result = subprocess.run([str(snakemake), "--directory", str(tmp_path), "--snakefile",
                             str(tmp_path / "Snakefile"), "--cores", "1"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "mem_mb=1601" in result.stdout + result.stderr
