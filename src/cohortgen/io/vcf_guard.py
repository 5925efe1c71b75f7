"""A check of a bgzipped VCF region's sample values before cyvcf2 (htslib) reads them.

cyvcf2 0.34 crashes the process (a segmentation fault, after htslib's "Invalid character"
message) at a FORMAT value htslib cannot parse, e.g. DS ``1.0x0`` or GT ``0-1``, so no Python
exception can be caught. Every path that hands the text of a .vcf.gz to cyvcf2
(``ingest.vcf_reader: htslib`` for genotypes, imputed files of hard calls only) first reads
the region's text here: the :func:`cohortgen.kernels.format_guard.first_bad_value` kernel
checks each Integer, Float and GT value of the keys the header declares, and the first bad one
is an InputError naming the file, line, record, sample, key and value. Cost: one more inflate
and byte scan of the region: on a GT-only VCF of 2,000 samples x 20,000 records (160 MB of
text), 1.05 CPU s for the check, against 2.7 to 5.9 CPU s for cyvcf2's read of it (genotypes
with ``ingest.vcf_reader: htslib``, imputed hard calls).
"""

from contextlib import closing
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.vcf_index import index_path, read_index
from cohortgen.io.vcf_records import first_offset, line_spans, parsed_pieces
from cohortgen.io.vcf_rules import record_location
from cohortgen.kernels.format_guard import FLOAT, GT, INTEGER, STRING, first_bad_value

_TYPE_CODES = {"Integer": INTEGER, "Float": FLOAT}


def check_region_values(path: Path, vcf, contig: str, start: int, end: int) -> None:
    """InputError for the first sample value of ``contig``:``start``-``end`` (records whose
    POS lies in it, 1-based, inclusive) of bgzipped ``path`` (opened by cyvcf2 as ``vcf``)
    that htslib cannot parse; nothing for a BCF."""
    if str(path).endswith(".bcf"):
        return
    offset = first_offset(read_index(index_path(path), list(vcf.seqnames)), contig, start, end)
    if offset is None:
        return
    types = {h.info().get("ID"): _TYPE_CODES.get(h.info().get("Type"), STRING)
             for h in vcf.header_iter() if h.type == "FORMAT"}
    types["GT"] = GT
    scan = _RegionScan(path, list(vcf.samples), contig, start, end, types)
    with closing(parsed_pieces(path, offset, len(vcf.samples), submit=scan.submit)) as pieces:
        for over in pieces:
            if over:
                return


class _RegionScan:
    """Checks the region's lines piece by piece (a ``submit`` of
    :func:`cohortgen.io.vcf_records.parsed_pieces`, whose call gives True once past the
    region)."""

    def __init__(self, path: Path, samples: list[str], contig: str, start: int, end: int,
                 types: dict[str, int]):
        self.path, self.samples, self.start, self.end = path, samples, start, end
        self.name, self.types = contig.encode() + b"\t", types
        self.codes: dict[bytes, np.ndarray] = {}
        self.seen = False

    def submit(self, pool, text: bytearray, whole: int, n_samples: int, threads: int):
        over = self.check(text, whole)
        return lambda: over

    def check(self, text: bytearray, whole: int) -> bool:
        """Check the region's lines of ``text[:whole]``; True once a line is past it."""
        begin, ends, code_start, n_codes, codes, over = [], [], [], [], [], False
        n_code = 0
        for line_start, line_end in zip(*line_spans(text, whole), strict=True):
            if not text.startswith(self.name, line_start):
                over = self.seen
                if over:
                    break
                continue
            self.seen = True
            tabs = _tab_offsets(text, line_start, line_end)
            if tabs is None:  # a malformed line: the readers report it
                continue
            pos = bytes(text[tabs[0] + 1:tabs[1]])
            if pos.isdigit() and int(pos) > self.end:
                over = True
                break
            if not pos.isdigit() or int(pos) < self.start:
                continue
            keys = self._codes(bytes(text[tabs[7] + 1:tabs[8]]))
            begin.append(tabs[8] + 1)
            ends.append(line_end)
            code_start.append(n_code)
            n_codes.append(len(keys))
            codes.append(keys)
            n_code += len(keys)
        if begin:
            self._report(text, begin, ends, code_start, n_codes, codes)
        return over

    def _codes(self, format_column: bytes) -> np.ndarray:
        """int8 type codes of a FORMAT column's keys (undeclared keys: STRING)."""
        if format_column not in self.codes:
            self.codes[format_column] = np.array(
                [self.types.get(k, STRING) for k in format_column.decode().split(":")],
                dtype=np.int8)
        return self.codes[format_column]

    def _report(self, text: bytearray, begin: list[int], ends: list[int],
                code_start: list[int], n_codes: list[int], codes: list[np.ndarray]) -> None:
        """InputError naming the first bad value of the lines, if any."""
        found = first_bad_value(np.frombuffer(text, dtype=np.uint8),
                                np.array(begin, dtype=np.int64), np.array(ends, dtype=np.int64),
                                np.array(code_start, dtype=np.int64),
                                np.array(n_codes, dtype=np.int64), np.concatenate(codes))
        j, sample, value_start, value_end = (int(v) for v in found)
        if j < 0:
            return
        columns = bytes(text[_line_start(text, begin[j]):begin[j]]).decode().split("\t")
        keys = columns[8].split(":")
        k = _key_index(text, begin[j], value_start)
        key = keys[k] if k < len(keys) else f"value {k + 1}"
        value = bytes(text[value_start:value_end]).decode(errors="replace")
        where = record_location(self.path, columns[0], int(columns[1]))
        raise InputError(
            f"{where}: record {columns[0]}:{columns[1]} ({columns[2]}): sample "
            f"{self.samples[sample] if sample < len(self.samples) else f'column {10 + sample}'}"
            f": FORMAT {key} value {value!r} cannot be parsed (htslib would crash on it); "
            "fix the file (e.g. re-export it from the imputation or genotyping software)")


def _tab_offsets(text: bytearray, line_start: int, line_end: int) -> list[int] | None:
    """Offsets of a line's first nine tabs (the one before the first sample column last);
    None when it has fewer."""
    tabs, p = [], line_start - 1
    for _ in range(9):
        p = text.find(b"\t", p + 1, line_end)
        if p < 0:
            return None
        tabs.append(p)
    return tabs


def _line_start(text: bytearray, offset: int) -> int:
    return text.rfind(b"\n", 0, offset) + 1


def _key_index(text: bytearray, cell_begin: int, value_start: int) -> int:
    """Which FORMAT key the value starting at ``value_start`` belongs to: colons between the
    start of its sample column and it."""
    column_start = text.rfind(b"\t", cell_begin - 1, value_start) + 1
    return text.count(b":", column_start, value_start)
