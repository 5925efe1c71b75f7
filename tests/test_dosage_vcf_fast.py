"""The native dosage VCF reader (io/dosage_text.py) against the cyvcf2 reader: the same blocks
(every field, bit for bit) on the dosage test files, the demo generator's files, Beagle-style
files, every FORMAT layout, missing values, haploid chrX, multi-allelic records and region
boundaries; the same errors for each bad input, and the same acceptance of its boundary; the
kernel's fast rows equal to the rules it defers to."""

import subprocess
from pathlib import Path

import numpy as np
import pysam
import pytest
from conftest import require_tool
from test_dosage import CONTIGS, HEADER, SAMPLES, write_multiallelic_vcf, write_vcf

from cohortgen.errors import InputError
from cohortgen.io.dosage_vcf import read_vcf_dosages, vcf_reader
from cohortgen.io.vcf_records import line_spans
from cohortgen.kernels.dosage_text import DOSAGE_OK, DOSAGE_SLOW, USE_DS, USE_GP, parse_dosage_lines
from cohortgen.simulate import simulate_cohort
from cohortgen.simulate_imputed import simulate_imputed

BEAGLE_HEADER = """##fileformat=VCFv4.2
##contig=<ID=22,length=51304566>
##contig=<ID=X,length=156040895>
##INFO=<ID=AF,Number=A,Type=Float,Description="Estimated ALT Allele Frequencies">
##INFO=<ID=DR2,Number=A,Type=Float,Description="Dosage R-Squared">
##INFO=<ID=IMP,Number=0,Type=Flag,Description="Imputed marker">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DS,Number=A,Type=Float,Description="estimated ALT dose [P(RA) + 2*P(AA)]">
##FORMAT=<ID=GP,Number=G,Type=Float,Description="Estimated Genotype Probability">
"""


def both(path: Path, contig: str, start: int = 1, end: int = 10**9, **options):
    """The blocks of both readers, asserted equal field by field; the text reader's."""
    text = list(read_vcf_dosages(path, contig, start, end, reader="text", **options))
    htslib = list(read_vcf_dosages(path, contig, start, end, reader="htslib", **options))
    assert len(text) == len(htslib)
    for ours, theirs in zip(text, htslib, strict=True):
        assert ours.chrom == theirs.chrom
        np.testing.assert_array_equal(ours.pos, theirs.pos)
        assert (ours.ids, ours.ref, ours.alt) == (theirs.ids, theirs.ref, theirs.alt)
        assert ours.dosage.dtype == theirs.dosage.dtype == np.float32
        np.testing.assert_array_equal(ours.dosage, theirs.dosage)
        np.testing.assert_array_equal(ours.file_r2, theirs.file_r2)
        np.testing.assert_array_equal(ours.typed, theirs.typed)
    return text


def vcf_of(tmp_path: Path, lines: list[str], header: str = HEADER, name: str = "in.vcf",
           samples: list[str] = SAMPLES) -> Path:
    plain = tmp_path / name
    plain.write_text(header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
                     + "\t".join(samples) + "\n" + "".join(f"{line}\n" for line in lines))
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


@pytest.mark.parametrize("fields", [("DS",), ("GP",), ("HDS",), ("DS", "GP"), ("GP", "DS"),
                                    ("DS", "HDS", "GP")])
@pytest.mark.parametrize("decimals", [2, 3, 5])
def test_text_reader__equals_htslib_on_dosage_files(tmp_path, fields, decimals):
    """Haploid males on chrX, 5% missing calls ('.' and './.'), TYPED flags, R2."""
    vcf = write_vcf(tmp_path / "imp.vcf.gz", fields, decimals)
    assert vcf_reader(vcf, list(fields)) == "text"
    for contig, _, count in CONTIGS:
        blocks = both(vcf, contig, block_size=17)
        assert sum(len(b.pos) for b in blocks) == count
        assert not np.isnan(np.vstack([b.dosage for b in blocks])).all()


@pytest.mark.parametrize("decimals", [2, 3])
def test_text_reader__equals_htslib_on_demo_files(tmp_path, decimals):
    simulate_cohort(tmp_path, n_samples=120, n_chromosomes=1, chromosome_mb=2.0, seed=7,
                    x_mb=3.0)
    paths = simulate_imputed(tmp_path / "genotypes.vcf.gz", tmp_path / "imp", mask_share=0.5,
                             seed=2, decimals=decimals)
    for path, contig in zip(paths, ("1", "X"), strict=True):
        assert sum(len(b.pos) for b in both(path, contig, block_size=100)) > 10


