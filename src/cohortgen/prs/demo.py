"""A demo PGS Catalog scoring file from the simulator's truth (causal variants of one disease).

Some lines are written swapped (effect allele = REF, weight negated) or on the other strand
(complemented alleles, non-ambiguous SNPs only), chosen with a seeded generator, so the demo
exercises the matcher. The weights are the true per-ALT-allele liability effects; strand-ambiguous
(A/T, C/G) causal variants are left out, as many published scores do.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.io.files import read_json
from cohortgen.io.scorefile import write_scoring_file
from cohortgen.prs.match import complement, is_ambiguous

SWAP_FRACTION = 0.2
FLIP_FRACTION = 0.2


def truth_score_table(truth: dict, disease: str, seed: int) -> pd.DataFrame:
    """chrom, pos, effect_allele, other_allele, weight of the disease's causal variants."""
    if disease not in truth.get("diseases", {}):
        raise InputError(f"truth file has no disease {disease!r}; choose one of "
                         f"{sorted(truth.get('diseases', {}))}")
    causal = truth["diseases"][disease]["causal_variants"]
    parts = pd.DataFrame([v["id"].split(":") for v in causal],
                         columns=["chrom", "pos", "ref", "alt"])
    table = pd.DataFrame({"chrom": parts["chrom"], "pos": parts["pos"].astype(np.int64),
                          "effect_allele": parts["alt"], "other_allele": parts["ref"],
                          "weight": [v["effect_per_alt_allele"] for v in causal]})
    table = table.loc[~is_ambiguous(table["effect_allele"], table["other_allele"])]
    table = table.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    swap = rng.random(len(table)) < SWAP_FRACTION
    table.loc[swap, ["effect_allele", "other_allele"]] = table.loc[
        swap, ["other_allele", "effect_allele"]].to_numpy()
    table.loc[swap, "weight"] = -table.loc[swap, "weight"]
    snp = (table["effect_allele"].str.len() == 1) & (table["other_allele"].str.len() == 1)
    flip = (rng.random(len(table)) < FLIP_FRACTION) & snp & ~is_ambiguous(
        table["effect_allele"], table["other_allele"])
    for column in ("effect_allele", "other_allele"):
        table.loc[flip, column] = complement(table.loc[flip, column])
    return table.sort_values(["chrom", "pos"], kind="stable").reset_index(drop=True)


def write_demo_score(truth_json: Path, disease: str, genome_build: str, seed: int,
                     out: Path) -> pd.DataFrame:
    """Write the demo scoring file for ``disease`` (PGS Catalog v2.0)."""
    table = truth_score_table(read_json(Path(truth_json)), disease, seed)
    header = {"pgs_id": f"DEMO_{disease}", "pgs_name": f"simulated_truth_{disease}",
              "trait_reported": disease, "genome_build": genome_build,
              "weight_type": "beta"}
    write_scoring_file(Path(out), table, header)
    return table
