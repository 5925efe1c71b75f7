"""Per-contig record counts, spans and record offsets read from a tabix (.tbi) or CSI (.csi)
index.

Used to plan chunks without reading the genotypes: each contig's record count comes from the
index's pseudo-bin, and (for .tbi) the linear index gives the compressed-file offset of every
16 kb window, a proxy for how records are spread along the contig. :func:`region_offset` gives
where a region's records start in the bgzipped file (as htslib's region query finds it).

Design note: neither cyvcf2 nor pysam exposes an index's per-contig record counts, linear index
or bin chunks, which planning (even chunks without reading genotypes) and the native record
reader (:mod:`cohortgen.io.vcf_records`, which seeks to a virtual offset itself) need; the two
formats are small and fully specified (tabix, CSI: htslib's specifications), so they are read
here, in milliseconds; tests compare the records read from these offsets with htslib's region
queries (tests/test_io_vcf.py, tests/test_io_vcf_htslib.py).
"""

import gzip
import struct
from dataclasses import dataclass, field
from pathlib import Path

from cohortgen.errors import InputError

TBI_MIN_SHIFT, TBI_DEPTH = 14, 5
TBI_WINDOW_BP = 1 << TBI_MIN_SHIFT


@dataclass(frozen=True)
class ContigIndex:
    """One contig's index facts: ``n_records`` mapped records; ``window_offsets`` compressed
    byte offsets of 16 kb windows (tbi only, else empty); ``max_pos`` an upper bound on the last
    indexed base (1-based). ``bins``: bin id -> (loffset (csi, else 0), chunks as (begin, end)
    virtual offsets); ``linear``: the tbi linear index (virtual offsets); ``min_shift`` and
    ``depth`` the binning scheme."""

    name: str
    n_records: int
    window_offsets: tuple[int, ...]
    max_pos: int
    bins: dict = field(default_factory=dict, repr=False)
    linear: tuple[int, ...] = ()
    min_shift: int = TBI_MIN_SHIFT
    depth: int = TBI_DEPTH


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


def _read_bins(reader: _Reader, meta_bin: int, has_loffset: bool) -> tuple[int, dict]:
    """Return (n_mapped, {bin id: (loffset, chunks)}) for one contig's bin list, the pseudo-bin
    left out."""
    n_mapped, bins = 0, {}
    for _ in range(reader.take("i")):
        bin_id = reader.take("I")
        loffset = reader.take("Q") if has_loffset else 0
        n_chunk = reader.take("i")
        chunks = [reader.take("QQ") for _ in range(n_chunk)]
        if bin_id == meta_bin:
            n_mapped = chunks[1][0] if len(chunks) > 1 else 0
        else:
            bins[bin_id] = (loffset, chunks)
    return n_mapped, bins


def _read_tbi(reader: _Reader) -> list[ContigIndex]:
    n_ref = reader.take("i")
    names = _read_names(reader)
    contigs = []
    for name in names[:n_ref]:
        n_mapped, bins = _read_bins(reader, meta_bin=37450, has_loffset=False)
        n_intv = reader.take("i")
        linear = tuple(reader.take("Q") for _ in range(n_intv))
        contigs.append(ContigIndex(name, int(n_mapped), tuple(v >> 16 for v in linear),
                                   n_intv * TBI_WINDOW_BP, bins, linear))
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
        contigs.append(ContigIndex(name, int(n_mapped), (), max_pos, bins, (), min_shift, depth))
    return contigs


def _bin_end(bin_id: int, min_shift: int, depth: int) -> int:
    """Last base (1-based) covered by a CSI bin of any level (a record spanning a leaf boundary
    sits in a higher-level bin, so every level counts)."""
    level = 0
    while bin_id >= ((1 << (3 * (level + 1))) - 1) // 7:
        level += 1
    offset = bin_id - ((1 << (3 * level)) - 1) // 7
    return (offset + 1) << (min_shift + 3 * (depth - level))


def region_offset(contig: ContigIndex, start: int, end: int) -> int | None:
    """Virtual offset (compressed block offset << 16 | offset in the block) of the first record
    that can overlap ``[start, end]`` (1-based, inclusive), found as htslib's region query does;
    None when the index has no record there. Reading the sorted file on from it reaches every
    record of the region."""
    beg0 = start - 1
    end0 = min(end, 1 << (contig.min_shift + 3 * contig.depth))
    min_off = _min_offset(contig, beg0)
    begins = [u for b in _overlapping_bins(beg0, end0, contig.min_shift, contig.depth)
              for u, v in contig.bins.get(b, (0, ()))[1] if v > min_off]
    return min(begins) if begins else None


def _min_offset(contig: ContigIndex, beg0: int) -> int:
    """Smallest virtual offset a record overlapping 0-based ``beg0`` can have: the tbi linear
    index, or for csi the loffset of the nearest bin at or before beg0's leaf."""
    if contig.linear:
        return contig.linear[min(beg0 >> contig.min_shift, len(contig.linear) - 1)]
    bin_id = ((1 << 3 * contig.depth) - 1) // 7 + (beg0 >> contig.min_shift)
    while bin_id and bin_id not in contig.bins:
        parent = (bin_id - 1) >> 3
        bin_id = bin_id - 1 if bin_id > (parent << 3) + 1 else parent
    return contig.bins[bin_id][0] if bin_id in contig.bins else 0


def _overlapping_bins(beg0: int, end0: int, min_shift: int, depth: int) -> list[int]:
    """Ids of the bins (every level) overlapping the 0-based half-open ``[beg0, end0)``."""
    bins, first = [], 0
    for level in range(depth + 1):
        shift = min_shift + 3 * (depth - level)
        bins.extend(range(first + (beg0 >> shift), first + ((end0 - 1) >> shift) + 1))
        first += 1 << (3 * level)
    return bins
