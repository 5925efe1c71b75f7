"""Imputed dosages: readers (VCF DS/HDS/GP, BGEN, PGEN) against plink2's import, MaCH r² and
frequencies against ``plink2 --freq cols=+machr2``, QC reason codes, the stored precision, and
each kind of bad input."""

import gzip
import stat
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from conftest import require_tool, slope_and_max_abs_diff

from cohortgen.errors import InputError
from cohortgen.ingest.dosages import DosageThresholds, ingest_dosages
from cohortgen.io.dosage_vcf import read_vcf_dosages
from cohortgen.io.pgen import read_pgen_dosages
from cohortgen.kernels.dosage import dosage_summaries, dosage_summaries_naive
from cohortgen.kernels.gt import REGION_DIPLOID, REGION_X

N_SAMPLES = 40
SAMPLES = [f"s{i:02d}" for i in range(N_SAMPLES)]
MALE = np.arange(N_SAMPLES) % 2 == 0
CONTIGS = (("22", 16_000_000, 120), ("X", 5_000_000, 40))
"""(contig, first position, records): chrX positions lie outside the GRCh37/38 PARs."""
NO_FILTER = DosageThresholds(min_r2=0.0, min_mac=0.0, max_missing=1.0)

HEADER = """##fileformat=VCFv4.2
##contig=<ID=22,length=51304566>
##contig=<ID=X,length=156040895>
##INFO=<ID=R2,Number=1,Type=Float,Description="Estimated imputation accuracy">
##INFO=<ID=TYPED,Number=0,Type=Flag,Description="Genotyped marker">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">
##FORMAT=<ID=HDS,Number=.,Type=Float,Description="Haplotype ALT dosages">
##FORMAT=<ID=GP,Number=G,Type=Float,Description="Genotype probabilities">
"""


def _call(rng, haploid: bool, missing: bool, decimals: int) -> dict[str, str]:
    """One sample's GT, DS, HDS and GP (consistent, in units of 10^-decimals, so exact in
    decimal)."""
    if missing:
        return {"GT": "." if haploid else "./.", "DS": ".", "HDS": ".", "GP": "."}
    unit = 10**decimals

    def text(*values):
        return ",".join(f"{v / unit:.{decimals}f}" for v in values)

    if haploid:
        h = int(rng.integers(0, unit + 1))
        return {"GT": str(int(2 * h >= unit)), "DS": text(h), "HDS": text(h),
                "GP": text(unit - h, h)}
    h1, h2 = (int(x) for x in rng.integers(0, unit + 1, size=2))
    # GP from independent haplotype dosages, rounded to the unit (sum kept at 1)
    p2 = round(h1 * h2 / unit)
    p1 = h1 + h2 - 2 * p2
    return {"GT": f"{int(2 * h1 >= unit)}|{int(2 * h2 >= unit)}", "DS": text(h1 + h2),
            "HDS": text(h1, h2), "GP": text(unit - p1 - p2, p1, p2)}


def write_vcf(path: Path, fields: tuple[str, ...], decimals: int = 3) -> Path:
    """A bgzipped, indexed imputed VCF of :data:`CONTIGS` with FORMAT GT plus ``fields`` (males
    haploid on chrX) written with ``decimals``, 5% missing calls."""
    rng = np.random.default_rng(1)
    lines = [HEADER + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
             + "\t".join(SAMPLES)]
    for contig, first, count in CONTIGS:
        for k in range(count):
            haploid = MALE & (contig == "X")
            calls = [_call(rng, bool(h), rng.random() < 0.05, decimals) for h in haploid]
            info = f"R2={rng.random():.3f}" + (";TYPED" if k % 7 == 0 else "")
            cells = [":".join(c[f] for f in ("GT", *fields)) for c in calls]
            lines.append(f"{contig}\t{first + 10 * k}\t{contig}_{k}\tA\tG\t.\tPASS\t{info}\t"
                         + ":".join(("GT", *fields)) + "\t" + "\t".join(cells))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


def write_psam(path: Path) -> Path:
    path.write_text("#IID\tSEX\n" + "".join(f"{s}\t{1 if m else 2}\n"
                                             for s, m in zip(SAMPLES, MALE, strict=True)))
    return path


