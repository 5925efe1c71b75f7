"""The native dosage VCF reader: imputed dosages of a bgzipped VCF parsed from their text.

As the GT reader (:mod:`cohortgen.io.vcf_records`) does, it reads on from the index's virtual
offset for the region, inflating BGZF blocks a piece at a time (:mod:`cohortgen.io.bgzf`), and
the :func:`cohortgen.kernels.dosage_text.parse_dosage_lines` kernel turns each record line's
DS, HDS or GP cells (checked against GP, haploid calls told by GT) into stored dosages. The
kernel computes only the common record and marks every other one (a value the rules refuse, a
split multi-allelic record, an unusual cell) for the rules of :mod:`cohortgen.io.dosage_vcf`,
applied here to a :class:`_TextVariant`, the record parsed in Python with the values htslib
would give (float32): so both readers yield the same :class:`DosageBlock` s and raise the same
errors, and the tests check that they do.

Speed: see bench/bench_dosages.py and the table in the README (Imputed dosages).
"""

import re
from collections.abc import Iterator
from contextlib import closing
from functools import partial
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.genome import contig_class
from cohortgen.io.dosage import DosageBlock
from cohortgen.io.vcf_index import index_path, read_index, region_offset
from cohortgen.io.vcf_records import line_spans, parsed_pieces
from cohortgen.kernels.dosage_text import (
    DOSAGE_MALFORMED,
    DOSAGE_OK,
    NEEDS_GT,
    USE_DS,
    USE_GP,
    USE_HDS,
    parse_dosage_lines,
)

_FIELD_FLAGS = {"DS": USE_DS, "HDS": USE_HDS, "GP": USE_GP}
_GT_SPLIT = re.compile(r"[/|]")


def read_text_dosages(path: Path, samples: list[str], seqnames: list[str], fields: list[str],
                      marks_imputed: bool, contig: str, start: int, end: int, block_size: int,
                      multiallelic: str) -> Iterator[DosageBlock]:
    """:func:`cohortgen.io.dosage_vcf.read_vcf_dosages` of a bgzipped VCF whose header (read
    by htslib) gave ``samples``, ``seqnames``, the dosage ``fields`` (DS, HDS, GP; not GT
    alone) and whether it declares INFO ``IMP``."""
    from cohortgen.io.dosage_vcf import make_block, record_rows  # it imports this module

    contigs = {c.name: c for c in read_index(index_path(path), seqnames)}
    offset = region_offset(contigs[contig], start, end) if contig in contigs else None
    if offset is None:
        return
    flags = sum(_FIELD_FLAGS[f] for f in fields)
    flags |= NEEDS_GT if contig_class(contig) in {"x", "y", "mt"} else 0
    split = multiallelic == "split"
    name, rows, seen = contig.encode() + b"\t", [], False
    submit = partial(_submit_parse, flags=flags, split=split)
    with closing(parsed_pieces(path, offset, len(samples), submit=submit)) as pieces:
        for text, starts, ends, facts, dosage in pieces:
            for j, (line_start, line_end) in enumerate(zip(starts, ends, strict=True)):
                if line_start == line_end:
                    continue
                if not text.startswith(name, line_start):
                    if seen:
                        break
                    continue
                seen = True
                pos, _, _, info_end, status = facts[j]
                if status == DOSAGE_MALFORMED:
                    raise InputError(f"{path}: malformed record line "
                                     f"{bytes(text[line_start:line_start + 60])!r}...; check the "
                                     f"file (e.g. bcftools view) in {contig}")
                if pos > end:
                    break
                if pos < start:
                    continue
                if status == DOSAGE_OK:
                    variant = _TextVariant(text[line_start:info_end].decode(), samples, path)
                    rows += record_rows(path, variant, fields, samples, marks_imputed, split,
                                        dosage[j])
                else:
                    variant = _TextVariant(text[line_start:line_end].decode(), samples, path)
                    rows += record_rows(path, variant, fields, samples, marks_imputed, split)
                while len(rows) >= block_size:
                    yield make_block(contig, rows[:block_size])
                    rows = rows[block_size:]
            else:
                continue
            break
    if rows:
        yield make_block(contig, rows)


