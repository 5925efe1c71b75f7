"""Lead variants per locus: LD clumping of one disease's GWAS with the chunk genotypes.

Clumping (:func:`cohortgen.kernels.clump.clump`, PLINK ``--clump`` semantics) runs once with the
suggestive threshold as index threshold: index variants are taken in increasing p, so the loci
whose lead has p < 5e-8 are exactly those a separate genome-wide run would give. r² is computed
on the disease's samples; for a GWAS on imputed dosages, from the dosage chunks' dosages
rounded to the nearest hard call (missing stays missing). Only the genotypes of variants
that can join a clump are read (p ≤ ``p_member`` and within ``window_bp`` of a suggestive
variant), one chunk at a time.

Output ``gwas/<disease>.loci.tsv`` (shareable: variant-level aggregates): one row per locus,
sorted by chromosome code and position, columns :data:`LOCI_COLUMNS`; ``class`` is
``genome_wide`` or ``suggestive``; span = first..last position of the clump's variants.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.files import read_tsv, write_tsv
from cohortgen.io.sumstats import chromosome_codes, gwas_ssf_variant_ids, read_gwas_ssf
from cohortgen.qc.keep import sample_mask

GENOME_WIDE = 5e-8
SUGGESTIVE = 1e-5
LOCI_COLUMNS = ["variant_id", "chromosome", "base_pair_location", "effect_allele",
                "other_allele", "beta", "standard_error", "p_value", "class", "n_variants",
                "start", "end", "span_bp"]


@dataclass(frozen=True)
class ClumpSettings:
    """PLINK ``--clump`` parameters (p1 = ``p_index``, p2 = ``p_member``, kb = window / 1000)."""

    r2: float = 0.1
    window_bp: int = 250_000
    p_index: float = SUGGESTIVE
    p_member: float = 1e-2


def clump_candidates(table: pd.DataFrame, settings: ClumpSettings) -> pd.DataFrame:
    """Rows that can join a clump: p ≤ p_member, within window_bp of a p ≤ p_index variant."""
    p = table["p_value"].to_numpy(float)
    keep = np.zeros(len(table), bool)
    for _, rows in table.groupby("chromosome", sort=False).indices.items():
        pos = table["base_pair_location"].to_numpy(np.int64)[rows]
        leads = np.sort(pos[p[rows] <= settings.p_index])
        if leads.size == 0:
            continue
        k = np.searchsorted(leads, pos)
        left = np.abs(pos - leads[np.maximum(k - 1, 0)])
        right = np.abs(leads[np.minimum(k, leads.size - 1)] - pos)
        near = np.minimum(left, right) <= settings.window_bp
        keep[rows] = near & (p[rows] <= settings.p_member)
    return table.loc[keep]


def _variant_keys(chrom_codes, pos, ids) -> list[tuple]:
    return list(zip(np.asarray(chrom_codes).astype(str).tolist(),
                    np.asarray(pos).astype(np.int64).tolist(), [str(v) for v in ids],
                    strict=True))


def read_chunk(prefix: Path, dosages: bool) -> tuple:
    """(rows, bim, sample IDs) of a chunk: a .bed's packed rows, or for ``dosages`` a dosage
    chunk (.pgen; :class:`~cohortgen.assoc.genotypes.PgenDosages`) whose rows
    :func:`packed_rows` reads; bim with chrom, pos, a1 (effect allele), a2."""
    if not dosages:
        from cohortgen.io.bed import read_bed

        packed, bim, fam = read_bed(Path(prefix))
        return packed, bim, fam["iid"].astype(str).tolist()
    from cohortgen.assoc.genotypes import PgenDosages, pgen_variants

    bim = pgen_variants(Path(prefix))
    source = PgenDosages(Path(prefix), len(bim))
    return source, bim, source.samples


def packed_rows(rows, selected: list[int]) -> np.ndarray:
    """.bed rows (uint8) of the ``selected`` rows of :func:`read_chunk`'s ``rows``: dosages are
    rounded to hard calls."""
    if isinstance(rows, np.ndarray):
        return rows[selected]
    from cohortgen.kernels.bed import MISSING, pack_dosages

    keep = np.zeros(len(rows), bool)
    keep[selected] = True
    dosage = rows.subset(keep).read(slice(None))
    return pack_dosages(np.where(np.isnan(dosage), MISSING, np.rint(dosage)).astype(np.int8))


def candidate_genotypes(prefixes: list[Path], candidates: pd.DataFrame,
                        samples: list[str], dosages: bool = False
                        ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Packed rows (m, bytes) of the candidates from the chunk .bed files, the candidate-table
    row of each, the .fam sample count and the mask (bool (n_fam,)) of ``samples``. A .bim
    variant is a candidate's when chromosome code, position and GWAS-SSF ``variant_id`` (from
    the .bim alleles, A1 the effect allele as in the association chunks) agree; keys are made
    for the .bim rows at a candidate's position only. ``dosages``: the prefixes are dosage
    chunks (:func:`read_chunk`)."""
    wanted = dict(zip(_variant_keys(candidates["chromosome"], candidates["base_pair_location"],
                                    candidates["variant_id"]), range(len(candidates)), strict=True))
    positions = candidates["base_pair_location"].to_numpy(np.int64)
    packed, table_rows, mask, n_fam = [], [], None, 0
    for prefix in prefixes:
        rows, bim, fam_ids = read_chunk(Path(prefix), dosages)
        at = np.flatnonzero(np.isin(bim["pos"].to_numpy(np.int64), positions))
        site = bim.iloc[at]
        keys = _variant_keys(chromosome_codes(site["chrom"]), site["pos"], gwas_ssf_variant_ids(
            site["chrom"], site["pos"], site["a1"], site["a2"]))
        hits = [(int(at[j]), wanted[key]) for j, key in enumerate(keys) if key in wanted]
        if mask is None:
            n_fam = len(fam_ids)
            mask = sample_mask(fam_ids, samples)
        if hits:
            packed.append(packed_rows(rows, [k for k, _ in hits]))
            table_rows.extend(t for _, t in hits)
    width = (n_fam + 3) // 4
    packed = np.vstack(packed) if packed else np.zeros((0, width), np.uint8)
    mask = np.zeros(n_fam, bool) if mask is None else mask
    return packed, np.asarray(table_rows, dtype=np.int64), n_fam, mask


