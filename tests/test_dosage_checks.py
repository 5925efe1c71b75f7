"""Imputed-dosage input checks, each in both directions: what a real imputation file writes is
accepted (Beagle's 2-decimal GP, DS at the range ends, a BGEN with a .sample file, a VCF with
hard calls only, read from GT with a warning and a flag) and what is wrong is refused, naming
file, record and sample, with nothing written."""

import json
import subprocess
from pathlib import Path

import bgen
import numpy as np
import pysam
import pytest
from test_dosage import HEADER, SAMPLES

from cohortgen.errors import InputError
from cohortgen.ingest.dosages import ingest_dosages
from cohortgen.io.bgen import read_bgen_dosages
from cohortgen.io.dosage_vcf import read_vcf_dosages
from cohortgen.io.pgen import read_pgen_dosages


def _vcf(tmp_path: Path, fields: str, rows: list[list[str]], contig: str = "22",
         header: str = HEADER, name: str = "in.vcf") -> Path:
    """An indexed VCF, one record per row of cells (record k at position 5000000 + k)."""
    n = len(rows[0])
    lines = [header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
             + "\t".join(SAMPLES[:n])]
    lines += [f"{contig}\t{5_000_000 + k}\trs{k}\tA\tG\t.\tPASS\t.\t{fields}\t" + "\t".join(cells)
              for k, cells in enumerate(rows)]
    plain = tmp_path / name
    plain.write_text("\n".join(lines) + "\n")
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


def _dosages(vcf: Path, contig: str = "22") -> np.ndarray:
    return np.vstack([b.dosage for b in read_vcf_dosages(vcf, contig, 1, 10**9)])


@pytest.mark.parametrize(("fields", "cells", "contig", "expected"), [
    ("DS", ["0", "2"], "22", [0, 2]),
    ("GT:DS", ["0/1:2", "1:1"], "X", [2, 2]),
    ("GP", ["0.33,0.33,0.33", "0.34,0.33,0.34"], "22", [0.99, 1.01]),
    ("GP", ["0.00,0.01,0.98", "0.999,0.000,0.000"], "22", [1.97, 0]),
    ("DS:GP", ["1:0.33,0.34,0.33", "0.99:0.33,0.33,0.33"], "22", [1, 0.99]),
])
def test_read_vcf_dosages__accepts_range_ends_and_rounded_gp(tmp_path, fields, cells, contig,
                                                              expected):
    """DS 0 and 2 (1 for a haploid call: stored doubled), Beagle 5's 2-decimal GP summing to
    0.99 or 1.01 (refused by the former 1e-3 tolerance), DS and GP differing by their rounding."""
    dosage = _dosages(_vcf(tmp_path, fields, [cells], contig), contig)[0]
    np.testing.assert_allclose(dosage, expected, atol=1 / 16384)


@pytest.mark.parametrize(("fields", "cells", "words"), [
    ("GP", ["0.33,0.33,0.33", "0.33,0.33,0.32"], ["GP 0.33,0.33,0.32", "within 0.01"]),
    ("GP", ["0.33,0.33,0.33", "0.5,0.5,0.02"], ["GP 0.5,0.5,0.02"]),
    ("DS:GP", ["0.99:0.33,0.33,0.33", "1.03:0.33,0.33,0.33"], ["DS 1.03", "disagrees"]),
])
def test_read_vcf_dosages__refuses_gp_beyond_rounding(tmp_path, fields, cells, words):
    vcf = _vcf(tmp_path, fields, [cells])
    with pytest.raises(InputError) as error:
        _dosages(vcf)
    message = str(error.value)
    for word in [str(vcf), "22:5000000 (rs0)", "sample s01", *words]:
        assert word in message


def _gt_only_header() -> str:
    return "".join(line + "\n" for line in HEADER.splitlines()
                   if "ID=DS" not in line and "ID=HDS" not in line and "ID=GP" not in line)


GT_ROWS = [["0/0", "0/1", "1/1", "./.", "1|0", "0|0"],
           ["1/1", "./1", "0/1", "0/0", "0/0", "1/1"]]


