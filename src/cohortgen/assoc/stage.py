"""Association stage: null models once per cohort, score tests per chunk, gather per disease.

Files: ``null_model.tsv`` (private; per kept sample: design matrix X, phenotype y, residual r and
weight w per disease) and ``null_model.json`` (per disease: status, cases, controls, dropped
covariates). Chunk results are a long table (one row per variant and disease) gathered into one
GWAS-SSF file per disease. Effect allele = ALT; beta is the one-step score estimate U/V on the
log-odds scale with SE 1/sqrt(V); missing genotypes are mean-imputed.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen import __version__
from cohortgen.assoc.null_model import fit_null_models
from cohortgen.io.bed import read_bed, read_fam
from cohortgen.io.files import read_json, read_tsv, write_json, write_tsv
from cohortgen.io.phenotypes import read_phenotypes
from cohortgen.io.sumstats import GWAS_SSF_COLUMNS, read_gwas_ssf, write_gwas_ssf
from cohortgen.kernels.bed import dosages_mean_imputed
from cohortgen.kernels.score import prepare_score, score_statistics, score_test_results
from cohortgen.kernels.stats import genotype_counts
from cohortgen.qc.sample_qc import read_keep
from cohortgen.report.plots import lambda_gc

BLOCK_VARIANTS = 1024
GENOME_WIDE = 5e-8
SUGGESTIVE = 1e-5


def disease_status(n_cases: int, n_controls: int, converged: bool, min_cases: int) -> str:
    """``OK``, or why a disease is not tested."""
    if min(n_cases, n_controls) < min_cases:
        return f"SKIPPED: fewer than {min_cases} cases or controls"
    return "OK" if converged else "SKIPPED: null model did not converge"


def covariate_table(sheet: pd.DataFrame, covariates: list[str],
                    pcs_tsv: Path | None) -> pd.DataFrame:
    """Sheet covariates of the sheet's samples, then the PCs (if given), by sample ID."""
    table = sheet[covariates]
    if pcs_tsv is None:
        return table
    pcs = read_tsv(pcs_tsv, dtype={"sample_id": str}).set_index("sample_id")
    return table.join(pcs.loc[sheet.index.astype(str)].set_axis(table.index))


def fit_null_stage(fam_path: Path, keep_txt: Path, phenotypes: Path, diseases: list[str],
                   covariates: list[str], min_cases: int, null_tsv: Path,
                   null_json: Path, pcs_tsv: Path | None = None) -> dict:
    """Fit one null model per disease on kept samples (covariates + PCs); write the private
    table and the summary."""
    keep = set(read_keep(keep_txt))
    samples = [s for s in read_fam(Path(fam_path))["iid"].astype(str) if s in keep]
    sheet = read_phenotypes(Path(phenotypes), diseases, covariates).loc[samples]
    design = covariate_table(sheet, covariates, pcs_tsv)
    covariates = design.columns.tolist()
    models = fit_null_models(design.to_numpy(float), sheet[diseases].to_numpy(float))
    table = pd.DataFrame({"sample_id": samples})
    for k in range(models.X.shape[1]):
        table[f"x{k}"] = models.X[:, k]
    summary = {"covariates": covariates,
               "dropped_covariates": [[covariates[c], why] for c, why in models.dropped],
               "diseases": {}}
    for d, (name, model) in enumerate(zip(diseases, models, strict=True)):
        status = disease_status(model.n_cases, model.n_controls, model.converged, min_cases)
        tested = status == "OK"
        table[f"y_{name}"] = np.where(model.included, sheet[name].to_numpy(float), np.nan)
        table[f"r_{name}"] = models.R[:, d] if tested else 0.0
        table[f"w_{name}"] = models.W[:, d] if tested else 0.0
        summary["diseases"][name] = {"status": status, "n_cases": model.n_cases,
                                     "n_controls": model.n_controls}
    write_tsv(null_tsv, table, private=True, float_format="%.17g")
    write_json(null_json, summary)
    return summary


def _allele_freqs(packed, n_samples, mask) -> tuple[np.ndarray, np.ndarray]:
    """(ALT frequency, number of called samples) over masked samples, per variant."""
    counts = genotype_counts(packed, n_samples, mask)
    called = counts[:, :3].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = (2 * counts[:, 0] + counts[:, 1]) / (2 * called)
    return freq, called


