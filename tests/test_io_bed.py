"""PLINK 1 fileset I/O: round trip, bad files, string IDs."""

import numpy as np
import pandas as pd
import pytest

from cohortgen.errors import InputError
from cohortgen.io.bed import (
    BIM_COLUMNS,
    FAM_COLUMNS,
    fileset_paths,
    read_bed,
    read_bim,
    read_fam,
    write_bed,
)
from cohortgen.kernels.bed import MISSING, pack_dosages, unpack_dosages


def small_fileset(n_variants=6, n_samples=7, seed=0):
    rng = np.random.default_rng(seed)
    dosage = rng.integers(-1, 3, size=(n_variants, n_samples)).astype(np.int8)
    bim = pd.DataFrame(
        {
            "chrom": ["1"] * (n_variants - 1) + ["X"],
            "id": [f"rs{i:05d}" for i in range(n_variants)],
            "cm": [0.0] * n_variants,
            "pos": np.arange(1, n_variants + 1, dtype=np.int64) * 1000,
            "a1": ["A"] * n_variants,
            "a2": ["G"] * n_variants,
        }
    )
    fam = pd.DataFrame(
        {
            "fid": [f"{i:05d}" for i in range(n_samples)],
            "iid": [f"{i:05d}" for i in range(n_samples)],
            "father": ["0"] * n_samples,
            "mother": ["0"] * n_samples,
            "sex": rng.integers(0, 3, size=n_samples),
            "pheno": ["-9"] * n_samples,
        }
    )
    return dosage, bim, fam


def test_write_bed__round_trip(tmp_path):
    dosage, bim, fam = small_fileset()
    write_bed(tmp_path / "cohort.v1", pack_dosages(dosage), bim, fam)
    packed, bim_read, fam_read = read_bed(tmp_path / "cohort.v1")
    np.testing.assert_array_equal(unpack_dosages(packed, len(fam)), dosage)
    assert list(bim_read.columns) == list(BIM_COLUMNS)
    assert list(fam_read.columns) == list(FAM_COLUMNS)
    pd.testing.assert_frame_equal(bim_read, bim, check_dtype=False)
    pd.testing.assert_frame_equal(fam_read, fam, check_dtype=False)
    assert bim_read["pos"].dtype == np.int64
    assert fam_read["sex"].dtype == np.int64
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cohort.v1.bed",
        "cohort.v1.bim",
        "cohort.v1.fam",
    ]


def test_write_bed__magic_bytes_and_size(tmp_path):
    dosage, bim, fam = small_fileset(n_variants=3, n_samples=5)
    write_bed(tmp_path / "c", pack_dosages(dosage), bim, fam)
    data = (tmp_path / "c.bed").read_bytes()
    assert data[:3] == bytes([0x6C, 0x1B, 0x01])
    assert len(data) == 3 + 3 * 2


def test_read_bed__variant_slice(tmp_path):
    dosage, bim, fam = small_fileset(n_variants=10, n_samples=9)
    write_bed(tmp_path / "c", pack_dosages(dosage), bim, fam)
    packed, bim_read, _ = read_bed(tmp_path / "c", slice(3, 7))
    np.testing.assert_array_equal(unpack_dosages(packed, 9), dosage[3:7])
    assert bim_read["id"].tolist() == bim["id"].iloc[3:7].tolist()


def test_read_bed__bad_magic_raises(tmp_path):
    dosage, bim, fam = small_fileset()
    write_bed(tmp_path / "c", pack_dosages(dosage), bim, fam)
    path = tmp_path / "c.bed"
    data = bytearray(path.read_bytes())
    data[2] = 0x00
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="sample-major") as info:
        read_bed(tmp_path / "c")
    assert str(path) in str(info.value)


def test_read_bed__not_a_bed_raises(tmp_path):
    dosage, bim, fam = small_fileset()
    write_bed(tmp_path / "c", pack_dosages(dosage), bim, fam)
    (tmp_path / "c.bed").write_bytes(b"##fileformat=VCF")
    with pytest.raises(InputError, match="not a PLINK 1 .bed") as info:
        read_bed(tmp_path / "c")
    assert str(tmp_path / "c.bed") in str(info.value)


def test_read_bed__truncated_raises(tmp_path):
    dosage, bim, fam = small_fileset()
    write_bed(tmp_path / "c", pack_dosages(dosage), bim, fam)
    path = tmp_path / "c.bed"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(InputError, match="file size") as info:
        read_bed(tmp_path / "c")
    assert str(path) in str(info.value)


