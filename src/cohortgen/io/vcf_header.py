"""VCF/BCF headers: opening a file, its sample IDs and the contigs its header declares.

Design note: the header is read with cyvcf2 (htslib), which every reader needs anyway for BCF
and which reads a header in milliseconds; what htslib does not say is checked here on the text:
duplicate sample IDs (htslib refuses the header without naming them), a #CHROM line separated
by spaces, and the ``##contig`` lines as written. htslib rewrites those: it drops a trailing
``>`` of a contig ID (``##contig=<ID=ctg>,length=9>`` becomes ``ctg``) and adds contigs it
meets in records or the index, so :func:`declared_contigs` parses the lines itself.
"""

import gzip
import zlib
from collections import Counter
from pathlib import Path

import cyvcf2

from cohortgen.errors import InputError
from cohortgen.io.bgzf import check_compression


def _duplicate_samples(path: Path) -> list[str]:
    """Sample IDs listed more than once on the #CHROM line (read directly: htslib rejects such a
    header without naming the ID); empty if the line cannot be read."""
    try:
        with gzip.open(path, "rb") as handle:
            for number, line in enumerate(handle):
                if line.startswith(b"#CHROM"):
                    counts = Counter(line.rstrip(b"\r\n").split(b"\t")[9:])
                    return sorted(s.decode(errors="replace") for s, n in counts.items() if n > 1)
                if number and not line.startswith(b"#"):
                    break
    except (OSError, EOFError, zlib.error):
        pass
    return []


def _header_problem(path: Path) -> str:
    """A hint for an unreadable header: no #CHROM line, or one separated by spaces."""
    try:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                if line.startswith(b"#CHROM"):
                    if b"\t" not in line.strip():
                        return ("the #CHROM header line is separated by spaces, not tabs; VCF "
                                "columns must be tab-separated")
                    return "check the header lines (bcftools view -h)"
                if not line.startswith(b"##"):
                    break
    except zlib.error:
        return "its compressed header is corrupt; re-create the file (bgzip) and its index"
    except (OSError, EOFError):
        return "check the file"
    return "the header has no #CHROM line before the first record; check the header"


def open_vcf(path: Path) -> cyvcf2.VCF:
    """Open a bgzipped VCF or a BCF, raising InputError if it is not one."""
    path = Path(path)
    check_compression(path)
    try:
        vcf = cyvcf2.VCF(str(path))
    except Exception as exc:  # cyvcf2 raises bare Exceptions too
        _raise_duplicates(path, _duplicate_samples(path))
        raise InputError(
            f"{path}: cannot be read as VCF/BCF ({exc}); {_header_problem(path)}"
        ) from None
    if not vcf.samples:
        raise InputError(f"{path}: the VCF has no samples (no genotype columns)")
    return vcf


def _raise_duplicates(path: Path, duplicated: list[str]) -> None:
    if duplicated:
        raise InputError(
            f"{path}: duplicate sample ID(s) in the header: {', '.join(duplicated[:5])}; "
            "each sample must appear once"
        )


def vcf_samples(path: Path) -> list[str]:
    """Sample IDs in file order; InputError on duplicates."""
    samples = list(open_vcf(path).samples)
    counts = Counter(samples)
    _raise_duplicates(path, sorted(s for s, n in counts.items() if n > 1))
    return samples


def declared_contigs(path: Path) -> set[str] | None:
    """Contig IDs of the ``##contig=<...>`` lines in a bgzipped VCF's own header text (empty
    when it has none, which the VCF specification allows); None for a BCF."""
    if str(path).endswith(".bcf"):
        return None
    found = set()
    with gzip.open(path, "rb") as handle:
        for line in handle:
            if not line.startswith(b"##"):
                break
            if line.startswith(b"##contig=<"):
                found.add(contig_id(line.decode(errors="replace")))
    return found


def contig_id(line: str) -> str:
    """The ID of a ``##contig=<key=value,...>`` header line: the line's closing ``>`` alone is
    removed, so an ID may itself end in ``>``; values may be quoted (commas inside quotes do
    not split). '' when the line has no ID."""
    body = line.rstrip("\r\n").removeprefix("##contig=<").removesuffix(">")
    value, quoted, fields = "", False, []
    for char in body + ",":
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            fields.append(value)
            value = ""
        else:
            value += char
    for field in fields:
        key, _, value = field.partition("=")
        if key == "ID":
            return value
    return ""