def write_sheet(path: Path) -> Path:
    path.write_text("sample_id\tsex\tage\n" + "".join(
        f"{s}\t{1 if m else 2}\t50\n" for s, m in zip(SAMPLES, MALE, strict=True)))
    return path


def plink2_pgen(plink2: str, vcf: Path, mode: str, out: Path) -> Path:
    """plink2's own import of ``vcf`` (``dosage=<mode>``) as a .pgen prefix."""
    psam = write_psam(out.with_name("ref.psam"))
    subprocess.run([plink2, "--vcf", str(vcf), f"dosage={mode}", "--psam", str(psam),
                    "--make-pgen", "--out", str(out)], check=True, capture_output=True)
    return out


def all_dosages(blocks) -> np.ndarray:
    return np.vstack([b.dosage for contig in blocks for b in contig])


def _regions(reader, path):
    return [list(reader(path, contig, 1, 10**9, block_size=50)) for contig, _, _ in CONTIGS]


def test_dosage_summaries__matches_naive_twin():
    rng = np.random.default_rng(5)
    dosage = (rng.random((30, 17)) * 2).astype(np.float32)
    dosage[rng.random(dosage.shape) < 0.1] = np.nan
    dosage[3] = 0.0  # monomorphic: MaCH r2 undefined
    region = np.where(np.arange(30) < 20, REGION_DIPLOID, REGION_X).astype(np.int8)
    male = rng.random(17) < 0.5
    np.testing.assert_allclose(dosage_summaries(dosage, region, male),
                               dosage_summaries_naive(dosage, region, male), rtol=1e-12)


@pytest.mark.parametrize(("fields", "mode", "decimals"), [
    (("DS",), "DS", 3), (("DS",), "DS", 5), (("GP",), "GP-force", 3), (("HDS",), "HDS", 3),
    (("HDS",), "HDS", 5), (("DS", "GP"), "DS", 4)])
def test_read_vcf_dosages__equals_plink2_import(tmp_path, plink2, fields, mode, decimals):
    """Our reader's dosages equal plink2's stored dosages exactly, chrX males (haploid GT,
    doubled) and missing calls included; 5 decimals catch float32 rounding (htslib's)."""
    vcf = write_vcf(tmp_path / "imp.vcf.gz", fields, decimals)
    reference = all_dosages(_regions(read_pgen_dosages, plink2_pgen(plink2, vcf, mode,
                                                                    tmp_path / "ref")))
    ours = all_dosages(_regions(read_vcf_dosages, vcf))
    assert np.array_equal(np.isnan(ours), np.isnan(reference))
    assert np.isnan(ours).mean() == pytest.approx(0.05, abs=0.02)
    ok = ~np.isnan(ours)
    slope, max_diff = slope_and_max_abs_diff(reference[ok], ours[ok])
    assert max_diff == 0.0
    assert slope == pytest.approx(1.0, abs=1e-12)


def _ingest_all(path, out: Path, sheet: Path, limits=NO_FILTER, keep=None) -> pd.DataFrame:
    tables = []
    for contig, _, _ in CONTIGS:
        ingest_dosages(path, contig, out.with_name(f"{out.name}.{contig}"), keep=keep,
                       phenotypes=sheet, limits=limits)
        tables.append(pd.read_csv(f"{out}.{contig}.variants.tsv", sep="\t",
                                  dtype={"chrom": str}, keep_default_na=False,
                                  na_values=["NA"]))
    return pd.concat(tables, ignore_index=True)


def test_ingest_dosages__mach_r2_and_frequency_equal_plink2_freq(tmp_path, plink2):
    """MaCH r² and ALT frequency on the kept samples against ``plink2 --vcf dosage=DS --keep
    --freq cols=+machr2`` (6 significant digits printed): max abs diff < 1e-5; chrX frequency
    counts males once, and MaCH r² is NA there in both."""
    vcf = write_vcf(tmp_path / "imp.vcf.gz", ("DS",))
    keep = tmp_path / "keep.txt"
    keep.write_text("\n".join(SAMPLES[3:]) + "\n")
    ours = _ingest_all(vcf, tmp_path / "out", write_sheet(tmp_path / "sheet.tsv"), keep=keep)
    subprocess.run([plink2, "--vcf", str(vcf), "dosage=DS", "--psam",
                    str(write_psam(tmp_path / "ref.psam")), "--keep", str(keep), "--freq",
                    "cols=+machr2", "--out", str(tmp_path / "ref")], check=True,
                   capture_output=True)
    reference = pd.read_csv(tmp_path / "ref.afreq", sep="\t", na_values=["NA", "nan"])
    assert list(reference["ID"]) == list(ours["id"])
    slope, max_diff = slope_and_max_abs_diff(reference["ALT_FREQS"], ours["alt_freq"])
    assert max_diff < 1e-5
    assert slope == pytest.approx(1.0, abs=1e-4)
    auto = (ours["chrom"] == "22").to_numpy()
    slope, max_diff = slope_and_max_abs_diff(reference["MACH_R2"][auto], ours["mach_r2"][auto])
    assert max_diff < 1e-4
    assert slope == pytest.approx(1.0, abs=1e-3)
    assert reference["MACH_R2"][~auto].isna().all()
    assert ours["mach_r2"][~auto].isna().all()


