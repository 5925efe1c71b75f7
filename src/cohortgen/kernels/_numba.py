"""Decorator policy for every Numba kernel: nopython, nogil, cached per package version.

Each Snakemake job is a fresh process, so compiled kernels are cached on disk. The cache lives in
a directory keyed by the cohortgen and Numba versions (``$COHORTGEN_NUMBA_CACHE`` or the user
cache directory), so two versions never share one cache.
"""

import os
from pathlib import Path

import platformdirs

from cohortgen import __version__


def _cache_dir() -> str:
    import importlib.metadata

    root = os.environ.get("COHORTGEN_NUMBA_CACHE") or platformdirs.user_cache_dir("cohortgen")
    numba_version = importlib.metadata.version("numba")
    return str(Path(root) / f"numba-{__version__}-{numba_version}")


os.environ.setdefault("NUMBA_CACHE_DIR", _cache_dir())

import numba  # noqa: E402  (the cache directory must be set before numba reads its config)

if not numba.config.CACHE_DIR:
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]


def kernel(*args, **kwargs):
    """``numba.njit`` with the project policy (``cache=True, nogil=True``) plus any options."""
    options = {"cache": True, "nogil": True, **kwargs}
    if args and callable(args[0]):
        return numba.njit(**options)(args[0])
    return numba.njit(*args, **options)


def parallel_kernel(*args, **kwargs):
    """Like :func:`kernel`, with ``parallel=True`` for ``numba.prange`` loops."""
    return kernel(*args, parallel=True, **kwargs)
