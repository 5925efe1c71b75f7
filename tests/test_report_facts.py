"""The report's facts from imputed dosages and the whole-genome regression: which genotypes the
GWAS tested (and the r² filter), the imputed-variant QC funnel, the warning for hard calls only,
the method line with step 1's fit per trait, failed traits, and the complementary suppression
that never picks a 0."""

import numpy as np
import pandas as pd
import pytest
import test_dosage
from test_dosage import NO_FILTER, write_vcf
from test_report import write_report_inputs
from test_report_i18n import visible_text

from cohortgen.assoc.gather import trait_method, write_trait_files
from cohortgen.errors import InputError
from cohortgen.ingest.dosages import REASONS, ingest_dosages
from cohortgen.io.files import read_json, write_json, write_tsv
from cohortgen.io.sumstats import meta_path_for, read_gwas_ssf
from cohortgen.privacy import primary_suppressed, with_complement
from cohortgen.qc.imputed_summary import imputed_funnel
from cohortgen.report.catalogue import LANGUAGES, Catalogue
from cohortgen.report.render import removal_rows
from cohortgen.report.stage import build_report
from cohortgen.wgr.model import MIN_CASES_PER_FOLD

NAMES = ["asthma", "ldl"]
R2_FILTER = {"min_r2": 0.3, "r2_source": "mach"}
FUNNEL = {"input_formats": ["vcf"], "samples_in_files": 1250, "samples_kept": 1200,
          "variants_in": 98_765,
          "removed": {"multiallelic": 11, "duplicate": 2, "missing_rate": 0, "low_mac": 1_500,
                      "low_maf": 20_000, "low_r2": 30_123},
          "kept": 47_129, "dosage_fields": ["DS"], "hard_calls_contigs": []}


# --- complementary suppression ----------------------------------------------------------------


def test_with_complement__never_picks_a_zero():
    """The complement is the smallest *non-zero* other count: hiding a 0 next to a hidden 3
    leaves 3 = total − shown counts (the old rule hid the 0)."""
    counts = np.array([3, 0, 40, 10])
    hidden = with_complement(primary_suppressed(counts, 5), counts)
    assert hidden.tolist() == [True, False, False, True]
    assert with_complement([True, False], [2, 0]).tolist() == [True, False]  # nothing to hide
    assert with_complement([True, False, False], [2, np.nan, 7]).tolist() == [True, False, True]


def test_removal_rows__complement_skips_zero_counts():
    rows = dict(removal_rows({"a": 3, "b": 0, "c": 9, "d": 50}, 5, "hidden"))
    assert rows == {"a": "<5", "b": "0", "c": "hidden", "d": "50"}


# --- the imputed funnel carries the hard-calls flag -------------------------------------------


def test_imputed_funnel__hard_calls_contigs_from_ingest(tmp_path, monkeypatch):
    """ingest-dosages of a GT-only file and of a DS file: the funnel names the contig read from
    hard calls and the dosage fields, and still adds up."""
    with_ds = write_vcf(tmp_path / "ds.vcf.gz", ("DS",))
    header = "".join(line for line in test_dosage.HEADER.splitlines(keepends=True)
                     if not line.startswith(("##FORMAT=<ID=DS", "##FORMAT=<ID=HDS",
                                             "##FORMAT=<ID=GP")))
    monkeypatch.setattr(test_dosage, "HEADER", header)
    gt_only = write_vcf(tmp_path / "gt.vcf.gz", ())
    ingest_dosages(gt_only, "22", tmp_path / "a", limits=NO_FILTER)
    ingest_dosages(with_ds, "X", tmp_path / "b", limits=NO_FILTER)
    assert read_json(tmp_path / "a.json")["hard_calls_only"] is True
    funnel = imputed_funnel([tmp_path / "a.json", tmp_path / "b.json"])
    assert funnel["hard_calls_contigs"] == ["22"]
    assert funnel["dosage_fields"] == ["DS", "GT"]
    assert funnel["variants_in"] == funnel["kept"] + sum(funnel["removed"].values())
    assert imputed_funnel([tmp_path / "b.json"])["hard_calls_contigs"] == []


# --- report inputs ----------------------------------------------------------------------------


