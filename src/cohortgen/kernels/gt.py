"""Decoding of VCF GT allele indices into ALT dosages.

Input ``alleles``: int16, shape (n_variants, n_samples, 2), the allele indices of each call as
cyvcf2's ``Variant.genotype.array()`` gives them: >= 0 allele index, -1 missing allele ('.'),
-2 vector end (the second slot of a haploid call). Output: int8 ALT (allele 1) dosage 0/1/2, with
``MISSING`` (-1) for missing calls. Rules: phased and unphased alike; a haploid call counts as
homozygous (as PLINK 2 codes haploid calls); a half-call ('./1') is missing.
"""

import numpy as np

from cohortgen.kernels._numba import kernel

MISSING = np.int8(-1)


@kernel
def decode_biallelic(alleles: np.ndarray) -> np.ndarray:
    """ALT dosage, int8 shape (n_variants, n_samples), from allele indices (see module doc)."""
    m, n = alleles.shape[0], alleles.shape[1]
    out = np.empty((m, n), dtype=np.int8)
    for j in range(m):
        for i in range(n):
            a, b = alleles[j, i, 0], alleles[j, i, 1]
            if a < 0:
                out[j, i] = MISSING
            elif b == -2:
                out[j, i] = 2 if a == 1 else 0
            elif b < 0:
                out[j, i] = MISSING
            else:
                out[j, i] = (a == 1) + (b == 1)
    return out
