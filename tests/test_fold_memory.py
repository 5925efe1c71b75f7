"""The in-cohort PRS fold job's memory (:mod:`cohortgen.prs.fold_memory`, the workflow's
``build_incohort_fold`` ``mem_mb``): sized from the variants the job reads (the imputed plan's
with dosages, the array plan's without, the ``prs.incohort.variants`` list when shorter), not
from the array plan alone (a 1.1 M list of imputed variants at 21,000 samples was killed once
and retried)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cohortgen.prs import dosages, folds
from cohortgen.prs.fold_memory import (
    BLOCK_VARIANTS,
    BYTES_PER_DECODED,
    fold_mem_mb,
    listed_variants,
)

REPO = Path(__file__).resolve().parents[1]

PLAN = (r"printf 'chunk_id\\tcontig\\tstart\\tend\\tn_variants\\n"
        r"c0000\\t1\\t1\\t9\\tFIRST\\nc0001\\t2\\t1\\t9\\tSECOND\\n' > {output}")

SNAKEFILE = """
configfile: "config.yaml"
include: "COMMON"

rule all:
    input: expand("results/{cohort}/fold.done", cohort=config["cohorts"])

checkpoint plan_chunks:
    output: plan="results/{cohort}/chunks/plan.tsv"
    shell: "ARRAY_PLAN"

checkpoint plan_imputed_chunks:
    output: plan="results/{cohort}/imputed/plan.tsv"
    shell: "IMPUTED_PLAN"

rule fold:
    input:
        plan=incohort_plan,
    output: "results/{cohort}/fold.done"
    resources:
        mem_mb=incohort_fold_mem_mb,
    shell: "touch {output}"
""".replace("ARRAY_PLAN", PLAN.replace("FIRST", "250000").replace("SECOND", "500000")).replace(
    "IMPUTED_PLAN", PLAN.replace("FIRST", "700000").replace("SECOND", "500000"))


def fold_mem_mb_of_rule(tmp_path: Path, listed: Path | None) -> dict[str, int]:
    """``mem_mb`` of the fold job of a cohort without and one with ``imputed`` (10 samples;
    array plan 750,000 variants, imputed plan 1,200,000), as Snakemake schedules them."""
    tmp_path.mkdir(exist_ok=True)
    sheet = tmp_path / "phenotypes.tsv"
    sheet.write_text("sample_id\tsex\n" + "".join(f"s{i}\t1\n" for i in range(10)))
    cohorts = {"array": {"genotypes": "unused.vcf.gz", "phenotypes": str(sheet)},
               "dosage": {"genotypes": "unused.vcf.gz", "phenotypes": str(sheet),
                          "imputed": "unused.chr1.vcf.gz"}}
    incohort = {"variants": str(listed)} if listed else {}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(
        {"cohorts": cohorts, "prs": {"incohort": incohort}}))
    (tmp_path / "Snakefile").write_text(SNAKEFILE.replace(
        "COMMON", str(REPO / "workflow/rules/common.smk")))
    command = [str(Path(sys.executable).parent / "snakemake"), "--directory", str(tmp_path),
               "--snakefile", str(tmp_path / "Snakefile"), "--cores", "1"]
    dry = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, check=False)
    assert dry.returncode == 0, dry.stdout[-4000:]  # before the plans exist: <TBD>, no crash
    assert dry.stdout.count("mem_mb=<TBD>") == 2
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    log = result.stdout + result.stderr
    jobs = log.split("rule fold:")[1:]
    return {job.split("results/")[1].split("/")[0]: int(job.split("mem_mb=")[1].split(",")[0])
            for job in jobs}


def test_incohort_fold_mem_mb__variants_of_the_plan_the_job_reads(tmp_path):
    """Array: 600 + 750,000 x 3,000 B + 10 x 2,048 x 8 B = 2,850.2 MB -> 2,851; dosages: the
    imputed plan's 1,200,000 variants, 16 B per decoded dosage: 4,200.3 -> 4,201 (the array plan
    gave 2,851 to both before)."""
    assert fold_mem_mb_of_rule(tmp_path, None) == {"array": 2851, "dosage": 4201}


def test_incohort_fold_mem_mb__a_shorter_list_bounds_the_variants(tmp_path):
    """A list of 100,000 entries (plus a comment and blank lines): 600 + 300 + 0.16 -> 901 and
    600 + 300 + 0.33 -> 901; a list longer than the plan leaves the plan's count."""
    listed = tmp_path / "hapmap3.txt"
    listed.write_text("# id\n\n" + "".join(f"rs{i}\n" for i in range(100_000)) + "  \n")
    assert fold_mem_mb_of_rule(tmp_path / "short", listed) == {"array": 901, "dosage": 901}
    listed.write_text("".join(f"rs{i}\n" for i in range(1_000_000)))
    assert fold_mem_mb_of_rule(tmp_path / "long", listed) == {"array": 2851, "dosage": 3601}


def test_fold_mem_mb__model_at_21000_samples():
    # 1 M array variants: 600 + 3,000 + 21,000 x 16,384 B = 3,944.1 MB (measured peak 3,818 MB)
    assert fold_mem_mb(21_000, 1_000_000, dosages=False) == 3945
    # 1.1 M listed imputed variants: 600 + 3,300 + 21,000 x 32,768 B = 4,588.1 MB
    assert fold_mem_mb(21_000, 1_100_000, dosages=True) == 4589
    assert fold_mem_mb(0, 0, dosages=True) == 600


def test_fold_mem_mb__block_is_the_folds_decoding_block():
    assert BLOCK_VARIANTS == folds.CHUNK_VARIANTS
    # the dosage reader holds at most three float64 blocks of dosages.BLOCK rows per sample
    assert BLOCK_VARIANTS * BYTES_PER_DECODED[True] >= 3 * 8 * dosages.BLOCK


@pytest.mark.parametrize(("text", "expected"), [
    ("", 0), ("rs1\nrs2", 2), ("#c\n\n  \nrs1 x\n1:5:A:G\n", 2), ("rs1\r\nrs2\r\n", 2)])
def test_listed_variants__counts_entry_lines(tmp_path, text, expected):
    path = tmp_path / "list.txt"
    path.write_bytes(text.encode())
    assert listed_variants(path) == expected