def test_ingest_dosages__vcf_bgen_pgen_give_identical_results(tmp_path, plink2):
    """The same dosages as VCF, as BGEN v1.2 and v1.3 (plink2 --export, 16 bits) and as PGEN
    (plink2 --make-pgen): identical QC tables and stored dosages."""
    vcf = write_vcf(tmp_path / "imp.vcf.gz", ("DS",))
    pgen = plink2_pgen(plink2, vcf, "DS", tmp_path / "ref")
    inputs = {"vcf": vcf, "pgen": pgen}
    for version in ("bgen-1.2", "bgen-1.3"):
        out = tmp_path / version
        subprocess.run([plink2, "--pfile", str(pgen), "--export", version, "ref-first",
                        "--out", str(out)], check=True, capture_output=True)
        inputs[version] = Path(f"{out}.bgen")
    sheet = write_sheet(tmp_path / "sheet.tsv")
    results = {}
    for name, path in inputs.items():
        table = _ingest_all(path, tmp_path / f"o_{name}", sheet)
        stored = np.vstack([all_dosages([list(read_pgen_dosages(
            tmp_path / f"o_{name}.{contig}", contig, 1, 10**9))]) for contig, _, _ in CONTIGS])
        results[name] = (table.drop(columns=["file_r2", "typed", "id"]), stored)
    for name in ("pgen", "bgen-1.2", "bgen-1.3"):
        pd.testing.assert_frame_equal(results[name][0], results["vcf"][0])
        assert np.array_equal(results[name][1], results["vcf"][1], equal_nan=True)


def test_read_bgen_dosages__zstd_and_bit_depths_and_sample_file(tmp_path):
    """BGEN written by the ``bgen`` package (zstd, no embedded IDs, a .sample file; a region
    through its .bgi index or by scanning): 32-bit
    reads back the dosages to the stored precision (1/32768), 8-bit within its step (1/255
    per probability)."""
    import bgen

    from cohortgen.io.bgen import read_bgen_dosages

    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(3), size=(6, 10))
    expected = p[..., 1] + 2 * p[..., 2]
    for bits, tolerance in ((32, 1 / 32768 + 1e-7), (8, 3 / 255)):
        path = tmp_path / f"b{bits}.bgen"
        with bgen.BgenWriter(str(path), 10, compression="zstd") as writer:
            for k in range(6):
                writer.add_variant(f"v{k}", f"rs{k}", "22", 100 + k, ["A", "G"], p[k],
                                   bit_depth=bits)
        path.with_suffix(".sample").write_text(
            "ID_1 ID_2 missing\n0 0 0\n" + "".join(f"{s} {s} 0\n" for s in SAMPLES[:10]))
        assert Path(f"{path}.bgi").is_file()  # the bgen package indexes as it writes
        block = next(read_bgen_dosages(path, "22", 1, 1000))
        assert block.ids == [f"rs{k}" for k in range(6)]
        assert np.abs(block.dosage - expected).max() < tolerance
        fetched = next(read_bgen_dosages(path, "22", 101, 103))
        Path(f"{path}.bgi").unlink()
        scanned = next(read_bgen_dosages(path, "22", 101, 103))
        assert fetched.ids == scanned.ids == ["rs1", "rs2", "rs3"]
        assert np.array_equal(fetched.dosage, scanned.dosage)


