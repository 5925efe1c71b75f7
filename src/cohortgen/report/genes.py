"""Nearest gene of a lead variant, from a gene annotation file (config ``report.genes``).

Two formats, told by the file name (optionally ``.gz``): a GTF or GFF/GFF3 file (``.gtf``,
``.gff``, ``.gff3``; rows of feature type ``gene``, 1-based inclusive coordinates, the name from
the attribute ``gene_name``, else ``Name``, else ``gene_id``, else ``ID``) or a BED file of
genes (``.bed``; chromosome, 0-based start, end exclusive, name in the fourth column).
Chromosomes are named as in the report's plots (``chr1`` -> ``1``, ``chrX`` / ``23`` -> ``X``).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.report.plots import normalise_chromosomes

GTF_SUFFIXES = (".gtf", ".gff", ".gff3")
BED_SUFFIXES = (".bed",)
NAME_ATTRIBUTES = ("gene_name", "Name", "gene_id", "ID")
"""GTF / GFF attributes naming a gene, in order of preference."""


def annotation_format(path: Path) -> str:
    """``gtf`` (GTF, GFF, GFF3) or ``bed``, from the file name; InputError for another name."""
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(GTF_SUFFIXES):
        return "gtf"
    if name.endswith(BED_SUFFIXES):
        return "bed"
    raise InputError(f"{path}: report.genes must be a GTF/GFF file (.gtf, .gff, .gff3) or a "
                     "BED file of genes (.bed), optionally gzipped; rename the file or point "
                     "report.genes at one")


def _rows(path: Path, fields: list[int], keep) -> tuple[list[list[str]], list[int]]:
    """The tab-separated ``fields`` of the data lines for which ``keep(parts)`` is true, and
    their 1-based line numbers (lines starting with ``#``, ``track`` or ``browser`` and blank
    lines skipped). InputError naming the line when it has too few fields."""
    opener = gzip.open if str(path).endswith(".gz") else open
    rows, lines = [], []
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                parts = line.rstrip("\r\n").split("\t")
                if len(parts) <= max(fields):
                    raise InputError(f"{path}: line {number}: {len(parts)} tab-separated "
                                     f"fields, a gene needs {max(fields) + 1}; fix the line")
                if keep(parts):
                    rows.append([parts[i] for i in fields])
                    lines.append(number)
    except FileNotFoundError:
        raise InputError(f"{path}: gene annotation file not found; check report.genes in the "
                         "config") from None
    except (UnicodeDecodeError, OSError) as error:
        raise InputError(f"{path}: cannot read the gene annotation file ({error}); give a "
                         "plain or gzipped GTF/GFF or BED text file") from None
    return rows, lines


def _coordinates(path: Path, values: list[str], lines: list[int]) -> np.ndarray:
    """int64 coordinates; InputError naming the first line without a whole number."""
    for value, line in zip(values, lines, strict=True):
        if not value.strip().isdigit():
            raise InputError(f"{path}: line {line}: gene coordinate {value!r} is not a whole "
                             "number; fix or remove the line")
    return np.asarray(values, dtype=np.int64)


def gene_name(attributes: str) -> str:
    """The gene's name from a GTF (``key "value";``) or GFF3 (``key=value;``) attribute field,
    by :data:`NAME_ATTRIBUTES`; empty when none is present."""
    for key in NAME_ATTRIBUTES:
        match = re.search(rf'(?:^|;)\s*{key}(?:\s+"([^"]*)"|=([^;]*))', attributes)
        if match:
            return match.group(1) if match.group(1) is not None else match.group(2)
    return ""


def read_genes(path: Path) -> pd.DataFrame:
    """Genes of ``path``: ``chromosome`` (report names), ``start``, ``end`` (int64, 1-based,
    inclusive) and ``name`` (str), in file order. InputError for an unreadable file, a
    coordinate that is not a number or a file without a gene."""
    path = Path(path)
    if annotation_format(path) == "gtf":
        rows, lines = _rows(path, [0, 3, 4, 8], lambda parts: parts[2] == "gene")
        columns = list(zip(*rows, strict=True)) or [(), (), (), ()]
        start = _coordinates(path, list(columns[1]), lines)
        end = _coordinates(path, list(columns[2]), lines)
        names = [gene_name(a) for a in columns[3]]
    else:
        rows, lines = _rows(path, [0, 1, 2, 3], lambda parts: True)
        columns = list(zip(*rows, strict=True)) or [(), (), (), ()]
        start = _coordinates(path, list(columns[1]), lines) + 1
        end = _coordinates(path, list(columns[2]), lines)
        names = list(columns[3])
    chromosomes = np.asarray(columns[0], dtype=str)
    genes = pd.DataFrame({"chromosome": normalise_chromosomes(chromosomes),
                          "start": start, "end": end, "name": names})
    genes = genes[genes["name"] != ""]
    if genes.empty:
        raise InputError(f"{path}: no named gene found (GTF/GFF: rows of type 'gene' with a "
                         "gene_name, Name, gene_id or ID attribute; BED: a name in column 4)")
    return genes.reset_index(drop=True)


def nearest_gene(genes: pd.DataFrame, chromosome: str, position: int) -> tuple[str, int] | None:
    """The gene of :func:`read_genes` nearest to ``chromosome``:``position`` (1-based) and its
    distance in base pairs (0 inside the gene); ties go to the gene starting first, then by
    name. None when no gene lies on that chromosome."""
    here = genes[genes["chromosome"] == chromosome]
    if here.empty:
        return None
    start, end = here["start"].to_numpy(np.int64), here["end"].to_numpy(np.int64)
    distance = np.maximum(np.maximum(start - position, position - end), 0)
    best = np.lexsort((here["name"].to_numpy(str), start, distance))[0]
    return str(here["name"].iloc[best]), int(distance[best])
