"""Per-contig record counts and spans read from a tabix (.tbi) or CSI (.csi) index.

Used to plan chunks without reading the genotypes: each contig's record count comes from the
index's pseudo-bin, and (for .tbi) the linear index gives the compressed-file offset of every
16 kb window, a proxy for how records are spread along the contig.
"""

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

from cohortgen.errors import InputError

TBI_WINDOW_BP = 1 << 14


@dataclass(frozen=True)
class ContigIndex:
    """One contig's index facts: ``n_records`` mapped records; ``window_offsets`` compressed
    byte offsets of 16 kb windows (tbi only, else empty); ``max_pos`` an upper bound on the last
    indexed base (1-based)."""

    name: str
    n_records: int
    window_offsets: tuple[int, ...]
    max_pos: int


class _Reader:
    """Little-endian cursor over the decompressed index bytes; names the file on truncation."""

    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise InputError(f"{self.path}: index file is truncated; re-create it (tabix -p vcf)")
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def skip(self, n: int) -> None:
        self.pos += n


def index_path(vcf: Path) -> Path:
    """The index file beside ``vcf`` (.csi preferred for BCF, .tbi for VCF); InputError if none."""
    for suffix in (".csi", ".tbi") if str(vcf).endswith(".bcf") else (".tbi", ".csi"):
        candidate = Path(str(vcf) + suffix)
        if candidate.exists():
            return candidate
    if _early_record_has_spaces(vcf):
        raise InputError(f"{vcf}: no index, and a record is separated by spaces, not tabs "
                         "(so tabix cannot index it); VCF columns must be tab-separated")
    raise InputError(f"{vcf}: no index found (.tbi or .csi); create one with `tabix -p vcf {vcf}` "
                     "or `bcftools index`")


def _early_record_has_spaces(vcf: Path, n_lines: int = 10_000) -> bool:
    """True if one of the first ``n_lines`` lines of a bgzipped VCF is a record with spaces
    but no tab (a hint for why it has no index)."""
    try:
        with gzip.open(vcf, "rb") as handle:
            for _, line in zip(range(n_lines), handle, strict=False):
                if not line.startswith(b"#") and b"\t" not in line and b" " in line:
                    return True
    except (OSError, EOFError):
        pass
    return False


def read_index(path: Path, contig_names: list[str] | None = None) -> list[ContigIndex]:
    """Contigs of a .tbi or .csi index in index order; ``contig_names`` names a BCF's contigs."""
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: not a bgzip-compressed index ({exc}); re-create it") from exc
    reader = _Reader(data, path)
    magic = reader.take("4s")
    if magic == b"TBI\x01":
        return _read_tbi(reader)
    if magic == b"CSI\x01":
        return _read_csi(reader, contig_names)
    raise InputError(f"{path}: not a tabix or CSI index (magic {magic!r}); re-create it")


def _read_names(reader: _Reader) -> list[str]:
    reader.take("6i")  # format, col_seq, col_beg, col_end, meta, skip
    l_nm = reader.take("i")
    names = reader.data[reader.pos : reader.pos + l_nm].split(b"\0")
    reader.skip(l_nm)
    return [name.decode() for name in names if name]


def _read_bins(reader: _Reader, meta_bin: int, has_loffset: bool) -> tuple[int, list[int]]:
    """Return (n_mapped, leaf-ish bin ids) for one contig's bin list."""
    n_mapped, bins = 0, []
    for _ in range(reader.take("i")):
        bin_id = reader.take("I")
        if has_loffset:
            reader.take("Q")
        n_chunk = reader.take("i")
        chunks = [reader.take("QQ") for _ in range(n_chunk)]
        if bin_id == meta_bin:
            n_mapped = chunks[1][0] if len(chunks) > 1 else 0
        else:
            bins.append(bin_id)
    return n_mapped, bins


def _read_tbi(reader: _Reader) -> list[ContigIndex]:
    n_ref = reader.take("i")
    names = _read_names(reader)
    contigs = []
    for name in names[:n_ref]:
        n_mapped, _ = _read_bins(reader, meta_bin=37450, has_loffset=False)
        n_intv = reader.take("i")
        offsets = tuple(reader.take("Q") >> 16 for _ in range(n_intv))
        contigs.append(ContigIndex(name, int(n_mapped), offsets, n_intv * TBI_WINDOW_BP))
    return contigs


def _read_csi(reader: _Reader, contig_names: list[str] | None) -> list[ContigIndex]:
    min_shift, depth, l_aux = reader.take("3i")
    aux_end = reader.pos + l_aux
    names = _read_names(reader) if l_aux >= 28 else list(contig_names or [])
    reader.pos = aux_end
    n_ref = reader.take("i")
    n_bins = ((1 << (3 * depth + 3)) - 1) // 7
    contigs = []
    for tid in range(n_ref):
        n_mapped, bins = _read_bins(reader, meta_bin=n_bins + 1, has_loffset=True)
        max_pos = max((_bin_end(b, min_shift, depth) for b in bins), default=0)
        name = names[tid] if tid < len(names) else str(tid)
        contigs.append(ContigIndex(name, int(n_mapped), (), max_pos))
    return contigs


def _bin_end(bin_id: int, min_shift: int, depth: int) -> int:
    """Last base (1-based) covered by a CSI bin of any level (a record spanning a leaf boundary
    sits in a higher-level bin, so every level counts)."""
    level = 0
    while bin_id >= ((1 << (3 * (level + 1))) - 1) // 7:
        level += 1
    offset = bin_id - ((1 << (3 * level)) - 1) // 7
    return (offset + 1) << (min_shift + 3 * (depth - level))