def loci_table(candidates: pd.DataFrame, packed: np.ndarray, n_fam: int, mask: np.ndarray,
               settings: ClumpSettings) -> pd.DataFrame:
    """Clump per contig; one row per index variant (columns :data:`LOCI_COLUMNS`)."""
    from cohortgen.kernels.clump import clump

    rows = []
    for _, part in candidates.groupby("chromosome", sort=True):
        order = np.argsort(part["base_pair_location"].to_numpy(np.int64), kind="stable")
        part = part.iloc[order]
        pos = part["base_pair_location"].to_numpy(np.int64)
        is_index, clump_of = clump(packed[part["_packed_row"].to_numpy()], n_fam, pos,
                                   part["p_value"].to_numpy(float), settings.r2,
                                   settings.window_bp, settings.p_index, settings.p_member, mask)
        for i in np.flatnonzero(is_index):
            members = pos[clump_of == i]
            lead = part.iloc[i]
            rows.append({**{c: lead[c] for c in LOCI_COLUMNS[:8]},
                         "class": "genome_wide" if lead["p_value"] < GENOME_WIDE else "suggestive",
                         "n_variants": len(members), "start": int(members.min()),
                         "end": int(members.max()),
                         "span_bp": int(members.max() - members.min())})
    table = pd.DataFrame(rows, columns=LOCI_COLUMNS)
    return table.sort_values(["chromosome", "base_pair_location"],
                             key=lambda s: pd.to_numeric(s), ignore_index=True)


def disease_samples(null_tsv: Path, disease: str) -> list[str]:
    """Sample IDs included in a disease's null model (non-missing phenotype and covariates)."""
    null = read_tsv(null_tsv, dtype={"sample_id": str})
    return null.loc[null[f"y_{disease}"].notna(), "sample_id"].tolist()


def find_loci(disease: str, gwas_gz: Path, prefixes: list[Path], null_tsv: Path, out_tsv: Path,
              settings: ClumpSettings | None = None, dosages: bool = False) -> pd.DataFrame:
    """Write ``gwas/<disease>.loci.tsv`` from the GWAS-SSF file and the chunk genotypes (the
    dosage chunks with ``dosages``). Only the rows that can join a clump (p ≤ ``p_member``)
    and the columns of a locus row are read, so memory does not grow with the variant count."""
    settings = settings or ClumpSettings()
    table = read_gwas_ssf(Path(gwas_gz), LOCI_COLUMNS[:8],
                          lambda block: block["p_value"].to_numpy(float) <= settings.p_member)
    candidates = clump_candidates(table, settings).reset_index(drop=True)
    if candidates.empty:
        loci = pd.DataFrame(columns=LOCI_COLUMNS)
    else:
        packed, table_rows, n_fam, mask = candidate_genotypes(
            prefixes, candidates, disease_samples(null_tsv, disease), dosages)
        candidates = candidates.iloc[table_rows].assign(_packed_row=np.arange(len(table_rows)))
        loci = loci_table(candidates, packed, n_fam, mask, settings)
    write_tsv(out_tsv, loci, float_format="%.6g")
    return loci
