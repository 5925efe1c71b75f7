"""``gather-gwas`` streams a trait's chunk tables one at a time: the files are the bytes of the
whole-table path (:func:`~cohortgen.assoc.gather.write_trait_files` of the concatenated rows),
and peak memory does not grow with the number of chunks."""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from cohortgen.assoc.gather import (
    gather_gwas,
    read_chunk_table,
    stream_trait_files,
    trait_method,
    write_trait_files,
)
from cohortgen.io.columns import write_column_table
from cohortgen.io.files import read_json, write_json
from cohortgen.io.sumstats import (
    GWAS_SSF_COLUMNS,
    IMPUTED_COLUMNS,
    PartsOutOfOrderError,
    meta_path_for,
    untested_path_for,
)

NULL = {"covariates": ["age"], "sex_added_for_chrX": True, "diseases": {
    "d": {"status": "OK", "n_cases": 120, "n_controls": 280},
    "q": {"status": "OK", "type": "quantitative", "n": 400}}}
CHUNKS = [
    # chromosome, positions, alleles (effect, other) per row
    ("1", [300, 100, 100, 200], ["AG", "AG", "CT", "AG"]),  # a tie at 100, rows unsorted
    ("1", [300, 400], ["AG", "GA"]),  # 1_300_G_A ties the last key of the chunk before
    ("1", [], []),  # a chunk without rows of the trait
    ("2", [50, 60], ["AG", "A1"]),  # a non-nucleotide allele: untested
    ("X", [20, 10], ["TC", "AG"]),  # chrX after the autosomes
]


def chunk_frame(trait: str, chrom: str, positions: list, alleles: list, seed: int,
                imputed: bool) -> dict:
    """Columns of one chunk table of ``trait`` (GWAS-SSF columns, then the imputed ones); the
    row at position 100 of an A/G variant has no estimate (``LOW_MAC``)."""
    rng = np.random.default_rng(seed)
    m = len(positions)
    quantitative = NULL["diseases"][trait].get("type") == "quantitative"
    untested = (np.array(positions) == 100) & (np.array(alleles) == "AG")
    beta = np.where(untested, np.nan, rng.normal(0, 0.1, m))
    columns = {
        "chromosome": np.array([chrom] * m, dtype=object),
        "base_pair_location": np.array(positions, dtype=np.int64),
        "effect_allele": np.array([a[0] for a in alleles], dtype=object),
        "other_allele": np.array([a[1] for a in alleles], dtype=object),
        "beta": beta, "standard_error": np.where(untested, np.nan, rng.uniform(0.01, 0.1, m)),
        "effect_allele_frequency": rng.uniform(0.05, 0.95, m),
        "p_value": np.where(untested, np.nan, rng.uniform(1e-9, 1, m)),
        "variant_id": np.array([f"rs{seed}{k}" if k % 2 else f"v-{seed}-{k}" for k in range(m)],
                               dtype=object),
        "rsid": np.full(m, np.nan),
        "n": rng.integers(390, 401, m).astype(np.int64),
        "n_cases": np.full(m, np.nan) if quantitative else rng.integers(110, 121, m) * 1.0,
        "n_controls": np.full(m, np.nan) if quantitative else rng.integers(270, 281, m) * 1.0,
        "effect_allele_frequency_cases": np.full(m, np.nan) if quantitative
        else rng.uniform(0.05, 0.95, m),
        "effect_allele_frequency_controls": np.full(m, np.nan) if quantitative
        else rng.uniform(0.05, 0.95, m),
        "status": np.array(["LOW_MAC" if u else "OK" for u in untested], dtype=object),
        "mac": np.round(rng.uniform(1, 300, m), 3 if imputed else 0),
    }
    if imputed:
        columns |= {"info": rng.uniform(0.3, 1, m), "typed": (np.arange(m) % 2).astype(np.int64)}
    return columns


def write_chunks(root, trait: str, imputed: bool, chunks=CHUNKS) -> list:
    """The chunk tables ``<root>/chunk<k>/<trait>.columns`` of ``chunks``, in that order."""
    paths = []
    for k, (chrom, positions, alleles) in enumerate(chunks):
        path = root / f"chunk{k}" / f"{trait}.columns"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_column_table(path, chunk_frame(trait, chrom, positions, alleles, k, imputed),
                           {"trait": trait}, len(positions))
        paths.append(path)
    return paths


