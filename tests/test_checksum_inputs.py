"""The imputed files' checksums, one job per file (``checksum_imputed_file``, ``cohortgen
checksum``), gathered by ``validate_inputs`` into the input manifest: the manifest and the
provenance record hold what one serial job hashed before, and a changed imputed file is hashed
again alone and reruns what depends on it."""

import hashlib
import re
import shutil
from pathlib import Path

import pytest
from test_imputed_workflow import dry_run_jobs
from test_workflow import REPO, run_snakemake

from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.ingest.validate import file_record, read_file_record, validate_inputs
from cohortgen.io.files import read_json
from cohortgen.provenance import provenance_record
from cohortgen.simulate import simulate_cohort

DEMO_CONFIG = REPO / "config" / "config.yaml"
DEMO_IMPUTED = [f"resources/demo/imputed.chr{c}.vcf.gz" for c in ("1", "2", "3", "X")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bytes(path: Path, size: int, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes((seed * 7 + i * 13) % 256 for i in range(size)))
    return path


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """A working directory holding what the demo config names: a small simulated cohort as
    resources/demo/genotypes.vcf.gz and phenotypes.tsv, and four imputed files with their
    .tbi and the published score file (arbitrary bytes: nothing up to the manifest parses
    them)."""
    workdir = tmp_path_factory.mktemp("demo")
    demo = workdir / "resources" / "demo"
    simulate_cohort(demo, n_samples=100, n_chromosomes=1, chromosome_mb=1.0, seed=3,
                    n_related_pairs=2, n_low_call_samples=2)
    for k, name in enumerate(DEMO_IMPUTED):
        write_bytes(workdir / name, 3000 + k, seed=k)
        write_bytes(workdir / f"{name}.tbi", 100 + k, seed=10 + k)
    write_bytes(demo / "pgs_hypertension.txt.gz", 10, seed=20)
    return workdir


def test_checksum__manifest_and_provenance_hold_each_imputed_file(tmp_path, demo_dir):
    """``cohortgen checksum`` per file, then ``validate --imputed-checksums``: the manifest
    lists the genotype, phenotype and imputed files with their sizes and SHA-256 (as the one
    serial job did), and the provenance record each imputed path with its SHA-256."""
    demo = demo_dir / "resources" / "demo"
    imputed = [demo_dir / name for name in DEMO_IMPUTED]
    records = []
    for k, path in enumerate(imputed):
        records.append(tmp_path / f"{k}.json")
        main(["checksum", "--file", str(path), "--out", str(records[-1])])
    manifest_json = tmp_path / "manifest.json"
    main(["validate", "--genotypes", str(demo / "genotypes.vcf.gz"), "--phenotypes",
          str(demo / "phenotypes.tsv"), "--manifest", str(manifest_json),
          "--imputed-checksums", *map(str, records)])
    manifest = read_json(manifest_json)
    expected = [demo / "genotypes.vcf.gz", demo / "phenotypes.tsv", *imputed]
    assert manifest["files"] == [{"path": str(p), "bytes": p.stat().st_size,
                                  "sha256": sha256(p)} for p in expected]
    inputs = provenance_record({}, manifest)["inputs"]
    assert {str(p): sha256(p) for p in imputed}.items() <= inputs.items()
    alone = validate_inputs(str(demo / "genotypes.vcf.gz"), str(demo / "phenotypes.tsv"),
                            manifest["diseases"], manifest["covariates"],
                            tmp_path / "direct.json",
                            imputed_records=[file_record(p) for p in imputed])
    assert alone == manifest


def test_read_file_record__a_file_changed_after_its_checksum_names_both(tmp_path):
    path = write_bytes(tmp_path / "imputed.chr1.vcf.gz", 500, seed=1)
    main(["checksum", "--file", str(path), "--out", str(tmp_path / "0.json")])
    assert read_file_record(tmp_path / "0.json") == file_record(path)
    write_bytes(path, 400, seed=1)
    with pytest.raises(InputError, match=r"imputed\.chr1\.vcf\.gz: has 400 bytes, but 500 when "
                                         r"its checksum \(.*0\.json\) was taken"):
        read_file_record(tmp_path / "0.json")
    path.unlink()
    with pytest.raises(InputError, match=r"imputed\.chr1\.vcf\.gz: is gone"):
        read_file_record(tmp_path / "0.json")


def test_workflow__one_checksum_job_per_imputed_file_of_the_demo_config(tmp_path, demo_dir):
    """The demo config's rule graph: 8 checksum jobs (4 imputed VCFs and their .tbi), each
    reading its file, all inputs of the one validate_inputs job, which hashes no imputed
    file itself."""
    workdir = tmp_path / "run"
    shutil.copytree(demo_dir, workdir)
    jobs = dry_run_jobs(workdir, DEMO_CONFIG)
    assert jobs["checksum_imputed_file"] == 8
    assert jobs["validate_inputs"] == 1
    result = run_snakemake(workdir, DEMO_CONFIG, "--dry-run", "--printshellcmds",
                           "results/demo/input/manifest.json")
    assert result.returncode == 0, result.stderr[-3000:]
    files = [name for imputed in DEMO_IMPUTED for name in (imputed, f"{imputed}.tbi")]
    commands = re.findall(r"-m cohortgen checksum --file (\S+) --out (\S+)", result.stdout)
    assert sorted(commands) == sorted(
        (name, f"results/demo/input/imputed/{k}.json") for k, name in enumerate(files))
    validate = re.search(r"-m cohortgen validate .*", result.stdout).group(0)
    assert validate.endswith(" 2> results/demo/logs/validate_inputs.log")
    assert "--imputed-checksums " + " ".join(
        f"results/demo/input/imputed/{k}.json" for k in range(8)) in validate


def test_workflow__a_changed_imputed_file_is_hashed_again_alone(tmp_path, demo_dir):
    """After a run up to the manifest, a rewritten imputed file reruns its own checksum job
    and validate_inputs (so everything downstream of the manifest), not the other seven; the
    new manifest holds its new checksum."""
    workdir = tmp_path / "run"
    shutil.copytree(demo_dir, workdir)
    target = "results/demo/input/manifest.json"
    result = run_snakemake(workdir, DEMO_CONFIG, target)
    assert result.returncode == 0, result.stderr[-3000:]
    changed = write_bytes(workdir / DEMO_IMPUTED[1], 3001, seed=99)
    rerun = run_snakemake(workdir, DEMO_CONFIG, target, "--dry-run", "--quiet", "rules")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", rerun.stdout, flags=re.M))
    assert counts == {"checksum_imputed_file": "1", "validate_inputs": "1", "total": "2"}
    result = run_snakemake(workdir, DEMO_CONFIG, target)
    assert result.returncode == 0, result.stderr[-3000:]
    inputs = provenance_record({}, read_json(workdir / target))["inputs"]
    assert inputs[DEMO_IMPUTED[1]] == sha256(changed)
    assert inputs[DEMO_IMPUTED[0]] == sha256(workdir / DEMO_IMPUTED[0])
