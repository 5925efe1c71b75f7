"""Shared fixtures: reference tools (PLINK 2, plink1.9) and small simulated cohorts."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


def require_tool(name: str) -> str:
    """Path of an external reference tool; skip the test if absent, but fail under ``CI=true``."""
    path = shutil.which(name)
    if path is None:
        message = f"reference tool {name!r} is not on PATH (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_reference_env(name: str, executable: str) -> str:
    """Path of ``executable`` in the test-only reference environment ``.refenvs/<name>``.

    ``make test`` builds these environments (Makefile ``REF_TOOLS``); the test is skipped when
    the environment is absent, but fails under ``CI=true``.
    """
    path = Path(__file__).resolve().parent.parent / ".refenvs" / name / "bin" / executable
    if not path.is_file():
        message = f"reference environment {name!r} has no {executable!r} (make test builds it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(path)


@pytest.fixture(scope="session")
def plink2() -> str:
    """Path of Debian's ``plink2`` (v2.00a3.5)."""
    return require_tool("plink2")


@pytest.fixture(scope="session")
def plink19() -> str:
    """Path of Debian's ``plink1.9``."""
    return require_tool("plink1.9")


@pytest.fixture(scope="session")
def simulated_bfile(tmp_path_factory, plink2):
    """~4,000 variants on one 10 Mb chromosome, 500 samples in 3 populations, via plink2."""
    from cohortgen.simulate import simulate_cohort

    out = tmp_path_factory.mktemp("simulated_bfile")
    simulate_cohort(out, n_samples=500, n_chromosomes=1, chromosome_mb=10.0, seed=3)
    prefix = out / "g"
    command = [plink2, "--vcf", out / "genotypes.vcf.gz", "--make-bed", "--out", prefix,
               "--threads", "2"]
    subprocess.run(command, check=True, capture_output=True)
    return prefix


def slope_and_max_abs_diff(reference, ours) -> tuple[float, float]:
    """Least-squares slope of ``ours`` on ``reference`` (with an intercept) and the largest
    absolute difference: a reference comparison checks both, since a correlation alone accepts
    any rescaling or shift."""
    reference = np.asarray(reference, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    slope = np.polyfit(reference, ours, 1)[0]
    return float(slope), float(np.max(np.abs(ours - reference)))