def imputed_inputs(tmp_path, funnel: dict = FUNNEL, status: str = "OK") -> None:
    """test_report's inputs as gather-gwas writes them for a cohort with imputed dosages: the
    GWAS-SSF files with the ``info``/``typed`` columns and their sidecars, and qc.json with the
    ``imputed`` funnel; the disease ``asthma`` gets ``status``."""
    write_report_inputs(tmp_path)
    null = {"covariates": ["age"], "diseases": {
        "asthma": {"type": "binary", "n_cases": 300, "n_controls": 900},
        "ldl": {"type": "quantitative", "n": 1150}}}
    for name in NAMES:
        table = read_gwas_ssf(tmp_path / f"{name}.tsv.gz")
        table["info"], table["typed"] = 0.9, 0
        write_trait_files(name, table, null, "GRCh38", tmp_path / f"{name}.tsv.gz",
                          status if name == "asthma" else "OK",
                          trait_method(name, "keep", None), R2_FILTER)
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    summary.loc[summary["disease"] == "asthma", "status"] = status
    write_tsv(tmp_path / "summary.tsv", summary)
    qc = read_json(tmp_path / "qc.json")
    write_json(tmp_path / "qc.json", qc | {"imputed": funnel})


def write_wgr(tmp_path, asthma: dict | None = None) -> None:
    """A wgr.json as wgr-step1 writes it: a fitted disease and quantitative trait."""
    asthma = asthma or {"kind": "disease", "status": "OK", "n": 1200, "level1_shrinkage": 1.0,
                        "level1_h2": 0.1, "converged": True, "cases": 300, "controls": 900,
                        "cv_deviance": 1234.5, "cv_deviance_grid": [1234.5, 1240.0]}
    write_json(tmp_path / "wgr.json", {
        "n_samples": 1200, "folds": 5, "traits": {
            "asthma": asthma,
            "ldl": {"kind": "quantitative", "status": "OK", "n": 1150, "level1_shrinkage": 2.0,
                    "level1_h2": 0.3, "converged": False, "cv_r2": 0.0456,
                    "cv_r2_grid": [0.0456, 0.01]}}})


def add_method_columns(tmp_path, wgr: str = "on") -> None:
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    summary["whole_genome_regression"], summary["relatives"] = wgr, "kept"
    write_tsv(tmp_path / "summary.tsv", summary)


def pages(tmp_path, wgr: bool = False) -> dict[str, str]:
    """Build the report; {language: page text (escaped HTML)}."""
    build_report("c", tmp_path / "qc.json", tmp_path / "summary.tsv",
                 [tmp_path / f"{n}.tsv.gz" for n in NAMES],
                 [tmp_path / f"{n}.loci.tsv" for n in NAMES], tmp_path / "provenance.json", 5,
                 tmp_path / "index.html", wgr_json=tmp_path / "wgr.json" if wgr else None)
    return {lang: (tmp_path / f"index.{lang}.html").read_text(encoding="utf-8")
            for lang in LANGUAGES}


def plain(lang: str, key: str, **fields) -> str:
    return Catalogue(lang).plain(key, **fields)


# --- which genotypes, the r² filter, the funnel -----------------------------------------------


def test_report__array_cohort_says_array_hard_calls(tmp_path):
    write_report_inputs(tmp_path)
    for lang, html in pages(tmp_path).items():
        text = visible_text(html)
        assert plain(lang, "input.array") in text
        assert plain(lang, "input.imputed") not in text
        assert plain(lang, "imputed.title") not in text


def test_report__imputed_cohort_input_filter_and_funnel(tmp_path):
    """Which input the GWAS used and its r² filter (from the sidecars), in the at-a-glance and
    methods parts, and the imputed funnel (in → removed per reason → analysed), in both
    languages."""
    imputed_inputs(tmp_path)
    assert read_json(tmp_path / "qc.json")["imputed"] == FUNNEL
    for lang, html in pages(tmp_path).items():
        text = visible_text(html)
        cat = Catalogue(lang)
        assert text.count(plain(lang, "input.imputed")) == 2  # at a glance, methods
        r2_filter = plain(lang, "input.r2_filter", min_r2="0.3",
                          source=cat.text("input.r2_mach"))
        assert text.count(r2_filter) == 3  # at a glance, the imputed funnel, methods
        assert plain(lang, "input.array") not in text
        funnel = html.split('class="flow imputed-flow"')[1].split("</ol>")[0]
        assert "98,765" in funnel
        assert "47,129" in funnel
        assert "1,200" in funnel
        for code in REASONS:
            line = plain(lang, "qc.variants_removed", reason=plain(lang, f"reason.{code}"))
            assert f"{line}: <strong>{FUNNEL['removed'][code]:,}</strong>" in funnel
        assert plain(lang, "input.hard_calls", contigs="22") not in text


