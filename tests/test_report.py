"""HTML report: plots (λGC, thinning, chromosome order), privacy masking, determinism."""

import re

import numpy as np
import pandas as pd
import pytest

from cohortgen.errors import InputError
from cohortgen.inflation import lambda_gc
from cohortgen.io.files import read_json, read_tsv, write_json, write_tsv, write_tsv_bgzip
from cohortgen.io.sumstats import write_gwas_ssf
from cohortgen.report.plots import (
    chromosome_order,
    genome_positions,
    manhattan_figure,
    qq_figure,
    qq_points,
)
from cohortgen.report.render import mask_small_count, removal_rows, render_report
from cohortgen.report.stage import build_report


def synthetic_gwas(n: int = 20_000, seed: int = 7):
    """Null p-values on chr1..22, X (some with a chr prefix) plus a few strong signals."""
    rng = np.random.default_rng(seed)
    names = np.array([str(i) for i in range(1, 23)] + ["X", "chr2", "chrX"])
    chrom = rng.choice(names, n)
    pos = rng.integers(1, 100_000_000, n).astype(np.int64)
    p = rng.uniform(size=n)
    p[:10] = 10.0 ** -rng.uniform(8, 300, 10)
    p[10] = np.nan
    return chrom, pos, p


def synthetic_context(min_cell_count: int = 5) -> dict:
    chrom, pos, p = synthetic_gwas()
    diseases = []
    for name, cases, lam in (("type 2 diabetes", 812, 1.0123), ("stroke", 3, None)):
        diseases.append(
            {
                "name": name,
                "n_cases": cases,
                "n_controls": 4187,
                "lambda_gc": lam,
                "n_significant": 10,
                "n_suggestive": 12,
                "status": "OK" if cases > 20 else "SKIPPED: fewer than 20 cases",
                "chrom": chrom,
                "pos": pos,
                "p": p,
            }
        )
    diseases.append({"name": "asthma", "n_cases": 0, "n_controls": 4999, "status": "SKIPPED"})
    return {
        "cohort": "demo cohort",
        "qc": {
            "samples_in": 5000,
            "samples_removed_by_reason": {"call rate": 2, "heterozygosity": 17},
            "samples_out": 4981,
            "variants_in": 30000,
            "variants_removed_by_reason": {"MAF": 30, "HWE": 1000},
            "variants_out": 28970,
        },
        "diseases": diseases,
        "provenance": {"cohortgen": "0.1.0", "inputs": {"geno.vcf.gz": "md5:0123abcd"}},
        "min_cell_count": min_cell_count,
    }


def test_chromosome_order__natural():
    names = np.array(["X", "chr10", "2", "MT", "1", "Y", "chr1", "22", "23"])
    assert chromosome_order(names) == ["1", "2", "10", "22", "X", "Y", "MT"]


def test_genome_positions__chromosomes_end_to_end():
    chrom = np.array(["X", "2", "10", "1", "2"])
    pos = np.array([5, 100, 7, 50, 200], dtype=np.int64)
    x, index, order, ticks = genome_positions(chrom, pos)
    assert order == ["1", "2", "10", "X"]
    assert index.tolist() == [3, 1, 2, 0, 1]
    assert x[3] < x[1] < x[4] < x[2] < x[0]
    assert ticks == sorted(ticks)


def test_manhattan_figure__thinning_keeps_small_p():
    rng = np.random.default_rng(3)
    n = 400_000
    chrom = rng.choice(np.array([str(i) for i in range(1, 23)]), n)
    pos = rng.integers(1, 200_000_000, n).astype(np.int64)
    p = rng.uniform(size=n)
    p[:400] = 10.0 ** -rng.uniform(5, 12, 400)
    fig = manhattan_figure(chrom, pos, p, "test")
    shown_y = np.concatenate([np.asarray(trace.y, dtype=np.float64) for trace in fig.data])
    assert shown_y.size < 20_000
    small = np.sort(-np.log10(p[p < 1e-5]))  # every point below the suggestive threshold
    assert small.size > 300
    np.testing.assert_allclose(np.sort(shown_y[shown_y > 5]), small, rtol=1e-6)  # float32 drawn
    assert [trace.hovertemplate.split(":")[0] for trace in fig.data] == chromosome_order(chrom)


