"""Provenance: the build (version, git commit, dirty flag), per-step parameters, and the record
validated against workflow/schemas/provenance.schema.yaml."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from cohortgen import buildinfo
from cohortgen.buildinfo import BuildInfo, build_info, git_state, installed_build
from cohortgen.io.files import read_json, write_json
from cohortgen.options import STEP_OPTIONS, config_schema, fill_defaults, step_config
from cohortgen.provenance import SCHEMA_VERSION, config_hash, write_provenance

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "workflow" / "schemas" / "provenance.schema.yaml"


def demo_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def git(*args: str) -> str:
    git_path = shutil.which("git")
    if git_path is None:
        pytest.skip("git is not on PATH")
    return subprocess.run([git_path, "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=True).stdout


def written_record(tmp_path: Path, config: dict) -> dict:
    data = tmp_path / "genotypes.vcf.gz"
    data.write_bytes(b"not individual data")
    write_json(tmp_path / "manifest.json",
               {"files": [{"path": str(data), "bytes": 19, "sha256": "ab" * 32}]})
    return write_provenance(config, tmp_path / "manifest.json", tmp_path / "provenance.json")


def test_write_provenance__valid_against_schema(tmp_path):
    config = demo_config()
    record = written_record(tmp_path, config)
    assert read_json(tmp_path / "provenance.json") == record
    jsonschema.validate(record, yaml.safe_load(SCHEMA.read_text()))
    assert record["schema_version"] == SCHEMA_VERSION
    assert record["cohortgen"] == build_info().as_dict()
    assert record["software"]["cohortgen"] == build_info().version
    assert record["config_sha256"] == config_hash(config)


def test_write_provenance__schema_rejects_a_record_without_the_build(tmp_path):
    record = written_record(tmp_path, demo_config())
    schema = yaml.safe_load(SCHEMA.read_text())
    for broken in ({k: v for k, v in record.items() if k != "cohortgen"},
                   record | {"schema_version": SCHEMA_VERSION + 1},
                   record | {"cohortgen": record["cohortgen"] | {"commit": "not-hex"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_write_provenance__steps_hold_the_options_each_step_used(tmp_path):
    config = demo_config()
    config["qc"]["maf"] = 0.05
    steps = written_record(tmp_path, config)["steps"]
    assert set(steps) == set(STEP_OPTIONS)
    full = fill_defaults(config, config_schema())
    assert steps == {step: step_config(cls, full) for step, cls in STEP_OPTIONS.items()}
    assert steps["variant_qc"]["qc"]["maf"] == 0.05
    assert steps["variant_qc"]["qc"]["hwe_min_cluster_size"] == 50  # schema default
    assert "maf" not in steps["sample_qc"]["qc"]
    assert steps["report"]["report"]["min_cell_count"] == config["report"]["min_cell_count"]
    assert set(steps["report"]) == {"report", "disease_labels", "covariates"}


def test_build_info__commit_and_dirty_flag_from_the_checkout():
    if buildinfo.source_checkout() is None:
        pytest.skip("cohortgen is not running from its git checkout")
    build = build_info()
    assert build.commit == git("rev-parse", "HEAD").strip()
    dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    assert build.dirty is dirty


def test_build_info__version_from_setuptools_scm():
    # Between tags setuptools-scm gives X.Y.devN+g<commit>[.dYYYYMMDD]: the installed version
    # names the installed commit (on a clean release tag it is the bare tag version).
    build = installed_build()
    assert build.version
    if build.commit is not None and ".dev" in build.version:
        assert re.search(rf"\+g{build.commit[:7]}", build.version)


def test_build_info__without_git_metadata_falls_back(tmp_path, monkeypatch):
    assert git_state(tmp_path) is None  # not a git work tree
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert git_state(ROOT) is None
    monkeypatch.setitem(sys.modules, "cohortgen.scm_version", None)  # not installed by scm
    build = installed_build()
    assert build.commit is None
    assert build.dirty is None
    assert build.version


def test_build_key__differs_by_version_commit_and_dirty_flag():
    keys = {BuildInfo("0.1.dev3+gabc1234", "abc1234", False).key,
            BuildInfo("0.1.dev3+gabc1234", "abc1234", True).key,
            BuildInfo("0.1.dev3+gabc1234", "abd1234", False).key,
            BuildInfo("0.1.dev4+gabc1234", "abc1234", False).key,
            BuildInfo("0.1.0", None, None).key}
    assert len(keys) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9._+-]+", key) for key in keys)
