"""Step 1's resident memory: the .bed is read with pread (:class:`cohortgen.io.bed_rows.BedRows`),
so none of its pages is mapped into the process (a touched memory map would add the whole .bed
to the peak RSS: 2.4 GiB at 21,000 samples × 500,000 variants)."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cohortgen.wgr.stage as stage
from cohortgen.cli import main
from cohortgen.io.bed import read_bed, write_bed
from cohortgen.io.bed_rows import BedRows
from cohortgen.io.files import write_tsv
from cohortgen.kernels.bed import pack_dosages
from cohortgen.qc.keep import write_keep
from cohortgen.wgr.stage import allele_frequencies

SMAPS = Path("/proc/self/smaps")


def write_cohort(out: Path, n: int = 240, per_chrom: int = 90, seed: int = 5) -> np.ndarray:
    """genotypes.{bed,bim,fam} (3 chromosomes, 2% missing calls), keep list, PCs and a sheet
    with a quantitative trait and a disease under ``out``; returns the dosages int8 (m, n)."""
    rng = np.random.default_rng(seed)
    m = 3 * per_chrom
    dosage = rng.binomial(2, rng.uniform(0.1, 0.5, m)[:, None], (m, n)).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.02] = -1
    ids = [f"S{i}" for i in range(n)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": -9})
    bim = pd.DataFrame({"chrom": np.repeat(["1", "2", "3"], per_chrom),
                        "id": [f"v{i}" for i in range(m)], "cm": 0.0,
                        "pos": np.arange(m) + 1, "a1": "A", "a2": "G"})
    write_bed(out / "genotypes", pack_dosages(dosage), bim, fam)
    write_keep(out / "keep.txt", ids)
    pcs = pd.DataFrame(rng.normal(size=(n, 2)), columns=["PC1", "PC2"])
    write_tsv(out / "pcs.tsv", pcs.assign(sample_id=ids)[["sample_id", "PC1", "PC2"]])
    genetic = np.where(dosage[:30] >= 0, dosage[:30], 1).T @ rng.normal(scale=0.2, size=30)
    liability = genetic + rng.normal(size=n)
    pd.DataFrame({"sample_id": ids, "age": rng.integers(30, 80, n), "sex": rng.integers(1, 3, n),
                  "ldl": np.round(liability, 6),
                  "t2d": (liability > np.quantile(liability, 0.7)).astype(int)}).to_csv(
        out / "phenotypes.tsv", sep="\t", index=False)
    return dosage


def mapped_kib(path: Path) -> int:
    """Resident KiB of this process's mappings of ``path`` (0 when none)."""
    total, inside = 0, False
    for line in SMAPS.read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and ":" not in fields[0]:
            inside = len(fields) >= 6 and fields[5] == str(path)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


@pytest.mark.skipif(not SMAPS.exists(), reason="needs /proc/self/smaps (Linux)")
def test_wgr_step1__no_page_of_the_bed_resident_after_level0(tmp_path, monkeypatch):
    write_cohort(tmp_path)
    bed = (tmp_path / "genotypes.bed").resolve()
    seen = []
    level1_traits = stage.level1_traits

    def recording(*args, **kwargs):
        seen.append(mapped_kib(bed))
        return level1_traits(*args, **kwargs)

    monkeypatch.setattr(stage, "level1_traits", recording)
    options = {"diseases": ["t2d"], "traits": {"ldl": "quantitative"},
               "covariates": ["age", "sex"], "assoc": {"wgr": {"folds": 4, "block_size": 40}}}
    assert main(["wgr-step1", "--bfile", str(tmp_path / "genotypes"),
                 "--keep", str(tmp_path / "keep.txt"),
                 "--phenotypes", str(tmp_path / "phenotypes.tsv"),
                 "--pcs", str(tmp_path / "pcs.tsv"), "--options", json.dumps(options),
                 "--threads", "2", "--loco", str(tmp_path / "loco.tsv.gz"),
                 "--summary", str(tmp_path / "wgr.json")]) == 0
    assert seen == [0]
    assert json.loads((tmp_path / "wgr.json").read_text())["n_blocks"] == 9


def test_bed_rows__every_row_of_one_fileset_equals_the_memory_map(tmp_path):
    """Without chunks and rows, BedRows is the whole fileset (step 1's use): blocks with gaps,
    spans and the whole .bed equal the memory map, writable, and the shape and sample count are
    those of the .bim and .fam."""
    write_cohort(tmp_path, n=37)
    packed, _, fam = read_bed(tmp_path / "genotypes")
    rows = np.array([0, 1, 2, 7, 8, 50, 269], dtype=np.int64)
    reader = BedRows([tmp_path / "genotypes"])
    assert reader.shape == packed.shape == (270, 10)
    assert reader.n_samples == len(fam) == 37
    assert np.array_equal(reader[rows], packed[rows])
    assert np.array_equal(reader[rows[:3]], packed[:3])
    assert np.array_equal(reader[100:140], packed[100:140])
    assert np.array_equal(reader[:], packed)
    assert reader[rows].flags.writeable


def test_bed_rows__several_filesets_without_rows_are_stacked_in_order(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    write_cohort(first, n=21, per_chrom=10)
    write_cohort(second, n=21, per_chrom=12, seed=6)
    stacked = np.concatenate([read_bed(first / "genotypes")[0], read_bed(second / "genotypes")[0]])
    reader = BedRows([first / "genotypes", second / "genotypes"])
    assert reader.shape == stacked.shape == (66, 6)
    assert np.array_equal(reader[:], stacked)
    assert np.array_equal(reader[[65, 29, 30, 31, 0]], stacked[[65, 29, 30, 31, 0]])


def test_bed_rows__reads_from_several_threads_at_once_equal_the_memory_map(tmp_path):
    """Step 1's level-0 threads read blocks of one BedRows at the same time: no shared file
    position, so every block is its own rows."""
    write_cohort(tmp_path, n=203, per_chrom=400)
    packed = read_bed(tmp_path / "genotypes")[0]
    reader = BedRows([tmp_path / "genotypes"])
    blocks = [np.arange(start, start + 50) for start in range(0, 1200, 50)] * 8
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(reader.__getitem__, blocks))
    for rows, block in zip(blocks, got, strict=True):
        assert np.array_equal(block, packed[rows])


def test_allele_frequencies__equal_called_dosage_means(tmp_path):
    dosage = write_cohort(tmp_path, n=53)
    dosage[5, :] = -1  # a variant without any called genotype has frequency 0
    _, bim, fam = read_bed(tmp_path / "genotypes")
    write_bed(tmp_path / "genotypes", pack_dosages(dosage), bim, fam)
    rows = np.arange(1, 53, 2)
    called = dosage[:, rows] >= 0
    expected = np.where(called, dosage[:, rows], 0).sum(axis=1) / np.maximum(
        2.0 * called.sum(axis=1), 1)
    freq = allele_frequencies(BedRows([tmp_path / "genotypes"]), rows)
    assert freq[5] == 0.0
    assert np.max(np.abs(freq - expected)) < 1e-15