def test_qq_points__thinning_keeps_small_p():
    p = np.random.default_rng(4).uniform(size=200_000)
    expected, observed = qq_points(p)
    assert expected.size < 3_000  # the 2,000 strongest, then a grid
    np.testing.assert_allclose(np.sort(observed[observed > 3]), np.sort(-np.log10(p[p < 1e-3])))
    assert "λGC = " in qq_figure(p, "test").layout.title.text


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0"), (1, "<5"), (4, "<5"), (5, "5"), (12345, "12,345"), (None, "NA")]
)
def test_mask_small_count__cases(n, text):
    assert mask_small_count(n, 5) == text


def test_render_report__content_and_privacy(tmp_path):
    out = tmp_path / "report" / "index.html"
    render_report(out, synthetic_context())
    html = out.read_text(encoding="utf-8")
    for name in ("type 2 diabetes", "Stroke", "Asthma", "demo cohort"):  # catalogue names
        assert name in html
    assert "1.012" in html  # λGC given in the context, 3 decimals
    chrom, pos, p = synthetic_gwas()
    assert f"{lambda_gc(p):.3f}" in html  # λGC computed when the context has none
    assert "&lt;5" in html
    assert not re.search(r">\s*[1-4]\s*<", html)  # the 3 stroke cases, 2 call-rate removals
    assert "SKIPPED: fewer than 20 cases" in html
    assert html.count("<script>") == 1 + 1 + 2 * 2  # plotly.js once, cases and controls, 2 × 2
    assert 'id="fig-1-manhattan"' in html
    assert 'id="fig-2-qq"' in html
    assert "md5:0123abcd" in html
    assert "<script src" not in html  # nothing fetched from the network
    assert not list(tmp_path.glob("report/.*"))  # no temporary file left behind


def test_render_report__min_cell_count_from_context(tmp_path):
    out = tmp_path / "index.html"
    render_report(out, synthetic_context(min_cell_count=20))
    html = out.read_text(encoding="utf-8")
    assert "&lt;20" in html
    assert ">17<" not in html


def test_render_report__byte_identical(tmp_path):
    render_report(tmp_path / "a.html", synthetic_context())
    render_report(tmp_path / "b.html", synthetic_context())
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def test_render_report__loci_power_and_prs_sections(tmp_path):
    context = synthetic_context()
    context["diseases"][0]["loci"] = [{"locus": "1:12345", "p": 3.2e-12, "odds_ratio": 1.4567}]
    context["diseases"][0]["detectable_or"] = {"5%": 2.345, "20%": 1.5}
    context["prs"] = [{"disease": "stroke", "score": "pgs_demo", "status": "OK", "n_cases": "<5",
                       "n_controls": "1,200", "auc": 0.61, "auc_lower": 0.55, "auc_upper": 0.67,
                       "or_per_sd": 1.5, "or_per_sd_lower": 1.2, "or_per_sd_upper": 1.8,
                       "liability_r2": 0.0421}]
    out = tmp_path / "index.html"
    render_report(out, context)
    html = out.read_text()
    assert "1:12345" in html
    assert "3.2e-12" in html
    assert "1.46" in html
    assert "2.35-fold" in html
    assert "Polygenic risk scores" in html
    assert "0.61 (0.55–0.67)" in html
    assert "0.042" in html
    assert "&lt;5" in html


def with_trait(context: dict) -> dict:
    """The context plus one quantitative trait (4 people: masked) with a lead locus."""
    chrom, pos, p = synthetic_gwas(seed=11)
    trait = {"name": "LDL cholesterol", "n": 4, "lambda_gc": None, "n_significant": 1,
             "n_suggestive": 3, "status": "OK", "chrom": chrom, "pos": pos, "p": p,
             "loci": [{"locus": "7:7654321", "p": 2.5e-9, "beta": -0.0123456}]}
    return context | {"traits": [trait]}