def _disease_rows(name, bim, stats, d, packed, n_samples, cases, controls) -> pd.DataFrame:
    eaf_cases, n_cases = _allele_freqs(packed, n_samples, cases)
    eaf_controls, n_controls = _allele_freqs(packed, n_samples, controls)
    n = n_cases + n_controls
    with np.errstate(invalid="ignore", divide="ignore"):
        eaf = (eaf_cases * n_cases + eaf_controls * n_controls) / n
    status = np.where(stats["testable"][:, d], "OK", "MONOMORPHIC")
    return pd.DataFrame({
        "disease": name, "chromosome": bim["chrom"].astype(str).to_numpy(),
        "base_pair_location": bim["pos"].to_numpy(), "effect_allele": bim["a1"].to_numpy(),
        "other_allele": bim["a2"].to_numpy(), "beta": stats["beta"][:, d],
        "standard_error": stats["se"][:, d], "effect_allele_frequency": eaf,
        "p_value": stats["p"][:, d], "variant_id": bim["id"].to_numpy(), "rsid": np.nan,
        "n": n, "n_cases": n_cases, "n_controls": n_controls,
        "effect_allele_frequency_cases": eaf_cases,
        "effect_allele_frequency_controls": eaf_controls, "status": status,
    })


def association_chunk(prefix: Path, null_tsv: Path, null_json: Path, variant_qc_tsv: Path,
                      results_tsv: Path) -> pd.DataFrame:
    """Score-test every QC-passed variant of a chunk for every tested disease at once."""
    packed, bim, fam = read_bed(Path(prefix))
    passed = read_tsv(variant_qc_tsv, dtype={"chrom": str, "id": str})["pass"].to_numpy(bool)
    packed, bim = packed[passed], bim.loc[passed].reset_index(drop=True)
    null = read_tsv(null_tsv, dtype={"sample_id": str})
    diseases = [n for n, s in read_json(null_json)["diseases"].items() if s["status"] == "OK"]
    fam_index = {s: k for k, s in enumerate(fam["iid"].astype(str))}
    idx = np.array([fam_index[s] for s in null["sample_id"]], dtype=np.int64)
    X = null.filter(regex=r"^x\d+$").to_numpy(float)
    R = null[[f"r_{d}" for d in diseases]].to_numpy(float)
    W = null[[f"w_{d}" for d in diseases]].to_numpy(float)
    prep = prepare_score(X, R, W)
    n = len(fam)
    blocks = []
    for start in range(0, len(bim), BLOCK_VARIANTS):
        rows = slice(start, start + BLOCK_VARIANTS)
        G = dosages_mean_imputed(packed[rows], n, idx)
        stats = score_test_results(*score_statistics(G, prep))
        for d, name in enumerate(diseases):
            y = null[f"y_{name}"].to_numpy(float)
            cases = np.zeros(n, bool)
            cases[idx[y == 1]] = True
            controls = np.zeros(n, bool)
            controls[idx[y == 0]] = True
            blocks.append(_disease_rows(name, bim.iloc[rows].reset_index(drop=True), stats, d,
                                        packed[rows], n, cases, controls))
    columns = ["disease", *GWAS_SSF_COLUMNS]
    results = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=columns)
    write_tsv(results_tsv, results[columns], float_format="%.10g")
    return results


def gather_gwas(disease: str, chunk_paths: list[Path], null_json: Path, genome_build: str,
                out_gz: Path) -> pd.DataFrame:
    """Write one disease's GWAS-SSF file (+ .tbi, -meta.yaml) from chunk results."""
    null = read_json(null_json)
    info = null["diseases"][disease]
    tables = [read_tsv(p, dtype={"chromosome": str, "variant_id": str, "disease": str})
              for p in chunk_paths]
    table = pd.concat(tables, ignore_index=True)
    table = table.loc[table["disease"] == disease, GWAS_SSF_COLUMNS].reset_index(drop=True)
    meta = {"genome_assembly": genome_build, "trait_description": disease,
            "case_count": info["n_cases"], "control_count": info["n_controls"],
            "adjusted_covariates": null["covariates"], "cohortgen_status": info["status"],
            "analysis_software": f"cohortgen {__version__}"}
    write_gwas_ssf(Path(out_gz), table, meta)
    return table


def gwas_summary_row(disease: str, table: pd.DataFrame, info: dict) -> dict:
    """Per-disease summary: counts, lambda GC over tested variants, significant variant counts."""
    p = table["p_value"].to_numpy(float)
    return {"disease": disease, "status": info["status"], "n_cases": info["n_cases"],
            "n_controls": info["n_controls"], "n_variants": int(np.isfinite(p).sum()),
            "lambda_gc": lambda_gc(p) if np.isfinite(p).any() else np.nan,
            "n_genome_wide": int((p < GENOME_WIDE).sum()),
            "n_suggestive": int((p < SUGGESTIVE).sum())}


def summarize_gwas(diseases: list[str], gwas_paths: list[Path], null_json: Path,
                   summary_tsv: Path) -> pd.DataFrame:
    """Write gwas/summary.tsv: one row per disease (see :func:`gwas_summary_row`)."""
    info = read_json(null_json)["diseases"]
    rows = [gwas_summary_row(d, read_gwas_ssf(Path(p)), info[d])
            for d, p in zip(diseases, gwas_paths, strict=True)]
    summary = pd.DataFrame(rows)
    write_tsv(summary_tsv, summary, float_format="%.6g")
    return summary
