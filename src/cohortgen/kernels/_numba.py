"""Decorator policy for every Numba kernel: nopython, nogil, cached per build.

Each Snakemake job is a fresh process, so compiled kernels are cached on disk. The cache lives in
a directory keyed by the cohortgen build (version, git commit and dirty flag:
:func:`cohortgen.buildinfo.build_info`) and the Numba version (under ``$COHORTGEN_NUMBA_CACHE``
or the user cache directory), so two builds never share one cache: Numba checks a cached
kernel against its own source file only, not against the kernels and constants it calls.
OpenMP workers wait passively (``$OMP_WAIT_POLICY``, unless already set). Parallel kernels run
on the job's thread count (:func:`job_threads`).
"""

import os
from pathlib import Path

import numba

from cohortgen.buildinfo import BuildInfo, build_info


def cache_dir(build: BuildInfo) -> str:
    """The kernel cache directory of ``build`` and this Numba version (platformdirs only when
    ``$COHORTGEN_NUMBA_CACHE`` is unset, to keep the import light)."""
    root = os.environ.get("COHORTGEN_NUMBA_CACHE")
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("cohortgen")
    return str(Path(root) / f"numba-{build.key}-{numba.__version__}")


# Numba read its environment on import: set the variable for child processes and, unless the
# user set one, numba's config for this process.
os.environ.setdefault("NUMBA_CACHE_DIR", cache_dir(build_info()))
# Idle OpenMP workers (Numba's omp threading layer) sleep instead of spinning: the kernels run
# few, coarse parallel regions, and spinning workers steal cores from other jobs on the node.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if not numba.config.CACHE_DIR:
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]


def job_threads() -> int | None:
    """The thread count a scheduler gave this process through ``$OMP_NUM_THREADS`` (Snakemake
    sets it to each job's ``threads``), unless ``$NUMBA_NUM_THREADS`` is set; None otherwise.
    Numba's OpenMP layer sizes its pool from the core count alone, so without this a one-thread
    job on a 64-core node would run every parallel kernel on 64 threads."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if "NUMBA_NUM_THREADS" in os.environ or not value.isdigit() or int(value) < 1:
        return None
    return min(int(value), numba.config.NUMBA_NUM_THREADS)


_JOB_THREADS = job_threads()
if _JOB_THREADS is not None:
    numba.set_num_threads(_JOB_THREADS)


def kernel(*args, **kwargs):
    """``numba.njit`` with the project policy (``cache=True, nogil=True``) plus any options."""
    options = {"cache": True, "nogil": True, **kwargs}
    if args and callable(args[0]):
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)


def parallel_kernel(*args, **kwargs):
    """Like :func:`kernel`, with ``parallel=True`` for ``numba.prange`` loops."""
    return kernel(*args, parallel=True, **kwargs)