def test_render_report__quantitative_trait_section(tmp_path):
    out = tmp_path / "index.html"
    render_report(out, with_trait(synthetic_context()))
    html = out.read_text(encoding="utf-8")
    assert 'id="traits">Quantitative traits' in html
    section = html[html.index('id="traits"'):html.index('id="glossary"')]
    assert "LDL cholesterol" in section
    assert "7:7654321" in section
    assert "-0.0123" in section  # beta, 3 significant digits, not exp(beta) = 0.988
    assert "0.988" not in section
    assert "odds ratio" not in section.lower()  # (figure data is base64: no spaces)
    assert "Effect per allele (trait units)" in section
    _, _, p = synthetic_gwas(seed=11)
    assert f"{lambda_gc(p):.3f}" in section
    assert "&lt;5" in section  # 4 people masked
    assert not re.search(r">\s*4\s*<", section)
    assert 'id="fig-trait-1-manhattan"' in section
    assert 'id="fig-trait-1-qq"' in section
    assert html.count("<script>") == 1 + 1 + 2 * 2 + 2  # plus the trait's 2 figures


def test_render_report__no_trait_section_without_traits(tmp_path):
    render_report(tmp_path / "a.html", synthetic_context())
    assert "Quantitative traits" not in (tmp_path / "a.html").read_text(encoding="utf-8")


def test_render_report__byte_identical_with_trait(tmp_path):
    render_report(tmp_path / "a.html", with_trait(synthetic_context()))
    render_report(tmp_path / "b.html", with_trait(synthetic_context()))
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def write_report_inputs(tmp_path) -> list[str]:
    """Inputs of build_report: a disease ``asthma`` and a quantitative trait ``ldl`` (GWAS-SSF,
    loci with lead beta -0.25, summary rows), QC summary and provenance. Returns the names."""
    chrom, pos, p = synthetic_gwas(n=2_000)
    table = pd.DataFrame({"chromosome": np.char.replace(chrom, "chr", ""),
                          "base_pair_location": pos,
                          "effect_allele": "T", "other_allele": "C", "beta": 0.1,
                          "standard_error": 0.05, "effect_allele_frequency": 0.3, "p_value": p})
    table = table.dropna(subset=["p_value"])  # GWAS-SSF holds tested rows only
    loci = pd.DataFrame({"chromosome": ["3"], "base_pair_location": [1000],
                         "effect_allele": ["T"], "other_allele": ["C"], "p_value": [1e-9],
                         "beta": [-0.25], "standard_error": [0.04]})
    rows = []
    for name, kind in (("asthma", "binary"), ("ldl", "quantitative")):
        write_gwas_ssf(tmp_path / f"{name}.tsv.gz", table, {"genome_assembly": "GRCh38"})
        write_tsv_bgzip(tmp_path / f"{name}.untested.tsv.gz", pd.DataFrame(
            {"reason": ["LOW_MAC", "MONOMORPHIC", "LOW_MAC"]}))
        write_tsv(tmp_path / f"{name}.loci.tsv", loci)
        binary = kind == "binary"
        rows.append({"disease": name, "kind": kind, "status": "OK",
                     "n_cases": 300 if binary else None, "n_controls": 900 if binary else None,
                     "n_samples": 1200 if binary else 1150, "lambda_gc": 1.01,
                     "n_genome_wide": 1, "n_suggestive": 1,
                     "detectable_or_maf05": 2.0 if binary else None,
                     "detectable_or_maf20": 1.5 if binary else None,
                     "detectable_beta_sd_maf05": None if binary else 0.42,
                     "detectable_beta_sd_maf20": None if binary else 0.21})
    write_tsv(tmp_path / "summary.tsv", pd.DataFrame(rows))
    write_json(tmp_path / "qc.json", {
        "ingest": {"records_in": 2100, "records_excluded": {"multiallelic": 100},
                   "variants_written": 2000, "multiallelic_split": {"records": 0, "variants": 0}},
        "samples": {"in": 1250, "removed": {"call rate": 50}, "kept": 1200},
        "variants": {"removed": {"HWE": 0}, "kept": 2000}})
    write_json(tmp_path / "provenance.json", {"cohortgen": "test"})
    return ["asthma", "ldl"]