def test_read_fam__leading_zero_ids_stay_strings(tmp_path):
    path = tmp_path / "x.fam"
    path.write_text("00123 00123 0 0 1 -9\nNA 007 00123 0 2 NA\n")
    fam = read_fam(path)
    assert fam["fid"].tolist() == ["00123", "NA"]
    assert fam["iid"].tolist() == ["00123", "007"]
    assert fam["father"].tolist() == ["0", "00123"]
    assert fam["pheno"].tolist() == ["-9", "NA"]


def test_read_bim__string_columns_and_int_pos(tmp_path):
    path = tmp_path / "x.bim"
    path.write_text("01\t0001\t0\t12345\tT\tNA\n")
    bim = read_bim(path)
    assert bim.loc[0, "chrom"] == "01"
    assert bim.loc[0, "id"] == "0001"
    assert bim.loc[0, "a2"] == "NA"
    assert bim["pos"].dtype == np.int64


def test_read_bim__wrong_field_count_raises(tmp_path):
    path = tmp_path / "x.bim"
    path.write_text("1\trs1\t0\t10\tA\tG\n1\trs2\t0\t20\tA\n")
    with pytest.raises(InputError, match="line 2: 5 fields") as info:
        read_bim(path)
    assert str(path) in str(info.value)


def test_read_bim__bad_position_raises(tmp_path):
    path = tmp_path / "x.bim"
    path.write_text("1\trs1\t0\t10\tA\tG\n1\trs2\t0\tabc\tA\tG\n")
    with pytest.raises(InputError, match="line 2: column pos is 'abc'") as info:
        read_bim(path)
    assert str(path) in str(info.value)


def test_write_bed__shape_mismatch_raises(tmp_path):
    dosage, bim, fam = small_fileset()
    with pytest.raises(ValueError, match="expected"):
        write_bed(tmp_path / "c", pack_dosages(dosage[:-1]), bim, fam)
    assert not any(fileset_paths(tmp_path / "c")[ext].exists() for ext in ("bed", "bim", "fam"))


def test_write_bed__dict_of_columns_writes_the_frames_bytes(tmp_path):
    dosage, bim, fam = small_fileset()
    bim["cm"] = [0.0, 0.5, 1e-05, 2.25, 1e17, 3.0]
    bim_columns = {name: bim[name].tolist() for name in BIM_COLUMNS}  # Python values
    fam_columns = {name: fam[name].to_numpy() for name in FAM_COLUMNS}  # arrays (sex int64)
    write_bed(tmp_path / "frame", pack_dosages(dosage), bim, fam)
    write_bed(tmp_path / "dict", pack_dosages(dosage), bim_columns, fam_columns)
    for ext in ("bed", "bim", "fam"):
        assert (tmp_path / f"dict.{ext}").read_bytes() == (tmp_path / f"frame.{ext}").read_bytes()
    with pytest.raises(ValueError, match="for 5 variants and 7 samples"):
        write_bed(tmp_path / "c", pack_dosages(dosage), {k: v[:5] for k, v in bim_columns.items()},
                  fam_columns)


def test_write_bed__whitespace_in_id_raises(tmp_path):
    dosage, bim, fam = small_fileset()
    fam.loc[2, "iid"] = "a b"
    with pytest.raises(InputError, match="row 3, column iid"):
        write_bed(tmp_path / "c", pack_dosages(dosage), bim, fam)


def test_write_bed__missing_dosage_survives(tmp_path):
    dosage, bim, fam = small_fileset(n_variants=2, n_samples=3)
    dosage[:] = MISSING
    write_bed(tmp_path / "c", pack_dosages(dosage), bim, fam)
    packed, _, _ = read_bed(tmp_path / "c")
    assert (unpack_dosages(packed, 3) == MISSING).all()


def test_read_bed__copy_on_write_map(tmp_path):
    dosage, bim, fam = small_fileset(n_variants=8, n_samples=9)
    write_bed(tmp_path / "c", pack_dosages(dosage), bim, fam)
    before = (tmp_path / "c.bed").read_bytes()
    packed, _, _ = read_bed(tmp_path / "c")
    assert packed.flags.writeable
    assert packed.flags.c_contiguous
    assert type(packed) is np.ndarray
    packed[:] = 0
    assert (tmp_path / "c.bed").read_bytes() == before
    np.testing.assert_array_equal(unpack_dosages(read_bed(tmp_path / "c")[0], 9), dosage)