def _written_ds(vcf: Path, contig: str) -> np.ndarray:
    """float64 (m, n) DS as written in a GT:DS VCF of one contig (NaN for '.')."""
    with gzip.open(vcf, "rt") as handle:
        rows = [[cell.split(":")[1].replace(".", "nan") if cell.endswith(":.") else
                 cell.split(":")[1] for cell in line.rstrip("\n").split("\t")[9:]]
                for line in handle if line.startswith(f"{contig}\t")]
    return np.array(rows, dtype=object).astype(str).astype(np.float64)


def test_ingest_dosages__stored_precision_round_trip(tmp_path):
    """Dosages (5 decimals) stored as PLINK 2 .pgen read back within 1/32768 (half a 1/16384
    step) of the decimals written."""
    vcf = write_vcf(tmp_path / "imp.vcf.gz", ("DS",), decimals=5)
    ingest_dosages(vcf, "22", tmp_path / "o", limits=NO_FILTER)
    original = _written_ds(vcf, "22")
    stored = all_dosages([list(read_pgen_dosages(tmp_path / "o", "22", 1, 10**9))])
    assert np.array_equal(np.isnan(original), np.isnan(stored))
    error = np.nanmax(np.abs(original - stored))
    assert 1 / 32768 - 1e-6 < error <= 1 / 32768
    for ext in ("pgen", "pvar", "psam"):
        assert stat.S_IMODE(Path(f"{tmp_path / 'o'}.{ext}").stat().st_mode) == 0o600