def build_test_report(tmp_path, names: list[str]) -> str:
    build_report("c", tmp_path / "qc.json", tmp_path / "summary.tsv",
                 [tmp_path / f"{n}.tsv.gz" for n in names],
                 [tmp_path / f"{n}.loci.tsv" for n in names],
                 tmp_path / "provenance.json", 5, tmp_path / "index.html")
    return (tmp_path / "index.en.html").read_text(encoding="utf-8")


def test_build_report__summary_rows_split_by_kind(tmp_path):
    """gwas/summary.tsv rows of kind ``quantitative`` go to the trait section with beta, the
    disease rows keep exp(beta) as their odds ratio."""
    html = build_test_report(tmp_path, write_report_inputs(tmp_path))
    cut = html.index('id="traits">Quantitative traits')
    diseases, traits = html[:cut], html[cut:]
    assert f">{np.exp(-0.25):.2f}<" in diseases  # odds ratio of the disease's lead locus
    assert ">-0.25<" in traits  # beta of the trait's
    assert ">1,150<" in traits
    assert ">0.21 / 0.42<" in traits  # detectable effects (SD per allele), MAF 20% / 5%
    assert "shifts the trait by 0.21 of its standard deviation" in traits
    assert "ldl" not in diseases.split('id="qc"')[1]


def test_build_report__summary_without_trait_rows(tmp_path):
    names = write_report_inputs(tmp_path)
    summary = tmp_path / "summary.tsv"
    summary.write_text("".join(summary.read_text().splitlines(keepends=True)[:2]))
    with pytest.raises(InputError, match=r"summary\.tsv lists \[.asthma.\].*no listed trait"):
        build_test_report(tmp_path, names)


def test_removal_rows__complement_hides_the_subtraction():
    rows = removal_rows({"het": 17, "call rate": 2, "related": 40}, 5)
    assert rows == [("call rate", "<5"), ("het", "not shown"), ("related", "40")]
    assert removal_rows({"het": 17, "call rate": 3, "sex": 4}, 5) == [
        ("call rate", "<5"), ("het", "17"), ("sex", "<5")]
    assert removal_rows({"call rate": 12}, 5) == [("call rate", "12")]


def test_render_report__funnel_small_count_not_recoverable(tmp_path):
    out = tmp_path / "index.html"
    render_report(out, synthetic_context())
    html = out.read_text(encoding="utf-8")
    assert "People removed: heterozygosity</td><td class=\"num\">not shown" in html
    assert ">17<" not in html


def test_build_report__inputs_from_an_older_version_name_what_is_missing(tmp_path):
    """A gwas/summary.tsv without ``kind`` or a qc/summary.json without ``variants_written``
    (written before those existed) is a clear error naming the file and the missing part."""
    names = write_report_inputs(tmp_path)
    summary = tmp_path / "summary.tsv"
    write_tsv(summary, read_tsv(summary).drop(columns="kind"))
    with pytest.raises(InputError, match=r"summary\.tsv: no column\(s\) kind; .*--forcerun"):
        build_test_report(tmp_path, names)
    names = write_report_inputs(tmp_path)
    qc = read_json(tmp_path / "qc.json")
    del qc["ingest"]["variants_written"]
    write_json(tmp_path / "qc.json", qc)
    with pytest.raises(InputError, match=r"qc\.json: no entry 'variants_written'"):
        build_test_report(tmp_path, names)
