"""The kernel policy of ``cohortgen.kernels._numba``: parallel kernels on the job's threads."""

import os
import subprocess
import sys

import pytest

PROBE = ("import numba, numpy as np; import cohortgen.kernels._numba; "
         "from cohortgen.kernels.bed import pack_dosages; "
         "pack_dosages(np.zeros((64, 8), np.int8)); print(numba.get_num_threads())")


def _threads_with(env: dict) -> int:
    base = {k: v for k, v in os.environ.items()
            if k not in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env},
                          capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


def test_job_threads__snakemake_omp_num_threads_caps_numba_threads():
    cores = _threads_with({})
    if cores < 2:
        pytest.skip("needs 2 cores to tell a cap from the default")
    assert _threads_with({"OMP_NUM_THREADS": "1"}) == 1
    assert _threads_with({"OMP_NUM_THREADS": str(cores + 5)}) == cores
    assert _threads_with({"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "2"}) == 2
    assert _threads_with({"OMP_NUM_THREADS": "0"}) == cores


def test_cache_dir__keyed_by_the_build_and_numba_version(monkeypatch, tmp_path):
    import numba

    from cohortgen.buildinfo import BuildInfo
    from cohortgen.kernels._numba import cache_dir

    monkeypatch.setenv("COHORTGEN_NUMBA_CACHE", str(tmp_path))
    builds = [BuildInfo("0.1.dev3+gabc1234", "abc1234", False),
              BuildInfo("0.1.dev3+gabc1234", "abc1234", True),
              BuildInfo("0.1.dev3+gabc1234", "abd1234", False)]
    dirs = [cache_dir(build) for build in builds]
    assert len(set(dirs)) == len(builds)
    assert all(d.startswith(str(tmp_path)) and d.endswith(numba.__version__) for d in dirs)


def test_cache_dir__a_job_caches_under_its_build(monkeypatch, tmp_path):
    from cohortgen.buildinfo import build_info
    from cohortgen.kernels._numba import cache_dir

    monkeypatch.setenv("COHORTGEN_NUMBA_CACHE", str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    probe = "import numba, cohortgen.kernels._numba; print(numba.config.CACHE_DIR)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == cache_dir(build_info())
    assert build_info().key in done.stdout