@pytest.mark.reference
def test_ingest_dosages__hard_calls_only_read_from_gt_as_plink2(tmp_path, plink2, capsys):
    """A VCF without DS, HDS and GP: the GT hard calls are the dosages (equal to plink2's
    import, chrX males haploid and doubled, a half-call missing as ``--vcf-half-call
    missing``), a warning says so and the summary flags it."""
    rows_x = [["0/1", "1", "0", "1/1", ".", "0/0"], ["1/1", "0", "1", "0/1", "1", "./."]]
    gt_header = _gt_only_header()
    text = gt_header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" \
        + "\t".join(SAMPLES[:6]) + "\n"
    for contig, rows in (("22", GT_ROWS), ("X", rows_x)):
        text += "".join(f"{contig}\t{5_000_000 + k}\t{contig}_{k}\tA\tG\t.\tPASS\t.\tGT\t"
                        + "\t".join(cells) + "\n" for k, cells in enumerate(rows))
    (tmp_path / "gt.vcf").write_text(text)
    vcf = Path(pysam.tabix_index(str(tmp_path / "gt.vcf"), preset="vcf", force=True))
    ours = np.vstack([b.dosage for contig in ("22", "X")
                      for b in read_vcf_dosages(vcf, contig, 1, 10**9)])
    psam = tmp_path / "ref.psam"
    psam.write_text("#IID\tSEX\n" + "".join(f"{s}\t{1 if i in (1, 2, 4) else 2}\n"
                                             for i, s in enumerate(SAMPLES[:6])))
    subprocess.run([plink2, "--vcf", str(vcf), "dosage=DS", "--vcf-half-call", "missing",
                    "--psam", str(psam), "--make-pgen", "--out", str(tmp_path / "ref")], check=True,
                   capture_output=True)
    reference = np.vstack([b.dosage for contig in ("22", "X")
                           for b in read_pgen_dosages(tmp_path / "ref", contig, 1, 10**9)])
    np.testing.assert_array_equal(ours, reference)
    assert np.isnan(ours).sum() == 4
    summary = ingest_dosages(vcf, "22", tmp_path / "out")
    assert summary["hard_calls_only"] is True
    assert summary["dosage_field"] == "GT"
    assert json.loads((tmp_path / "out.json").read_text())["hard_calls_only"] is True
    assert "hard calls only" in capsys.readouterr().err


def test_ingest_dosages__dosage_file_not_flagged_hard_calls(tmp_path, capsys):
    vcf = _vcf(tmp_path, "GT:DS", [["0/1:0.7", "0/0:0.1"]])
    summary = ingest_dosages(vcf, "22", tmp_path / "out")
    assert (summary["dosage_field"], summary["hard_calls_only"]) == ("DS", False)
    assert "hard calls only" not in capsys.readouterr().err


def test_read_vcf_dosages__no_genotype_field_at_all(tmp_path):
    header = "".join(line + "\n" for line in _gt_only_header().splitlines()
                     if "ID=GT" not in line)
    header += '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Depth">\n'
    vcf = _vcf(tmp_path, "AD", [["3,4", "5,0"]], header=header)
    with pytest.raises(InputError, match=r"in\.vcf\.gz: the header declares none of FORMAT DS, "
                                         r"HDS, GP or GT"):
        _dosages(vcf)


def test_ingest_dosages__bad_record_leaves_nothing_written(tmp_path):
    """A bad value in a later block stops the run: no output file and no spill file left."""
    rows = [["0.5", "1.5"]] * 5 + [["0.5", "2.5"]]
    vcf = _vcf(tmp_path, "DS", rows)
    out_dir = tmp_path / "out"
    with pytest.raises(InputError, match=r"22:5000005 \(rs5\): sample s01: DS 2.5"):
        ingest_dosages(vcf, "22", out_dir / "c", block_size=2)
    assert list(out_dir.iterdir()) == []


def test_read_vcf_dosages__index_required_and_enough(tmp_path):
    vcf = _vcf(tmp_path, "DS", [["0.5", "1.5"]])
    assert _dosages(vcf).shape == (1, 2)
    Path(f"{vcf}.tbi").unlink()
    with pytest.raises(InputError, match=r"in\.vcf\.gz.*no index"):
        _dosages(vcf)


def test_read_bgen_dosages__sample_ids_from_sample_file_or_error(tmp_path):
    """A BGEN without embedded sample IDs: refused without a .sample file, read with one."""
    path = tmp_path / "noids.bgen"
    with bgen.BgenWriter(str(path), 2) as writer:
        writer.add_variant("v", "rs1", "22", 100, ["A", "G"],
                           np.array([[1.0, 0, 0], [0, 0, 1.0]]))
    with pytest.raises(InputError, match=r"noids\.bgen: the BGEN file holds no sample IDs"):
        list(read_bgen_dosages(path, "22", 1, 1000))
    (tmp_path / "noids.sample").write_text("ID_1 ID_2 missing\n0 0 0\nf1 a 0\nf2 b 0\n")
    block = next(read_bgen_dosages(path, "22", 1, 1000))
    np.testing.assert_array_equal(block.dosage, [[0, 2]])