def test_report__hard_calls_only_warns(tmp_path):
    imputed_inputs(tmp_path, FUNNEL | {"dosage_fields": ["DS", "GT"],
                                       "hard_calls_contigs": ["21", "22"]})
    for lang, html in pages(tmp_path).items():
        warning = plain(lang, "input.hard_calls", contigs="21, 22")
        assert visible_text(html).count(warning) == 2  # at a glance, the imputed funnel
        assert "GT" in warning
        assert "DS" in warning


def test_report__imputed_people_count_is_masked(tmp_path):
    imputed_inputs(tmp_path, FUNNEL | {"samples_kept": 3})
    html = pages(tmp_path)["en"]
    funnel = html.split('class="flow imputed-flow"')[1].split("</ol>")[0]
    assert "&lt;5" in funnel
    assert ">3<" not in funnel


def test_report__missing_sidecar_is_a_clear_error(tmp_path):
    imputed_inputs(tmp_path)
    meta_path_for(tmp_path / "asthma.tsv.gz").unlink()
    with pytest.raises(InputError, match="asthma.tsv.gz-meta.yaml.*gather-gwas"):
        pages(tmp_path)


# --- the method line and step 1's fit ---------------------------------------------------------


def test_report__method_and_wgr_fit_per_trait(tmp_path):
    write_report_inputs(tmp_path)
    write_wgr(tmp_path)
    add_method_columns(tmp_path)
    for lang, html in pages(tmp_path, wgr=True).items():
        cat = Catalogue(lang)
        method = plain(lang, "method.wgr_on", relatives=cat.text("method.relatives_kept"))
        assert visible_text(html).count(method) == 2  # the disease and the trait
        asthma = visible_text(html.split('id="disease-1"')[1].split('id="traits"')[0])
        ldl = visible_text(html.split('id="traits"')[1].split('id="methods"')[0])
        assert plain(lang, "wgr.fit_disease", deviance=f"{1234.5 / 1200:.3f}") in asthma
        assert plain(lang, "wgr.fit_trait", percent="4.6%", r2="0.046") in ldl
        assert plain(lang, "wgr.not_converged") in ldl
        assert plain(lang, "wgr.not_converged") not in asthma


def test_report__wgr_fallback_says_what_level1_needs_not_the_counts(tmp_path):
    """A disease that fell back: the method line says so and the note gives level 1's need,
    never the disease's own (possibly small) counts from method_note."""
    write_report_inputs(tmp_path)
    reason = "3 cases and 1197 controls among the 1200 step-1 samples; level 1 needs 10"
    write_wgr(tmp_path, {"kind": "disease", "status": "fallback", "reason": reason})
    add_method_columns(tmp_path, "fallback")
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    summary["method_note"] = reason
    write_tsv(tmp_path / "summary.tsv", summary)
    need = MIN_CASES_PER_FOLD * 5
    for lang, html in pages(tmp_path, wgr=True).items():
        text = visible_text(html)
        assert plain(lang, "method.wgr_fallback",
                     relatives=Catalogue(lang).text("method.relatives_kept")) in text
        assert plain(lang, "wgr.fallback", need=str(need), folds="5") in text
        assert "3 cases" not in text
        assert "1197" not in text


# --- failed traits ----------------------------------------------------------------------------


def test_report__failed_trait_renders_a_sentence_escaped(tmp_path):
    """A ``FAILED: <step>: <why>`` status: the disease's finding says it failed and why (text
    from the error is escaped), not that every variant was too rare."""
    why = "ValueError: <script>alert(1)</script> singular matrix"
    imputed_inputs(tmp_path, status=f"FAILED: gather_gwas: {why}")
    for lang, html in pages(tmp_path).items():
        text = visible_text(html)
        status = plain(lang, "status.failed", step="gather_gwas", why=why)
        name = plain(lang, "disease_name.asthma")
        finding = Catalogue(lang).text("disease.finding_failed", name=name, status=status)
        assert str(finding) in html
        assert plain(lang, "disease.finding_untested", name=name) not in text
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
