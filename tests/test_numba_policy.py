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
