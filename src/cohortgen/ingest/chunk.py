"""Ingest one chunk: genotypes of one region -> PLINK 1 .bed/.bim/.fam + record tally (JSON).

Every sample of the genotype file is kept, in file order (sample QC decides later). The .bim's
A1 (5th column) is the ALT allele, so .bed dosages count ALT alleles.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.ingest.plan import is_plink_prefix
from cohortgen.io.bed import BIM_COLUMNS, read_bed, read_bim, write_bed
from cohortgen.io.vcf import RecordTally, read_region_blocks, vcf_samples
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.gt import decode_biallelic


def fam_for_samples(samples: list[str]) -> pd.DataFrame:
    """A .fam frame for unrelated samples of unknown sex and phenotype (FID = IID)."""
    return pd.DataFrame({"fid": samples, "iid": samples, "father": "0", "mother": "0",
                         "sex": 0, "pheno": -9})


def _vcf_chunk(path: Path, contig: str, start: int, end: int, tally: RecordTally):
    samples = vcf_samples(path)
    packed, bims = [], []
    for block in read_region_blocks(path, contig, start, end, tally):
        packed.append(pack_dosages(decode_biallelic(block.alleles)))
        bims.append(pd.DataFrame({"chrom": block.chrom, "id": block.ids, "cm": 0.0,
                                  "pos": block.pos, "a1": block.alt, "a2": block.ref}))
    nb = (len(samples) + 3) // 4
    bed = np.concatenate(packed) if packed else np.zeros((0, nb), np.uint8)
    bim = pd.concat(bims, ignore_index=True) if bims else pd.DataFrame(columns=BIM_COLUMNS)
    return bed, bim, fam_for_samples(samples)


def _bed_chunk(prefix: Path, contig: str, start: int, end: int, tally: RecordTally):
    """The .bim rows of the region, in file order; only the span from the first to the last of
    them is read (a .bim need not be sorted, nor hold a contig in one block)."""
    bim = read_bim(Path(f"{prefix}.bim"))
    rows = np.flatnonzero((bim["chrom"] == contig).to_numpy()
                          & (bim["pos"] >= start).to_numpy() & (bim["pos"] <= end).to_numpy())
    first = int(rows[0]) if rows.size else 0
    span = slice(first, int(rows[-1]) + 1) if rows.size else slice(0, 0)
    bed, span_bim, fam = read_bed(prefix, variant_slice=span)
    tally.n_in = tally.n_kept = len(rows)
    chunk_bim = span_bim.iloc[rows - first].reset_index(drop=True)
    return np.ascontiguousarray(bed[rows - first]), chunk_bim, fam


def ingest_chunk(genotypes: str, contig: str, start: int, end: int, out_prefix: Path,
                 tally_json: Path) -> dict:
    """Convert one region to ``out_prefix.{bed,bim,fam}`` and write its record tally."""
    tally = RecordTally()
    reader = _bed_chunk if is_plink_prefix(genotypes) else _vcf_chunk
    bed, bim, fam = reader(Path(genotypes), contig, start, end, tally)
    write_bed(Path(out_prefix), bed, bim, fam)
    summary = {"contig": contig, "start": start, "end": end, **tally.as_dict()}
    Path(tally_json).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
