"""What a VCF record must be to be kept, shared by both record readers (native text and htslib).

Design note: the two readers (:mod:`cohortgen.io.vcf_records`, :mod:`cohortgen.io.vcf_htslib`)
see records differently (text columns, cyvcf2 objects) but must keep, exclude and refuse the
same records, so every rule is one small function here. Conformance rules (VCF 4.1-4.5):

* a record at POS 0 (a telomere, which the specification allows) is excluded as
  ``pos_0_telomere``; it belongs to the region that starts at 1;
* an ID with whitespace (the specification forbids it) is an InputError naming the record;
* REF/ALT rules are :func:`exclusion_reason`.
"""

import gzip
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.alleles import is_symbolic_allele

POS_0_TELOMERE = "pos_0_telomere"
_WHITESPACE = re.compile(r"\s")


class Record(NamedTuple):
    """One record of a region: its GT allele indices are ``source[row]``, int16 (n_samples, 2)
    (module doc of cohortgen.kernels.gt); ``source`` is None when ``reason`` (why it is
    excluded) is set."""

    pos: int
    vid: str | None
    ref: str
    alts: Sequence[str]
    source: np.ndarray | None
    row: int
    reason: str | None


def exclusion_reason(ref: str, alts: Sequence[str], multiallelic: str = "drop") -> str | None:
    """Why a record is excluded (None if kept): no ALT, multi-allelic (when dropped), or a
    symbolic REF or (every) ALT (:func:`cohortgen.io.alleles.is_symbolic_allele`; any other
    allele string is kept)."""
    if not alts:
        return "no_alt_allele"
    if len(alts) > 1 and multiallelic == "drop":
        return "multiallelic"
    if is_symbolic_allele(ref) or all(is_symbolic_allele(alt) for alt in alts):
        return "symbolic_allele"
    return None


def position_reason(pos: int) -> str | None:
    """Why a record is excluded for its POS (1-based; 0 a telomere), None if it is not."""
    return POS_0_TELOMERE if pos == 0 else None


def in_region(pos: int, start: int, end: int) -> bool:
    """Whether POS ``pos`` lies in ``[start, end]`` (1-based, inclusive); POS 0 counts as 1."""
    return start <= max(pos, 1) <= end


def check_id(path: Path, contig: str, pos: int, vid: str) -> None:
    """InputError if the ID column ``vid`` holds whitespace, which VCF forbids."""
    if _WHITESPACE.search(vid):
        raise InputError(
            f"{record_location(path, contig, pos)}: record {contig}:{pos}: ID {vid[:40]!r} "
            "contains whitespace, which VCF does not allow; replace it (e.g. with '_') or set "
            "the ID to '.'"
        )


def allele_range_error(path: Path, contig: str, pos: int, sample: str, allele: int,
                       n_alleles: int) -> InputError:
    return InputError(
        f"{record_location(path, contig, pos)}: record {contig}:{pos}, sample {sample}: GT "
        f"allele index {allele} is out of range; the record has {n_alleles} alleles (REF + "
        f"ALT), numbered 0 to {n_alleles - 1}; fix the GT or the ALT column"
    )


def record_location(path: Path, contig: str, pos: int) -> str:
    """'<path>, line <n>' for the first record line of ``contig`` at ``pos`` (see
    :func:`line_location`)."""
    return line_location(path, f"{contig}\t{pos}\t".encode())


def line_location(path: Path, prefix: bytes) -> str:
    """'<path>, line <n>', n the 1-based number of the first line of bgzipped ``path`` that
    starts with ``prefix``; '<path>' alone where there is none (a BCF) or the text is
    unreadable. Reads the file from its start: for error messages only."""
    try:
        with gzip.open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if line.startswith(prefix):
                    return f"{path}, line {number}"
    except (OSError, EOFError, zlib.error):
        pass
    return f"{path}"