def _submit_parse(pool, text: bytearray, whole: int, n_samples: int, threads: int, *,
                  flags: int, split: bool):
    """Start parsing the record lines of ``text[:whole]`` in ``pool``; return a call giving
    (text, starts, ends, facts int64 (m, 5), dosage float32 (m, n_samples))."""
    starts, ends = line_spans(text, whole)
    dosage = np.empty((len(starts), n_samples), dtype=np.float32)
    future = pool.submit(parse_dosage_lines, np.frombuffer(text, dtype=np.uint8),
                         np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64),
                         flags, split, dosage)
    return lambda: (text, starts, ends, future.result().tolist(), dosage)


class _TextVariant:
    """A record line (or its columns up to INFO) with the attributes of a cyvcf2 ``Variant``
    that :mod:`cohortgen.io.dosage_vcf` reads, its values as htslib gives them: FORMAT floats
    as float32 (n, widest cell), NaN missing or beyond a cell's values; GT as int16 (n, widest
    call + 1) allele indices, -1 missing, -2 beyond a call's alleles, last column phased; a
    value that is not a number (an allele index) is an InputError naming ``path``, the record,
    sample and value."""

    def __init__(self, line: str, samples: list[str], path: Path):
        columns = line.split("\t")
        self.CHROM, pos, variant_id, self.REF, alt = columns[:5]
        self.POS = int(pos)
        self.ID = None if variant_id == "." else variant_id
        self.ALT = [] if alt == "." else alt.split(",")
        self.INFO = _info(columns[7])
        self._columns, self._samples, self._path = columns, samples, path

    def _cells(self, key: str) -> list[str] | None:
        """Each sample's value of FORMAT ``key`` ('.' where a cell omits it); None when the
        record has no such key."""
        keys = self._columns[8].split(":")
        cells = self._columns[9:]
        if key not in keys:
            return None
        if len(cells) != len(self._samples):
            raise ValueError(f"{len(cells)} sample columns, the header names "
                             f"{len(self._samples)}")
        k = keys.index(key)
        return [(parts[k] if k < len(parts) else ".") for parts in
                (cell.split(":") for cell in cells)]

    def format(self, key: str) -> np.ndarray | None:
        cells = self._cells(key)
        if cells is None:
            return None
        values = [cell.split(",") for cell in cells]
        out = np.full((len(values), max(map(len, values))), np.nan, dtype=np.float32)
        for i, cell in enumerate(values):
            try:
                out[i, :len(cell)] = [np.nan if v == "." else float(v) for v in cell]
            except ValueError:
                raise self._bad_value(key, i, cells[i]) from None
        return out

    @property
    def genotype(self):
        cells = self._cells("GT")
        if cells is None:
            return None
        calls = [_GT_SPLIT.split(cell) for cell in cells]
        gt = np.full((len(calls), max(map(len, calls)) + 1), -2, dtype=np.int16)
        for i, (cell, alleles) in enumerate(zip(cells, calls, strict=True)):
            if not all(a == "." or a.isdigit() for a in alleles):
                raise self._bad_value("GT", i, cell)
            gt[i, :len(alleles)] = [-1 if a == "." else int(a) for a in alleles]
            gt[i, -1] = "|" in cell
        return _Genotype(gt)

    def _bad_value(self, key: str, i: int, cell: str) -> InputError:
        return InputError(f"{self._path}: record {self.CHROM}:{self.POS} ({self.ID or '.'}): "
                          f"sample {self._samples[i]}: FORMAT {key} value {cell!r} is not a "
                          "number; fix the file")


class _Genotype:
    def __init__(self, gt: np.ndarray):
        self._gt = gt

    def array(self) -> np.ndarray:
        return self._gt


def _info(column: str) -> dict:
    """INFO as cyvcf2's ``Variant.INFO.get`` gives the keys the reader uses: a flag True, a
    value a float (a string when not a number), '.' None."""
    info = {}
    for entry in ("" if column == "." else column).split(";"):
        key, eq, value = entry.partition("=")
        if not eq:
            info[key] = True
        elif value != ".":
            try:
                info[key] = float(value)
            except ValueError:
                info[key] = value
    return info