def whole_table_files(trait: str, paths: list, null_json, out_gz) -> None:
    """The files of the whole-table path: every chunk's rows concatenated, then written."""
    tables = [read_chunk_table(p, trait) for p in paths]
    table = pd.concat([t for t in tables if len(t)], ignore_index=True)
    imputed = [c for c in IMPUTED_COLUMNS if c in table.columns]
    null = read_json(null_json)
    write_trait_files(trait, table[GWAS_SSF_COLUMNS + imputed], null, "GRCh38", out_gz,
                      null["diseases"][trait]["status"], trait_method(trait, "remove", None),
                      {"min_r2": 0.3, "r2_source": "info"})


def file_bytes(out_gz) -> list[bytes]:
    """Bytes of the data file, its index, sidecar and untested table."""
    index = out_gz.with_name(out_gz.name + ".tbi")
    return [p.read_bytes() for p in (out_gz, index, meta_path_for(out_gz),
                                     untested_path_for(out_gz))]


@pytest.mark.parametrize(("trait", "imputed"), [("d", False), ("d", True), ("q", True)])
@pytest.mark.parametrize("reverse", [False, True])
def test_gather_gwas__streamed_files_are_the_whole_table_bytes(tmp_path, monkeypatch, capsys,
                                                                trait, imputed, reverse):
    """Streamed, the chunks given in genome order or not: the same bytes as the whole table
    of the chunks in genome order, and the GWAS-SSF row count returned."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_json(tmp_path / "null.json", NULL)
    genome_order = write_chunks(tmp_path, trait, imputed)
    paths = genome_order[::-1 if reverse else 1]
    whole_table_files(trait, genome_order, tmp_path / "null.json", tmp_path / "whole.tsv.gz")
    n = gather_gwas(trait, paths, tmp_path / "null.json", "GRCh38", tmp_path / "s.tsv.gz",
                    imputed_qc={"min_r2": 0.3, "r2_source": "info"})
    assert "gathered at once" not in capsys.readouterr().err  # streamed, chunk by chunk
    assert file_bytes(tmp_path / "s.tsv.gz") == [
        b.replace(b"whole.tsv.gz", b"s.tsv.gz") for b in file_bytes(tmp_path / "whole.tsv.gz")]
    assert n == 8  # 10 rows, 1 without an estimate, 1 non-nucleotide
    meta = meta_path_for(tmp_path / "s.tsv.gz").read_text()
    assert ("cohortgen_genotypes: imputed dosages" in meta) == imputed


def test_stream_trait_files__chunks_out_of_order_write_nothing(tmp_path):
    write_json(tmp_path / "null.json", NULL)
    paths = write_chunks(tmp_path, "d", False)[::-1]
    with pytest.raises(PartsOutOfOrderError):
        stream_trait_files("d", [[p] for p in paths], NULL, "GRCh38", tmp_path / "d.tsv.gz", "OK",
                           trait_method("d", "remove", None), None, 10)
    assert not list(tmp_path.glob("d.*"))


def peak_growth_mb(root, trait: str, few: list, many: list) -> float:
    """MiB by which a fresh interpreter's peak resident memory (VmHWM) grows gathering the
    chunk tables ``many`` after gathering ``few`` (which loads the modules and warms up)."""
    code = textwrap.dedent(f"""
        from pathlib import Path
        from cohortgen.assoc.gather import gather_gwas

        def peak():
            text = Path("/proc/self/status").read_text()
            return int(text.split("VmHWM:")[1].split()[0]) / 1024

        root = Path({str(root)!r})
        gather_gwas({trait!r}, [Path(p) for p in {list(map(str, few))!r}], root / "null.json",
                    "GRCh38", root / "few.tsv.gz")
        before = peak()
        gather_gwas({trait!r}, [Path(p) for p in {list(map(str, many))!r}], root / "null.json",
                    "GRCh38", root / "many.tsv.gz")
        print(peak() - before)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    return float(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_gather_gwas__peak_memory_is_a_chunk_not_the_trait(tmp_path):
    """30 chunks of 3,000 rows after 2 of them: the whole-table path grew by about 1.7 kB per
    row (~150 MiB here); streamed, the peak is one chunk's, reached by the first run."""
    rows, n_chunks = 3000, 30
    write_json(tmp_path / "null.json", NULL)
    chunks = [("1", list(range(1 + k * rows, 1 + (k + 1) * rows)),
               ["AG", "CT", "GA"] * (rows // 3)) for k in range(n_chunks)]
    paths = write_chunks(tmp_path, "d", True, chunks)
    growth = peak_growth_mb(tmp_path, "d", paths[:2], paths)
    assert growth < 25, f"peak grew {growth:.1f} MiB gathering {n_chunks} chunks after 2"