def test_read_bed__no_variants(tmp_path):
    dosage, bim, fam = small_fileset(n_variants=1, n_samples=5)
    write_bed(tmp_path / "c", pack_dosages(dosage[:0]), bim.iloc[:0], fam)
    packed, bim_read, fam_read = read_bed(tmp_path / "c")
    assert packed.shape == (0, 2)
    assert (len(bim_read), len(fam_read)) == (0, 5)


def pandas_table(path, columns):
    """Reference reader: pandas' whitespace-separated parser, every field a string."""
    table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, na_filter=False)
    table.columns = list(columns)
    return table


ODD_BIM_TEXTS = {
    "plain": "1\trs1\t0\t10\tA\tG\n2\trs2\t0.5\t20\tC\tT\n",
    "odd_ids": ("01  0001 \t0\t12345\tT\tNA\n  X\tchr1:5:A:G\t1e-3\t1e3\t-\tnan\n\n\n"
                "chr1_KI270706v1_random\té_id\t+0\t+7\tAT\t<DEL>"),
    "crlf": "1 rs1 0 10 A G\r\n1 rs2 0 20 A G\r\n",
    "quotes": '1 "rs1" 0 10 A G\n',
    "vertical_tab": "1 rs\x0b1 0 10 A G\n",
    "no_break_space": "1 rs\xa01 0 10 A G\n",
    "byte_order_mark": "\ufeff1 rs1 0 10 A G\n",
    "trailing_space": "1 rs1 0 10 A G   \n",
    "big_numbers": "1 rs1 1.0000000000000002 9007199254740993 A G\n",
}


@pytest.mark.parametrize("name", ODD_BIM_TEXTS)
def test_read_bim__matches_pandas_parser(tmp_path, name):
    path = tmp_path / "x.bim"
    path.write_bytes(ODD_BIM_TEXTS[name].encode())
    expected = pandas_table(path, BIM_COLUMNS)
    expected["cm"] = pd.to_numeric(expected["cm"]).astype(np.float64)
    expected["pos"] = pd.to_numeric(expected["pos"]).astype(np.int64)
    pd.testing.assert_frame_equal(read_bim(path), expected)


def test_read_fam__matches_pandas_parser(tmp_path):
    path = tmp_path / "x.fam"
    path.write_text("00123 00123 0 0 1 -9\n\tNA 007 00123 0 +2 NA \n\nf-1 i.1 0 0 0 1.5\n")
    expected = pandas_table(path, FAM_COLUMNS)
    expected["sex"] = pd.to_numeric(expected["sex"]).astype(np.int64)
    pd.testing.assert_frame_equal(read_fam(path), expected)


@pytest.mark.parametrize("text", ["", "\n \n"])
def test_read_bim__empty_file(tmp_path, text):
    path = tmp_path / "x.bim"
    path.write_text(text)
    bim = read_bim(path)
    assert list(bim.columns) == list(BIM_COLUMNS)
    assert len(bim) == 0
    assert (bim["pos"].dtype, bim["cm"].dtype) == (np.int64, np.float64)


@pytest.mark.parametrize(("text", "message"), [
    ("1 rs1 0 10 A G\n1 rs2 0 20 A G X\n", "line 2: 7 fields"),
    ("1 rs1 0 10 A\n1 rs2 0 20 A G\n", "line 1: 5 fields"),
    ('1 "rs1" 0 10 A\n', "line 1: 5 fields"),
    ("1 rs1 0 10 A G\n1 rs2 0 1_0 A G\n", "line 2: column pos is '1_0'"),
    ("1 rs1 0 10.5 A G\n", "line 1: column pos is '10.5', expected a whole number"),
    ("1 rs1 nan 10 A G\n", "line 1: column cm is 'nan', expected a number"),
    ("1 rs1 0 10 A G\n1 rs2 0 99999999999999999999 A G\n",
     r"line 2: column pos is '99999999999999999999', expected a whole number below 2\^63"),
])
def test_read_bim__malformed_raises(tmp_path, text, message):
    path = tmp_path / "x.bim"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_bim(path)
    assert str(path) in str(info.value)
