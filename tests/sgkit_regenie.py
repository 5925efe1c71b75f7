"""Reference run of sgkit's regenie (levels 0, 1 and LOCO) for tests/test_wgr.py.

Run by the ``.refenvs/sgkit`` interpreter: ``python sgkit_regenie.py in.npz out.npz``.
in.npz: G float64 (n, m) standardised genotypes, Y float64 (n, t) standardised traits,
block_sizes int (b,), contigs int (m,), sample_blocks int (K,), alphas0 (r,), alphas1 (r,).
No covariates and no intercept (the inputs are already residualised), so level 0 is the plain
ridge of each block fitted without each contiguous sample block.
out.npz: base (b, r, n, t) level-0 predictions; loco (c, n, t) LOCO predictions as
``regenie_transform`` makes them: its stage 2 fits level 1 on level-0 predictions scaled to SD 1
(SD with n), but its stage 3 applies those coefficients to the unscaled level-0 predictions;
loco_scaled (c, n, t): stage 3 applied to the scaled level-0 predictions, as REGENIE does.
"""

import sys

import dask.array as da
import numpy as np
from sgkit.stats.regenie import _stage_1, _stage_2, _stage_3, index_block_sizes

data = np.load(sys.argv[1])
samples = tuple(int(s) for s in data["sample_blocks"])
sizes = tuple(int(s) for s in data["block_sizes"])
G = da.asarray(data["G"]).rechunk((samples, sizes))
Y = da.asarray(data["Y"]).rechunk((samples, -1))
X = da.zeros((G.shape[0], 0)).rechunk((samples, -1))
starts, _ = index_block_sizes(sizes)
base = _stage_1(G, X, Y, alphas=data["alphas0"])
coef, _ = _stage_2(base, X, Y, alphas=data["alphas1"])
loco = _stage_3(coef, base, X, Y, data["contigs"], starts)
scaled = (base - base.mean(axis=2, keepdims=True)) / base.std(axis=2, keepdims=True)
loco_scaled = _stage_3(coef, scaled, X, Y, data["contigs"], starts)
np.savez(sys.argv[2], base=base.compute(), loco=loco.compute(), loco_scaled=loco_scaled.compute())