def test_text_reader__equals_htslib_on_beagle_style(tmp_path):
    """Beagle 5: GT:DS:GP with 2 decimals (GP summing to 0.99 or 1.01), DR2, IMP flag marking
    imputed records (typed = lacking it), AF."""
    rng = np.random.default_rng(4)
    lines = []
    for k in range(60):
        cells = []
        for _ in SAMPLES:
            a, b = (int(x) for x in rng.integers(0, 34, size=2))
            gp = (a / 100, (100 - a - b) / 100 + rng.choice([-0.01, 0, 0.01]), b / 100)
            cells.append(f"0|1:{gp[1] + 2 * gp[2]:.2f}:" + ",".join(f"{g:.2f}" for g in gp))
        info = f"DR2={rng.random():.2f};AF={rng.random():.4f}" + (";IMP" if k % 3 else "")
        lines.append(f"22\t{100 + k}\t.\tC\tT\t.\tPASS\t{info}\tGT:DS:GP\t" + "\t".join(cells))
    blocks = both(vcf_of(tmp_path, lines, BEAGLE_HEADER), "22")
    assert blocks[0].typed.sum() == 20
    assert np.isfinite(blocks[0].file_r2).all()


@pytest.mark.parametrize(("fmt", "cells"), [
    ("DS:GT", ["0.5:0/1", "1.25:1|1", ".:./.", "0.001:0"]),
    ("GT:DS", ["0/1", "1|1:1", "./.:.", "0:0.75"]),  # trailing field dropped
    ("GP:GT:DS", ["0.2,0.5,0.3:0/1:1.1", ".:./.:.", "0.1,0.9:1:0.9", "1,0,0:0/0:0"]),
    ("GT:HDS", ["0|1:0.25,0.75", "1:0.5", ".:.", "1|1:1,0.999"]),
    ("GT:DS:GP", ["0/1:1:0.25,0.5,0.25", "0/1:.:0.25,0.5,0.25", "0/1:1:.", "./.:.:."]),
    ("GT:DS", ["0/1:0.1234567", "0/1:0.12345678", "0/1:1.0000000", "0/1:1e-1"]),
    ("GT:ADS:DS", ["0/1:0.5,0.5:1", "0/1:1,1:1", "0/1:0,0:0.3", "0/0:.:0"]),
])
@pytest.mark.parametrize("contig", ["22", "X"])
def test_text_reader__equals_htslib_on_cell_layouts(tmp_path, fmt, cells, contig):
    """Any FORMAT order, missing values, fields a cell omits, haploid and diploid calls mixed,
    8 significant digits and exponents (read by the rules, not the kernel), unknown keys."""
    header = HEADER + '##FORMAT=<ID=ADS,Number=.,Type=Float,Description="x">\n'
    lines = [f"{contig}\t{1000 + k}\tv{k}\tA\tG\t.\tPASS\tR2=0.5\t{fmt}\t" + "\t".join(
        cells[(k + j) % len(cells)] for j in range(4)) for k in range(8)]
    both(vcf_of(tmp_path, lines, header, samples=SAMPLES[:4]), contig)


@pytest.mark.parametrize("fields", [("DS",), ("GP",), ("DS", "GP")])
@pytest.mark.parametrize("mode", ["drop", "split"])
def test_text_reader__equals_htslib_on_multiallelic(tmp_path, fields, mode):
    vcf = write_multiallelic_vcf(tmp_path / "m.vcf.gz", fields)
    blocks = both(vcf, "22", block_size=7, multiallelic=mode)
    assert sum(len(b.pos) for b in blocks) == (45 if mode == "split" else 30)


@pytest.mark.parametrize(("start", "end"), [(16_000_000, 16_000_000), (16_000_001, 16_000_010),
                                            (16_000_010, 16_000_010), (16_000_500, 16_001_190),
                                            (1, 15_999_999), (16_001_190, 10**9)])
def test_text_reader__equals_htslib_at_region_boundaries(tmp_path, start, end):
    vcf = write_vcf(tmp_path / "imp.vcf.gz", ("DS", "GP"))
    blocks = both(vcf, "22", start, end, block_size=3)
    positions = np.concatenate([b.pos for b in blocks]) if blocks else np.array([])
    expected = [p for p in range(16_000_000, 16_001_200, 10) if start <= p <= end]
    np.testing.assert_array_equal(positions, expected)


def test_text_reader__many_pieces(tmp_path):
    """A file of several megabytes of text (pieces of 1 MB compressed, lines across them)."""
    rng = np.random.default_rng(8)
    samples = [f"i{j}" for j in range(400)]
    lines = [f"22\t{10 + k}\tr{k}\tA\tG\t.\tPASS\tR2={rng.random():.3f}\tGT:DS\t" + "\t".join(
        f"0|1:{d:.3f}" for d in rng.random(400) * 2) for k in range(3000)]
    blocks = both(vcf_of(tmp_path, lines, samples=samples), "22", block_size=1024)
    assert sum(len(b.pos) for b in blocks) == 3000


