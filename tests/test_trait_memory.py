"""The per-trait jobs after ``gather-gwas`` (``find-loci``, ``summarize-gwas``, the report's
association figures) read only the GWAS-SSF columns and rows they use: their peak memory does
not grow with the trait's variant count beyond a few numbers per variant."""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.files import write_json, write_tsv_bgzip
from cohortgen.io.sumstats import read_gwas_ssf, untested_path_for, write_gwas_ssf

SMALL, LARGE = 2_000, 200_000
BLOCK_ROWS = 10_000
NULL = {"diseases": {"d": {"status": "OK", "n_cases": 300, "n_controls": 700}}}


def gwas_table(m: int, seed: int) -> pd.DataFrame:
    """A disease's GWAS-SSF rows on chromosomes 1-22 with every column the gathering writes;
    p-values uniform on [0.02, 1], so no variant can lead or join a clump."""
    rng = np.random.default_rng(seed)
    chrom = np.sort(rng.integers(1, 23, m)).astype(str)
    pos = np.arange(m, dtype=np.int64) * 50 + 1
    return pd.DataFrame({
        "chromosome": chrom, "base_pair_location": pos, "effect_allele": "A",
        "other_allele": "G", "beta": rng.normal(0, 0.05, m),
        "standard_error": rng.uniform(0.01, 0.1, m),
        "effect_allele_frequency": rng.uniform(0.01, 0.99, m),
        "p_value": rng.uniform(0.02, 1, m),
        "variant_id": [f"{c}_{p}_G_A" for c, p in zip(chrom, pos, strict=True)],
        "rsid": [f"rs{k}" for k in range(m)], "n": 1000, "n_cases": 300, "n_controls": 700,
        "effect_allele_frequency_cases": rng.uniform(0.01, 0.99, m),
        "effect_allele_frequency_controls": rng.uniform(0.01, 0.99, m),
        "status": "OK", "mac": rng.integers(20, 1000, m)})


@pytest.fixture(scope="module")
def gwas_files(tmp_path_factory):
    """``small`` and ``large`` GWAS-SSF files of disease ``d`` (no untested variant) and its
    null model."""
    root = tmp_path_factory.mktemp("trait_memory")
    for name, m in (("small", SMALL), ("large", LARGE)):
        (root / name).mkdir()
        write_gwas_ssf(root / name / "d.tsv.gz", gwas_table(m, m), {"genome_assembly": "GRCh38"})
        untested = untested_path_for(root / name / "d.tsv.gz")
        write_tsv_bgzip(untested, pd.DataFrame(columns=["reason"]))
    pd.DataFrame({"sample_id": ["s1"], "y_d": [1.0]}).to_csv(root / "null.tsv", sep="\t",
                                                             index=False)
    write_json(root / "null.json", NULL)
    return root


JOBS = {
    "find_loci": """
        from cohortgen.assoc.loci import find_loci
        def job(d):
            find_loci("d", d / "d.tsv.gz", [], root / "null.tsv", d / "d.loci.tsv")
    """,
    "summarize_gwas": """
        from cohortgen.assoc.loci import find_loci
        from cohortgen.assoc.gather import summarize_gwas
        def job(d):
            find_loci("d", d / "d.tsv.gz", [], root / "null.tsv", d / "d.loci.tsv")
            summarize_gwas(["d"], [d / "d.tsv.gz"], [d / "d.loci.tsv"], root / "null.json",
                           d / "summary.tsv")
    """,
    "report": """
        import pandas as pd
        from cohortgen.assoc.loci import find_loci
        from cohortgen.report.stage import disease_context
        def job(d):
            find_loci("d", d / "d.tsv.gz", [], root / "null.tsv", d / "d.loci.tsv")
            row = pd.Series({"disease": "d", "status": "OK", "lambda_gc": 1.0,
                             "n_genome_wide": 0, "n_suggestive": 0, "n_cases": 300,
                             "n_controls": 700})
            disease_context(row, d / "d.tsv.gz", d / "d.loci.tsv")
    """,
}


def peak_growth_mb(root, job: str) -> float:
    """MiB by which a fresh interpreter's peak resident memory (VmHWM) grows running ``job``
    on the large file after running it on the small one (which loads modules, warms up), with
    blocks of :data:`BLOCK_ROWS` rows (a block's memory is the same at any variant count)."""
    code = textwrap.dedent(f"""
        from pathlib import Path
        import cohortgen.io.sumstats
        cohortgen.io.sumstats.READ_CHUNK_ROWS = {BLOCK_ROWS}
        root = Path({str(root)!r})
    """) + textwrap.dedent(JOBS[job]) + textwrap.dedent("""
        def peak():
            text = Path("/proc/self/status").read_text()
            return int(text.split("VmHWM:")[1].split()[0]) / 1024

        job(root / "small")
        before = peak()
        job(root / "large")
        print(peak() - before)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return float(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize(("job", "limit_mb"), [("find_loci", 15), ("summarize_gwas", 25),
                                              ("report", 30)])
def test_trait_job__peak_memory_is_the_columns_it_uses(gwas_files, job, limit_mb):
    """200,000 rows after 2,000: reading every column grew the peak by 64-72 MiB (about
    350 bytes a row); now by about 5 (find-loci: one block of rows), 13 (summarize-gwas: two
    floats a row) and 14 MiB (the report: the three plot columns)."""
    growth = peak_growth_mb(gwas_files, job)
    assert growth < limit_mb, f"{job}: peak grew {growth:.1f} MiB from {SMALL} to {LARGE} rows"


def test_read_gwas_ssf__columns_and_row_filter_match_the_whole_read(gwas_files, monkeypatch):
    """Blocks of 7 rows, a filter, a column subset: the same rows and values as filtering the
    whole table; a filter that keeps nothing gives the columns with their dtypes."""
    import cohortgen.io.sumstats as sumstats

    monkeypatch.setattr(sumstats, "READ_CHUNK_ROWS", 7)
    path = gwas_files / "small" / "d.tsv.gz"
    whole = read_gwas_ssf(path)
    columns = ["p_value", "chromosome", "variant_id", "no_such_column"]
    part = read_gwas_ssf(path, columns, lambda b: b["p_value"].to_numpy(float) < 0.3)
    expected = whole.loc[whole["p_value"] < 0.3, ["chromosome", "p_value", "variant_id"]]
    pd.testing.assert_frame_equal(part, expected.reset_index(drop=True))
    none = read_gwas_ssf(path, columns, lambda b: np.zeros(len(b), bool))
    pd.testing.assert_frame_equal(none, expected.iloc[:0].reset_index(drop=True))
