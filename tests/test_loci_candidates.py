"""find-loci matches its candidates to the chunk .bim rows by (chromosome, position, GWAS-SSF
variant ID), and makes those keys for the .bim rows at a candidate's position only, not for
every variant of every chunk (10 M Python tuples and strings per disease at imputed scale)."""

import numpy as np
import pandas as pd

import cohortgen.assoc.loci as loci
from cohortgen.assoc.loci import candidate_genotypes
from cohortgen.io.bed import write_bed


def write_chunk(prefix, chrom: str, positions: list, alleles: list, seed: int) -> np.ndarray:
    """A .bed chunk of 8 samples; returns its packed rows."""
    rng = np.random.default_rng(seed)
    packed = rng.integers(0, 256, (len(positions), 2), dtype=np.uint8)
    m = len(positions)
    bim = {"chrom": [chrom] * m, "id": [f"v{seed}_{k}" for k in range(m)], "cm": [0.0] * m,
           "pos": positions, "a1": [a[0] for a in alleles], "a2": [a[1] for a in alleles]}
    fam = {"fid": [f"s{k}" for k in range(8)], "iid": [f"s{k}" for k in range(8)],
           "father": ["0"] * 8, "mother": ["0"] * 8, "sex": [1] * 8, "pheno": [-9] * 8}
    write_bed(prefix, packed, bim, fam)
    return packed


def test_candidate_genotypes__keys_only_at_candidate_positions(tmp_path, monkeypatch):
    """Two chunks of 200 variants, three candidates (one at a position shared by two alleles,
    one on X given as 23, one absent from the chunks): the candidates' rows, in .bim order, and
    variant IDs made for the 3 .bim rows at a candidate's position only (400 before)."""
    positions = [10 * k + 1 for k in range(200)]
    positions[49] = 501  # rows 49 (7_501_G_A) and 50 (7_501_T_C) share a position
    first = write_chunk(tmp_path / "c1", "7", positions, ["AG"] * 50 + ["CT"] + ["AG"] * 149, 1)
    second = write_chunk(tmp_path / "c2", "X", [10 * k + 5 for k in range(200)], ["AG"] * 200, 2)
    candidates = pd.DataFrame({"chromosome": ["7", "23", "7"],
                               "base_pair_location": [501, 1005, 999_999],
                               "variant_id": ["7_501_T_C", "23_1005_G_A", "7_999999_G_A"]})
    made = []
    real = loci.gwas_ssf_variant_ids

    def counting(chrom, *rest):
        made.append(len(chrom))
        return real(chrom, *rest)

    monkeypatch.setattr(loci, "gwas_ssf_variant_ids", counting)
    packed, rows, n_fam, mask = candidate_genotypes([tmp_path / "c1", tmp_path / "c2"],
                                                    candidates, ["s1", "s3"])
    assert np.array_equal(packed, np.vstack([first[[50]], second[[100]]]))
    assert rows.tolist() == [0, 1]
    assert n_fam == 8
    assert mask.tolist() == [False, True, False, True, False, False, False, False]
    assert sum(made) == 3
