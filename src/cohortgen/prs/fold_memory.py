"""Memory of an in-cohort PRS fold job (``cohortgen prs-incohort-fold``, the workflow's
``build_incohort_fold``) from the variants it reads, for the rule's ``mem_mb``. Standard library
only: Snakemake imports this module while it plans the jobs.

Model (MB = 10^6 bytes), from what the job holds at its peak (:mod:`cohortgen.prs.folds`):

- :data:`BASE_MB`: the Python process with NumPy, SciPy, pandas, Numba and the compiled kernels;
- :data:`BYTES_PER_VARIANT` per variant read: the training LD (float32 blocks of at most 500
  variants, about 2 kB per variant) and the per-variant vectors (the training and
  inner-training GWAS of every disease, allele frequencies, weights);
- per sample, one block of :data:`BLOCK_VARIANTS` decoded variants: float64 hard calls (8 bytes
  per variant and sample) on the array path; with dosages 16 bytes, which covers the dosage
  reader's largest holding, three float64 blocks of :data:`cohortgen.prs.dosages.BLOCK` (1,024)
  variants when it gathers samples (24 kB per sample against 32 kB).

At 21,000 samples × 1 M array variants it gives 3,944 MB, where a fold job measured 3,641 MiB
(3,818 MB) at its peak (``bench/bench_workflow.py --alone 21000 1000000``).
"""

import math
from pathlib import Path

BASE_MB = 600
BYTES_PER_VARIANT = 3000
BLOCK_VARIANTS = 2048
"""Variants decoded at a time: :data:`cohortgen.prs.folds.CHUNK_VARIANTS`."""
BYTES_PER_DECODED = {False: 8, True: 16}
"""Bytes per decoded variant and sample: hard calls (False), dosages (True)."""


def fold_mem_mb(samples: int, variants: int, dosages: bool) -> int:
    """Peak memory in MB (rounded up) of a fold job reading ``variants`` variants of ``samples``
    samples, from dosages or array hard calls (module docstring)."""
    per_sample = BLOCK_VARIANTS * BYTES_PER_DECODED[dosages]
    return math.ceil(BASE_MB + (variants * BYTES_PER_VARIANT + samples * per_sample) / 1e6)


def listed_variants(path: Path) -> int:
    """Entries of a ``prs.incohort.variants`` list, at most: its lines that are neither blank
    nor a ``#`` comment (:func:`cohortgen.prs.incohort.read_variant_list` reads the same
    lines; an entry listed twice counts twice here)."""
    with Path(path).open("rb") as handle:
        return sum(1 for line in handle if line.strip() and not line.startswith(b"#"))