@pytest.mark.parametrize(("fmt", "cell", "contig", "words"), [
    ("DS", "2.5", "22", ["DS 2.5", "[0, 2]"]),
    ("DS", "-0.5", "22", ["DS -0.5"]),
    ("GT:DS", "1:1.5", "X", ["DS 1.5", "[0, 1]", "haploid"]),
    ("HDS", "0.5,1.6", "22", ["HDS 2.1"]),
    ("GP", "0.33,0.33,0.32", "22", ["GP 0.33,0.33,0.32", "within 0.01"]),
    ("GP", "0.5,0.5,0.02", "22", ["GP 0.5,0.5,0.02"]),
    ("DS:GP", "1.03:0.33,0.33,0.33", "22", ["DS 1.03", "disagrees"]),
    ("DS", "0.5", "X", ["need GT", "X:500 (bad0)"]),
])
def test_text_reader__same_errors_as_htslib(tmp_path, fmt, cell, contig, words):
    """Each bad value fails both readers with the same message, naming file, record and
    sample (the third of four)."""
    good = {"DS": "1", "GT:DS": "0:1", "HDS": "0.5,0.5", "GP": "0.25,0.5,0.25",
            "DS:GP": "1:0.25,0.5,0.25"}.get(fmt, "1")
    lines = [f"{contig}\t{500 + k}\tbad{k}\tA\tG\t.\tPASS\t.\t{fmt}\t"
             + "\t".join([good, good, cell if k == 1 else good, good]) for k in range(3)]
    vcf = vcf_of(tmp_path, lines, samples=SAMPLES[:4])
    messages = []
    for reader in ("text", "htslib"):
        with pytest.raises(InputError) as caught:
            list(read_vcf_dosages(vcf, contig, 1, 10**9, reader=reader))
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    named = [] if "need GT" in words else [f"{contig}:501 (bad1)", SAMPLES[2]]
    for word in [str(vcf), *named, *words]:
        assert word in messages[0]


@pytest.mark.parametrize(("fmt", "cell", "contig", "expected"), [
    ("DS", "2", "22", 2.0), ("DS", "0", "22", 0.0), ("GT:DS", "1:1", "X", 2.0),
    ("GP", "0.33,0.33,0.33", "22", 0.99), ("GP", "0.34,0.33,0.34", "22", 1.01),
    ("DS:GP", "1.01:0.25,0.5,0.25", "22", 1.01), ("HDS", "1,1", "22", 2.0),
])
def test_text_reader__accepts_the_boundaries(tmp_path, fmt, cell, contig, expected):
    """The other direction: the values at each limit are read, by both readers alike."""
    lines = [f"{contig}\t500\tok\tA\tG\t.\tPASS\t.\t{fmt}\t{cell}\t{cell}"]
    (block,) = both(vcf_of(tmp_path, lines, samples=SAMPLES[:2]), contig)
    np.testing.assert_allclose(block.dosage[0], expected, atol=1 / 16384)


def test_parse_dosage_lines__fast_rows_equal_the_rules(tmp_path):
    """The kernel computes the common records itself (most rows ``DOSAGE_OK``), and those rows
    equal the rules' (the cyvcf2 reader); a refused value is left to the rules."""
    vcf = write_vcf(tmp_path / "imp.vcf.gz", ("DS", "GP"), 3)
    with pysam.BGZFile(str(vcf)) as handle:
        text = bytearray(handle.read())
    starts, ends = line_spans(text, len(text))
    dosage = np.full((len(starts), len(SAMPLES)), np.nan, dtype=np.float32)
    facts = parse_dosage_lines(np.frombuffer(text, np.uint8), np.array(starts), np.array(ends),
                               USE_DS | USE_GP, False, dosage)
    autosomal = facts[:, 0] > 10**7  # chrX records come after, at 5 Mb
    reference = np.vstack([b.dosage for b in read_vcf_dosages(vcf, "22", 1, 10**9,
                                                              reader="htslib")])
    ok = facts[:, 4] == DOSAGE_OK
    assert ok[autosomal].all()
    np.testing.assert_array_equal(dosage[autosomal], reference)
    bad = bytearray(text.replace(b"|0:", b"|0:9", 1))  # a DS of 9-something
    starts, ends = line_spans(bad, len(bad))
    facts = parse_dosage_lines(np.frombuffer(bad, np.uint8), np.array(starts), np.array(ends),
                               USE_DS | USE_GP, False, dosage[:len(starts)])
    assert (facts[autosomal, 4] == DOSAGE_SLOW).sum() == 1


def test_ingest_dosages__qc_json_names_the_reader(tmp_path):
    """The chunk's QC json says which reader read the file: the text reader for a bgzipped VCF
    with dosages, htslib (and why) for a BCF."""
    from cohortgen.ingest.dosages import DosageThresholds, ingest_dosages

    bcftools = require_tool("bcftools")
    vcf = write_vcf(tmp_path / "imp.vcf.gz", ("DS",))
    bcf = tmp_path / "imp.bcf"
    subprocess.run([bcftools, "view", "-Ob", "-o", str(bcf), str(vcf)], check=True)
    subprocess.run([bcftools, "index", str(bcf)], check=True)
    limits = DosageThresholds(min_r2=0.0, min_mac=0.0, max_missing=1.0)
    text = ingest_dosages(vcf, "22", tmp_path / "a", limits=limits)
    htslib = ingest_dosages(bcf, "22", tmp_path / "b", limits=limits)
    assert (text["vcf_reader"], htslib["vcf_reader"]) == ("text", "htslib (BCF)")
    assert text["variants_passed"] == htslib["variants_passed"] == 120