def test_ingest_dosages__reason_codes(tmp_path):
    """multiallelic, duplicate (position and alleles; ID), missing_rate, low_mac, low_maf and
    low_r2, first failing one."""
    n = N_SAMPLES
    rows = [("100", "A", "G,T", ["1,0"] * n),                      # multi-allelic
            ("200", "A", "G", ["0.5"] * (n // 2) + ["1.5"] * (n // 2)),
            ("200", "A", "G", ["0.5"] * n),                        # duplicate of the above
            ("300", "A", "G", ["."] * 10 + ["1"] * (n - 10)),      # 25% missing
            ("400", "A", "G", ["0"] * n),                          # monomorphic
            ("500", "A", "G", ["0"] * (n - 2) + ["1", "1"]),       # MAF 0.025
            ("600", "A", "G", ["0.5"] * n),                        # r2 = 0
            ("700", "A", "G", ["0.5"] * (n // 2) + ["1.5"] * (n // 2)),
            ("800", "A", "G", ["0.5"] * (n // 2) + ["1.5"] * (n // 2))]  # same ID as 700
    header = (HEADER + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
              + "\t".join(SAMPLES))
    lines = [f"22\t{pos}\t{'rsX' if pos in ('700', '800') else '.'}\t{ref}\t{alt}\t.\tPASS\t"
             ".\tDS\t" + "\t".join(ds) for pos, ref, alt, ds in rows]
    plain = tmp_path / "r.vcf"
    plain.write_text(header + "\n" + "\n".join(lines) + "\n")
    vcf = Path(pysam.tabix_index(str(plain), preset="vcf", force=True))
    summary = ingest_dosages(vcf, "22:1-1000", tmp_path / "o",
                             limits=DosageThresholds(min_maf=0.05))
    table = pd.read_csv(tmp_path / "o.variants.tsv", sep="\t", keep_default_na=False)
    assert list(table["reason"]) == ["multiallelic", "", "duplicate", "missing_rate", "low_mac",
                                     "low_maf", "low_r2", "", "duplicate"]
    assert summary["variants_passed"] == 2
    assert summary["excluded"]["low_r2"] == 1


def _bad_vcf(tmp_path, fields: str, cells: list[str], contig: str = "22",
             gt_header: bool = True) -> Path:
    header = HEADER if gt_header else HEADER.replace("##FORMAT=<ID=GT", "##FORMAT=<ID=XX")
    plain = tmp_path / "bad.vcf"
    plain.write_text(header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
                     + "\t".join(SAMPLES[:len(cells)]) + "\n"
                     + f"{contig}\t5000000\trsBad\tA\tG\t.\tPASS\t.\t{fields}\t"
                     + "\t".join(cells) + "\n")
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


@pytest.mark.parametrize(("fields", "cells", "contig", "words"), [
    ("DS", ["0.5", "2.1"], "22", ["DS 2.1", "outside [0, 2]"]),
    ("DS", ["0.5", "-0.2"], "22", ["DS -0.2", "outside [0, 2]"]),
    ("GT:DS", ["0/1:0.5", "1:1.2"], "X", ["DS 1.2", "outside [0, 1]", "haploid"]),
    ("GP", ["0.2,0.3,0.5", "0.2,0.3,0.4"], "22", ["GP 0.2,0.3,0.4", "summing to 1"]),
    ("DS:GP", ["1.3:0.2,0.3,0.5", "0.5:0.2,0.3,0.5"], "22", ["DS 0.5", "disagrees", "1.3000"]),
    ("DS", ["0.5", "1"], "X", ["need GT", "chrX"]),
])
def test_read_vcf_dosages__bad_values_name_file_record_sample(tmp_path, fields, cells, contig,
                                                              words):
    vcf = _bad_vcf(tmp_path, fields, cells, contig)
    with pytest.raises(InputError) as error:
        list(read_vcf_dosages(vcf, contig, 1, 10**9))
    message = str(error.value)
    assert str(vcf) in message
    assert f"{contig}:5000000 (rsBad)" in message
    if "need GT" not in words:
        assert "sample s01" in message
    for word in words:
        assert word in message


def test_read_vcf_dosages__no_index(tmp_path):
    vcf = _bad_vcf(tmp_path, "DS", ["0.5"])
    Path(f"{vcf}.tbi").unlink()
    with pytest.raises(InputError, match="no index"):
        list(read_vcf_dosages(vcf, "22", 1, 10**9))


def test_read_bgen_dosages__no_sample_ids_and_no_sample_file(tmp_path):
    import bgen

    from cohortgen.io.bgen import read_bgen_dosages

    path = tmp_path / "noids.bgen"
    with bgen.BgenWriter(str(path), 2) as writer:
        writer.add_variant("v", "rs1", "22", 100, ["A", "G"], np.array([[1.0, 0, 0]] * 2))
    with pytest.raises(InputError, match=r"noids\.bgen: the BGEN file holds no sample IDs"):
        list(read_bgen_dosages(path, "22", 1, 1000))


GENOTYPES_2ALT = ("0/0", "0/1", "1/1", "0/2", "1/2", "2/2")
"""Diploid genotypes of a record with two ALTs, in VCF GP order."""


def write_multiallelic_vcf(path: Path, fields: tuple[str, ...]) -> Path:
    """Autosomal records alternating bi- and tri-allelic (REF A, ALT G or G,T), FORMAT GT plus
    ``fields`` from one GP draw per call in thousandths (DS per ALT exact), 5% missing."""
    rng = np.random.default_rng(3)
    copies = np.array([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [0, 2]])
    lines = [HEADER + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
             + "\t".join(SAMPLES)]
    for k in range(30):
        n_alt = 1 + k % 2
        cells = []
        for _ in SAMPLES:
            if rng.random() < 0.05:
                missing = {"DS": ",".join(["."] * n_alt), "GP": "."}  # bcftools splits ".,."
                cells.append(":".join(["./."] + [missing[f] for f in fields]))
                continue
            g = [0, 1, 2] if n_alt == 1 else list(range(6))
            gp = rng.multinomial(1000, rng.dirichlet(np.ones(len(g)) * 0.5))
            ds = gp @ copies[g, :n_alt]
            values = {"GP": ",".join(f"{p / 1000:g}" for p in gp),
                      "DS": ",".join(f"{d / 1000:g}" for d in ds)}
            cells.append(":".join([GENOTYPES_2ALT[g[int(np.argmax(gp))]]]
                                  + [values[f] for f in fields]))
        alt = "G" if n_alt == 1 else "G,T"
        lines.append(f"22\t{1000 + 10 * k}\tm{k}\tA\t{alt}\t.\tPASS\tR2=0.9\t"
                     + ":".join(("GT", *fields)) + "\t" + "\t".join(cells))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


def _split_by_bcftools(bcftools: str, vcf: Path, out: Path) -> Path:
    subprocess.run([bcftools, "norm", "-m-", "-Oz", "-o", str(out), str(vcf)], check=True,
                   capture_output=True)
    return Path(pysam.tabix_index(str(out), preset="vcf", force=True))


@pytest.mark.parametrize("fields", [("DS",), ("GP",), ("DS", "GP")])
def test_read_vcf_dosages__split_multiallelic_equals_bcftools_norm_then_plink2(
        tmp_path, plink2, fields):
    """``multiallelic="split"``: each ALT's dosage equals plink2's import of the record split by
    ``bcftools norm -m-`` (DS per ALT; GP-only files against the DS split, since bcftools keeps
    a split record's GP subset unnormalised); IDs chrom:pos:ref:alt."""
    bcftools = require_tool("bcftools")
    reference_vcf = _split_by_bcftools(
        bcftools, write_multiallelic_vcf(tmp_path / "ds.vcf.gz", ("DS",)), tmp_path / "s.vcf.gz")
    reference = all_dosages([list(read_pgen_dosages(
        plink2_pgen(plink2, reference_vcf, "DS", tmp_path / "ref"), "22", 1, 10**9))])
    vcf = write_multiallelic_vcf(tmp_path / "imp.vcf.gz", fields)
    blocks = list(read_vcf_dosages(vcf, "22", 1, 10**9, block_size=7, multiallelic="split"))
    assert np.array_equal(all_dosages([blocks]), reference, equal_nan=True)
    ids = [i for b in blocks for i in b.ids]
    assert len(ids) == 45
    assert ids[1:3] == ["22:1010:A:G", "22:1010:A:T"]
    dropped = next(read_vcf_dosages(vcf, "22", 1, 10**9, multiallelic="drop"))
    assert dropped.alt[:2] == ["G", "G,T"]
    assert np.isnan(dropped.dosage[1]).all()


def test_read_pgen_dosages__split_multiallelic_hard_calls(tmp_path, plink2):
    """A multi-allelic PGEN (plink2 imports multi-allelic hard calls, not dosages) split per
    ALT equals plink2's import of the bcftools-split VCF's hard calls."""
    bcftools = require_tool("bcftools")
    vcf = write_multiallelic_vcf(tmp_path / "imp.vcf.gz", ("DS",))
    ours, split = tmp_path / "multi", tmp_path / "split"
    for source, out in ((vcf, ours),
                        (_split_by_bcftools(bcftools, vcf, tmp_path / "s.vcf.gz"), split)):
        subprocess.run([plink2, "--vcf", str(source), "--make-pgen", "--out", str(out)],
                       check=True, capture_output=True)
    got = list(read_pgen_dosages(ours, "22", 1, 10**9, block_size=7, multiallelic="split"))
    expected = all_dosages([list(read_pgen_dosages(split, "22", 1, 10**9))])
    assert np.array_equal(all_dosages([got]), expected, equal_nan=True)
    assert [i for b in got for i in b.ids][1:3] == ["22:1010:A:G", "22:1010:A:T"]


def test_main__ingest_dosages_command_splits_and_reports(tmp_path):
    """The command line: ``--multiallelic split`` keeps each ALT as a variant (none excluded
    as multiallelic); a bad region is a clean error (status 2)."""
    from cohortgen.cli import main

    vcf = write_multiallelic_vcf(tmp_path / "imp.vcf.gz", ("DS",))
    out = tmp_path / "o"
    assert main(["ingest-dosages", "--imputed", str(vcf), "--region", "22:1000-1100",
                 "--out-prefix", str(out), "--options",
                 '{"ingest": {"multiallelic": "split"}, "imputed_qc": {"min_r2": 0}}']) == 0
    table = pd.read_csv(f"{out}.variants.tsv", sep="\t", keep_default_na=False)
    assert len(table) == 16
    assert "multiallelic" not in set(table["reason"])
    assert main(["ingest-dosages", "--imputed", str(vcf), "--region", "22:9-1",
                 "--out-prefix", str(out)]) == 2


def test_read_vcf_dosages__bcf_equals_vcf(tmp_path):
    """A BCF (bcftools view -Ob, indexed .csi) reads as the VCF it was made from."""
    bcftools = require_tool("bcftools")
    vcf = write_vcf(tmp_path / "imp.vcf.gz", ("DS", "GP"))
    bcf = tmp_path / "imp.bcf"
    subprocess.run([bcftools, "view", "-Ob", "-o", str(bcf), str(vcf)], check=True)
    subprocess.run([bcftools, "index", str(bcf)], check=True)
    assert np.array_equal(all_dosages(_regions(read_vcf_dosages, bcf)),
                          all_dosages(_regions(read_vcf_dosages, vcf)), equal_nan=True)
