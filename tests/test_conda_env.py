"""envs/cohortgen.yaml, the env of `snakemake --use-conda`: same pins as pyproject.toml, and its
editable install of the package resolves to this checkout from where conda runs pip.

No conda client or conda channel is reachable from the test machines, so the env is not built
here: these tests check what can be checked without one (README, "Running on a cluster").
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from pip._internal.network.session import PipSession
from pip._internal.req.req_file import parse_requirements

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV_FILE = REPO / "envs/cohortgen.yaml"


def pip_section(env: dict) -> list[str]:
    return next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))


def test_conda_env__pins_are_pyprojects():
    env = yaml.safe_load(ENV_FILE.read_text())
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins = [line for line in pip_section(env) if not line.startswith("-e ")]
    assert sorted(pins) == sorted(pyproject["project"]["dependencies"])
    python = next(item for item in env["dependencies"] if str(item).startswith("python="))
    assert pyproject["project"]["requires-python"] == f">={python[7:]},<3.12"


def test_conda_env__editable_install_resolves_to_the_checkout(tmp_path, monkeypatch):
    """As under --use-conda: Snakemake copies the env file to .snakemake/conda/<hash>.yaml, and
    conda writes the pip section to a requirements file beside it and runs pip there; the
    workflow has set COHORTGEN_REPO (checked below)."""
    conda_dir = tmp_path / ".snakemake/conda"
    conda_dir.mkdir(parents=True)
    requirements = conda_dir / "condaenv.abc.requirements.txt"
    requirements.write_text("\n".join(pip_section(yaml.safe_load(ENV_FILE.read_text()))))
    monkeypatch.chdir(conda_dir)
    monkeypatch.setenv("COHORTGEN_REPO", str(REPO))
    editable = [req for req in parse_requirements(str(requirements), session=PipSession())
                if req.is_editable]
    assert len(editable) == 1
    checkout = Path(editable[0].requirement).resolve()
    assert checkout == REPO
    assert tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["name"] == (
        "cohortgen")


@pytest.mark.slow
def test_conda_env__workflow_names_the_checkout(tmp_path):
    """A job started by the workflow sees COHORTGEN_REPO, the checkout holding the Snakefile."""
    (tmp_path / "Snakefile").write_text(
        f'include: "{REPO}/workflow/rules/common.smk"\n\n'
        'rule repo:\n    output: "repo.txt"\n    shell: "printf %s $COHORTGEN_REPO > {output}"\n')
    env = {key: value for key, value in os.environ.items() if key != "COHORTGEN_REPO"}
    result = subprocess.run([str(BIN / "snakemake"), "--snakefile", str(tmp_path / "Snakefile"),
                             "--directory", str(tmp_path), "--cores", "1"],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "repo.txt").read_text() == str(REPO)
