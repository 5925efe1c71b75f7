"""Render the self-contained HTML report (aggregates only) from a context dict.

The context (see :func:`render_report`) holds counts, λGC and p-value arrays, never sample IDs,
genotypes or per-person values. Counts of people between 1 and ``min_cell_count - 1`` are shown
as ``<min_cell_count``, with a complementary count hidden where one could be found by
subtraction (:func:`removal_rows`). plotly.js is inlined once, so the page works offline, and
the output is byte-identical for the same context and language. Every text comes from the
language's catalogue (:mod:`cohortgen.report.catalogue`); disease and trait names from the
``labels`` of the context (config ``disease_labels``) or the catalogue, never raw keys when a
label exists.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import jinja2
import numpy as np
import plotly.offline
from markupsafe import Markup

from cohortgen import __version__
from cohortgen.inflation import lambda_gc
from cohortgen.io.files import write_text_atomic
from cohortgen.privacy import DEFAULT_MIN_CELL_COUNT, primary_suppressed, with_complement
from cohortgen.report.catalogue import Catalogue, display_name
from cohortgen.report.plots import (
    GENOME_WIDE_P,
    SUGGESTIVE_P,
    auc_forest_figure,
    case_control_figure,
    decile_figure,
    density_figure,
    manhattan_drawing,
    manhattan_points,
    qq_drawing,
    qq_points,
)

PLOTLY_CONFIG = {"responsive": True, "displaylogo": False}
COMPLEMENT_TEXT = "not shown"
"""Display of a count hidden only so that a small count cannot be found by subtraction."""


def is_missing(value) -> bool:
    """Whether a table cell is missing: None or a float NaN (pandas' NA as read back)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def mask_small_count(n, min_cell_count: int = DEFAULT_MIN_CELL_COUNT) -> str:
    """A count of people for display: ``<min_cell_count`` when 1 <= n < min_cell_count.

    0 and counts >= ``min_cell_count`` are shown exactly (with thousands separators);
    a missing count (None or NaN) is shown as ``NA``, a count masked upstream (the text
    ``<N`` of :func:`cohortgen.privacy.shareable_counts`) as it is.
    """
    if is_missing(n):
        return "NA"
    if isinstance(n, str):
        return n
    n = int(n)
    if 1 <= n < min_cell_count:
        return f"<{min_cell_count}"
    return f"{n:,}"


def removal_rows(removed: dict, min_cell_count: int,
                 hidden_text: str = COMPLEMENT_TEXT) -> list[tuple[str, str]]:
    """(reason, display text) per removal reason, sorted by reason. Small counts show as
    ``<min_cell_count``; when only one is small, the smallest other non-zero count shows as
    ``hidden_text`` (:data:`COMPLEMENT_TEXT`), so input − passed cannot reveal the small one
    (:mod:`cohortgen.privacy`; hiding a 0 would not)."""
    reasons = sorted(removed)
    counts = np.array([removed[r] for r in reasons], dtype=np.float64)
    primary = primary_suppressed(counts, min_cell_count)
    hidden = with_complement(primary, counts)
    return [(reason, mask_small_count(n, min_cell_count) if primary[i]
             else hidden_text if hidden[i] else mask_small_count(n, min_cell_count))
            for i, (reason, n) in enumerate(zip(reasons, counts, strict=True))]


def age_rows(bands: dict, min_cell_count: int,
             hidden_text: str = COMPLEMENT_TEXT) -> list[tuple[str, str]]:
    """(band, display text) of the people per age band in the order given (youngest first,
    ``unknown`` last), masked as :func:`removal_rows` since the bands add up to the people
    analysed."""
    shown = dict(removal_rows(bands, min_cell_count, hidden_text))
    return [(band, shown[band]) for band in bands]


def hwe_view(hwe: dict, min_cell_count: int, hidden_text: str = COMPLEMENT_TEXT) -> dict:
    """Where HWE was tested, for the QC section: ``population`` (``qc.hwe_population``),
    ``tested`` (cluster numbers as text), ``min_cluster_size`` and ``clusters``, (cluster, kept
    people) display pairs in cluster order, masked as :func:`removal_rows` so that no small
    cluster follows from the kept total by subtraction."""
    sizes = hwe.get("kept_per_cluster", {})
    shown = dict(removal_rows(sizes, min_cell_count, hidden_text))
    order = sorted(sizes, key=int)
    return {"population": hwe.get("population", "all"),
            "tested": ", ".join(str(c) for c in hwe.get("tested_clusters", [])),
            "min_cluster_size": hwe.get("min_cluster_size"),
            "clusters": [(c, shown[c]) for c in order]}


def format_count(n) -> str:
    """A count of variants or loci (not people) for display, or ``NA``."""
    if is_missing(n):
        return "NA"
    return f"{int(n):,}"


def format_lambda(value) -> str:
    """λGC with three decimals, or ``NA``."""
    if is_missing(value):
        return "NA"
    return f"{float(value):.3f}"


def format_ratio(value) -> str:
    """An odds ratio with two decimals, or NA."""
    return "NA" if value is None or not math.isfinite(float(value)) else f"{float(value):.2f}"


def format_frequency(value) -> str:
    """An allele frequency with three decimals, or NA."""
    return "NA" if value is None or not math.isfinite(float(value)) else f"{float(value):.3f}"


def format_p(value) -> str:
    """A p-value in scientific notation with two significant digits, or NA."""
    return "NA" if value is None or not math.isfinite(float(value)) else f"{float(value):.1e}"


def prs_view(row: dict, min_cell_count: int, hidden_text: str = COMPLEMENT_TEXT) -> dict:
    """Display strings of one PRS performance row. Its counts were masked upstream
    (:func:`cohortgen.prs.stage.shareable_case_control`): ``<N`` shows as it is, the other count
    hidden beside it as ``hidden_text``, a status row's missing counts as NA
    (:func:`case_control_counts`)."""
    def interval(name: str) -> str:
        low, high = row.get(f"{name}_lower"), row.get(f"{name}_upper")
        return f"{format_ratio(row.get(name))} ({format_ratio(low)}–{format_ratio(high)})"

    r2 = row.get("liability_r2")
    cases, controls = case_control_counts(*(None if is_missing(row.get(k)) else row[k]
                                            for k in ("n_cases", "n_controls")),
                                          min_cell_count, hidden_text)
    return {"disease": row["disease"], "score": row["score"], "status": row["status"],
            "n_cases": cases, "n_controls": controls,
            "auc": interval("auc"), "or_per_sd": interval("or_per_sd"),
            "liability_r2": "NA" if r2 is None or not math.isfinite(float(r2))
            else f"{float(r2):.3f}"}


def p_threshold_text(p: float) -> str:
    """A p-value threshold in plain notation, e.g. 5e-08 -> ``5 × 10⁻⁸``."""
    mantissa, exponent = f"{p:.0e}".split("e")
    superscript = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa} × 10{superscript}"


def figure_html(fig, div_id: str) -> Markup:
    """A figure as an HTML fragment (no plotly.js, fixed div id, so output is deterministic)."""
    return Markup(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config=PLOTLY_CONFIG,
            default_height=f"{fig.layout.height}px",
        )
    )


def _has_points(disease: dict) -> bool:
    p = disease.get("p")
    return p is not None and np.isfinite(np.asarray(p, dtype=np.float64)).any()


def figure_data(record: dict) -> dict | None:
    """The language-independent data of a disease's or trait's figures, small whatever its
    variant count: ``manhattan`` (:func:`manhattan_points`, anchored at its genome-wide
    significant lead loci), ``qq`` (:func:`qq_points`) and ``lambda_gc`` of its ``p``; the
    record's own ``figures`` when it has them (:func:`with_figure_data`), None without a
    finite p-value."""
    if "figures" in record:
        return record["figures"]
    if not _has_points(record):
        return None
    anchors = [(name, at) for name, at, _ in locus_labels(record.get("loci", []))]
    return {"manhattan": manhattan_points(record["chrom"], record["pos"], record["p"], anchors),
            "qq": qq_points(record["p"]), "lambda_gc": lambda_gc(record["p"])}


def with_figure_data(record: dict) -> dict:
    """``record`` with its figure data (:func:`figure_data`) in place of its ``chrom``,
    ``pos`` and ``p`` arrays, so that a report holds one trait's arrays at a time."""
    kept = {k: v for k, v in record.items() if k not in ("chrom", "pos", "p")}
    return kept | {"figures": figure_data(record)}


def format_beta(value) -> str:
    """An effect size (beta, in the trait's units) with three significant digits, or NA."""
    return "NA" if value is None or not math.isfinite(float(value)) else f"{float(value):.3g}"


def case_control_counts(n_cases, n_controls, min_cell_count: int,
                        hidden_text: str = COMPLEMENT_TEXT) -> tuple[str, str]:
    """Display texts of a disease's cases and controls. A small count shows as
    ``<min_cell_count``; the other one of the pair as ``hidden_text`` then, since the two add up
    to the people analysed (shown in the QC table when no phenotype is missing). Counts masked
    upstream (gwas/summary.tsv: ``<N``, and None for the hidden other one) show so."""
    if isinstance(n_cases, str) or isinstance(n_controls, str):
        return tuple(hidden_text if n is None else mask_small_count(n, min_cell_count)
                     for n in (n_cases, n_controls))
    shown = dict(removal_rows({"cases": n_cases, "controls": n_controls}, min_cell_count,
                              hidden_text))
    return shown["cases"], shown["controls"]


def gene_text(locus: dict, cat: Catalogue) -> str | None:
    """The nearest gene of a lead locus for display: its name inside the gene, else the name
    and the distance in kb (one decimal); None when the locus has no ``nearest_gene``."""
    name = locus.get("nearest_gene")
    if name is None:
        return None
    distance = int(locus.get("gene_distance", 0))
    if distance == 0:
        return str(name)
    return cat.plain("disease.gene_distance", gene=name, kb=f"{distance / 1000:,.1f}")


def locus_labels(loci: list[dict]) -> list[tuple[str, int, str]]:
    """(chromosome, position, label) of the genome-wide significant lead loci, for the
    Manhattan plot: the nearest gene when known, else ``chromosome:position``."""
    return [(lo["chromosome"], lo["position"], str(lo.get("nearest_gene") or lo["locus"]))
            for lo in loci if "position" in lo and lo["p"] < GENOME_WIDE_P]


def note_texts(notes: list[dict], cat: Catalogue) -> list[Markup]:
    """Extra facts for a section: each note {``key``: catalogue key, ``fields``: {name: value},
    optional} as its catalogue text in the page's language."""
    return [cat.text(note["key"], **note.get("fields", {})) for note in notes]


def genotype_view(genotypes: dict | None, cat: Catalogue) -> dict | None:
    """Which genotypes the GWAS tested, in plain words (context ``genotypes``,
    :func:`cohortgen.report.stage.genotype_input`): ``input`` (array hard calls or imputed
    dosages), ``r2_filter`` (the r² filter imputed dosages passed, or None) and ``hard_calls``
    (the warning that GT hard calls were used where an imputed file had no DS, HDS or GP, or
    None); None for a context without ``genotypes``."""
    if not genotypes:
        return None
    imputed = genotypes.get("source") == "imputed"
    r2_filter = genotypes.get("r2_filter") or {}
    contigs = genotypes.get("hard_calls_contigs") or []
    return {"input": cat.text("input.imputed" if imputed else "input.array"),
            "r2_filter": cat.text("input.r2_filter", min_r2=f"{float(r2_filter['min_r2']):g}",
                                  source=cat.text(f"input.r2_{r2_filter.get('r2_source')}"))
            if imputed and "min_r2" in r2_filter else None,
            "hard_calls": cat.text("input.hard_calls", contigs=", ".join(map(str, contigs)))
            if contigs else None}


def incohort_genotypes_text(prs_rows: list[dict], genotypes: dict | None,
                            cat: Catalogue) -> Markup | None:
    """One line saying which genotypes the in-cohort scores were built from: the imputed
    dosages for a cohort with imputed files (``genotypes`` ``source``, as the GWAS: the
    in-cohort PRS reads the same dosage chunks), else the array hard calls; None without
    in-cohort rows among ``prs_rows`` (performance rows, ``score`` ``incohort_*``)."""
    if not any(str(row.get("score", "")).startswith("incohort_") for row in prs_rows):
        return None
    imputed = (genotypes or {}).get("source") == "imputed"
    return cat.text("prs.incohort_imputed" if imputed else "prs.incohort_array")


def association_view(record: dict, anchor: str, fig_prefix: str, cat: Catalogue,
                     labels: dict) -> dict:
    """Template values a disease and a quantitative trait share: name (in the catalogue's
    language, :func:`display_name`), whether the name fell back to another language, λGC
    (computed from ``p`` when the record has none), loci counts, status (as written and in
    plain words), untested variants by reason and the figure fragments, whose div ids start
    with ``fig_prefix``."""
    key = str(record["name"])
    name, fell_back = display_name(key, cat.lang, labels)
    figures = figure_data(record)
    lam = record.get("lambda_gc")
    if lam is None and figures is not None:
        lam = figures["lambda_gc"]
    view = {
        "name": name,
        "fell_back": fell_back,
        "anchor": anchor,
        "lambda_gc": format_lambda(lam),
        "n_significant": format_count(record.get("n_significant")),
        "significant": int(record.get("n_significant") or 0),
        "n_suggestive": format_count(record.get("n_suggestive")),
        "status": str(record.get("status", "OK")),
        "status_text": status_text(cat, str(record.get("status", "OK"))),
        "untested": [(cat.get(f"untested.{code}") or code, format_count(n))
                     for code, n in record.get("untested", {}).items()],
        "method_text": method_text(cat, record.get("method")),
        "notes": note_texts(record.get("notes", []), cat),
        "manhattan": None,
        "qq": None,
    }
    if figures is not None:
        axes = (cat.plain("plot.chromosome"), cat.plain("plot.neg_log10_p"))
        view["manhattan"] = figure_html(
            manhattan_drawing(figures["manhattan"], cat.plain("plot.manhattan", name=name),
                              axes, locus_labels(record.get("loci", []))),
            f"{fig_prefix}-manhattan")
        axes = (cat.plain("plot.expected"), cat.plain("plot.observed"))
        view["qq"] = figure_html(qq_drawing(*figures["qq"], figures["lambda_gc"],
                                            cat.plain("plot.qq", name=name), axes),
                                 f"{fig_prefix}-qq")
    return view


def disease_view(index: int, disease: dict, cat: Catalogue, labels: dict,
                 min_cell_count: int = DEFAULT_MIN_CELL_COUNT) -> dict:
    """Template values of one disease: display strings (cases and controls masked as
    :func:`case_control_counts`) and figure fragments."""
    view = association_view(disease, f"disease-{index + 1}", f"fig-{index + 1}", cat, labels)
    cases, controls = case_control_counts(disease.get("n_cases"), disease.get("n_controls"),
                                          min_cell_count, cat.plain("count.not_shown"))
    return with_gene_column(view | {
        "n_cases": cases,
        "n_controls": controls,
        "detectable_or": {maf: format_ratio(v)
                          for maf, v in disease.get("detectable_or", {}).items()},
        "loci": [{"locus": lo["locus"], "alleles": lo.get("alleles", "NA"),
                  "p": format_p(lo["p"]), "odds_ratio": format_ratio(lo["odds_ratio"]),
                  "or_interval": f"{format_ratio(lo.get('or_lower'))}–"
                                 f"{format_ratio(lo.get('or_upper'))}",
                  "eaf_cases": format_frequency(lo.get("eaf_cases")),
                  "eaf_controls": format_frequency(lo.get("eaf_controls")),
                  "gene": gene_text(lo, cat)}
                 for lo in disease.get("loci", [])],
    })


def with_gene_column(view: dict) -> dict:
    """``view`` with ``genes``: True when any lead locus has a nearest gene (the loci table
    then has a nearest-gene column)."""
    return view | {"genes": any(lo["gene"] is not None for lo in view["loci"])}


def trait_view(index: int, trait: dict, cat: Catalogue, labels: dict) -> dict:
    """Template values of one quantitative trait: display strings and figure fragments."""
    view = association_view(trait, f"trait-{index + 1}", f"fig-trait-{index + 1}", cat, labels)
    return with_gene_column(view | {
        "n": trait.get("n"),
        "detectable_beta_sd": {maf: format_beta(v)
                               for maf, v in trait.get("detectable_beta_sd", {}).items()},
        "loci": [{"locus": lo["locus"], "p": format_p(lo["p"]), "beta": format_beta(lo["beta"]),
                  "gene": gene_text(lo, cat)}
                 for lo in trait.get("loci", [])],
    })


def shown_count(text: str) -> float:
    """The number of a displayed count (``1,234`` -> 1234.0); NaN for a hidden one."""
    digits = text.replace(",", "")
    return float(digits) if digits.isdigit() else math.nan


def case_control_chart(diseases: list[dict], cat: Catalogue):
    """The cohort-at-a-glance bar chart (plotly figure) of the diseases' displayed case and
    control counts (:func:`disease_view`; suppressed counts are not drawn), or None without
    diseases."""
    if not diseases:
        return None
    shown = ([d["n_cases"] for d in diseases], [d["n_controls"] for d in diseases])
    return case_control_figure([d["name"] for d in diseases],
                               np.array([shown_count(t) for t in shown[0]]),
                               np.array([shown_count(t) for t in shown[1]]), shown,
                               cat.plain("glance.chart"),
                               (cat.plain("summary.cases"), cat.plain("summary.controls")))


def number(value) -> float:
    """A table value as float64 (NaN when missing or not a number)."""
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def auc_forest_chart(rows: list[dict], cat: Catalogue, labels: dict):
    """Forest plot (plotly figure) of the PRS performance rows' AUC with 95% CI, each row
    labelled disease name · score, or None when no row has an AUC."""
    auc = np.array([number(r.get("auc")) for r in rows])
    if not np.isfinite(auc).any():
        return None
    names = [f"{display_name(str(r['disease']), cat.lang, labels)[0]} · {r['score']}"
             for r in rows]
    return auc_forest_figure(names, auc, np.array([number(r.get("auc_lower")) for r in rows]),
                             np.array([number(r.get("auc_upper")) for r in rows]),
                             cat.plain("prs.forest"), cat.plain("prs.auc"))


def decile_chart(rows: list[dict], cat: Catalogue, labels: dict):
    """Line chart (plotly figure) of the case fraction by score decile per disease and score
    from prs/deciles.tsv rows (suppressed deciles as gaps), or None without rows."""
    series: dict[str, np.ndarray] = {}
    for row in rows:
        label = f"{display_name(str(row['disease']), cat.lang, labels)[0]} · {row['score']}"
        fraction = series.setdefault(label, np.full(10, np.nan))
        fraction[int(row["decile"]) - 1] = number(row.get("case_fraction"))
    if not series:
        return None
    return decile_figure(series, cat.plain("prs.deciles"), cat.plain("prs.decile"),
                         cat.plain("prs.case_percent"))


def shown_density(counts: np.ndarray, min_cell_count: int) -> np.ndarray:
    """float64 copy of a grid of people counts with empty cells, cells of 1..min_cell_count−1
    people and, when a single cell is so hidden, the smallest other occupied cell (so that the
    total cannot reveal it) set to NaN."""
    flat = np.asarray(counts, dtype=np.float64).ravel()
    occupied = flat > 0
    hidden = np.zeros(flat.size, dtype=bool)
    hidden[occupied] = with_complement(primary_suppressed(flat[occupied], min_cell_count),
                                       flat[occupied])
    return np.where(hidden | ~occupied, np.nan, flat).reshape(np.shape(counts))


def pca_chart(pca: dict | None, cat: Catalogue, min_cell_count: int):
    """The binned PC1 × PC2 picture (plotly figure; :func:`shown_density`), or None."""
    if pca is None:
        return None
    return density_figure(shown_density(pca["counts"], min_cell_count), pca["pc1_edges"],
                          pca["pc2_edges"], cat.plain("ancestry.chart"), ("PC1", "PC2"),
                          cat.plain("qc.people"))


def match_view(record: dict, cat: Catalogue) -> dict:
    """Display strings of one published score's match record (prs/match/<score>.json): lines
    in the file, matched (with the overlap), matched on the other strand, ambiguous (kept /
    excluded), missing from the cohort; a failed score's status says why. Counts of score
    lines (variants), not people."""
    def count(*keys: str) -> str:
        values = [record.get(k) for k in keys]
        return "NA" if any(v is None for v in values) else format_count(sum(values))

    overlap = number(record.get("overlap"))
    failed = record.get("status") != "OK"
    return {"score": str(record.get("score", "")), "pgs_id": str(record.get("pgs_id") or ""),
            "status": cat.plain("match.failed", error=record.get("error", ""))
            if failed else cat.plain("status.ok"),
            "lines": count("n_score_variants"),
            "matched": count("n_matched") + ("" if math.isnan(overlap)
                                             else f" ({100 * overlap:.1f}%)"),
            "flipped": count("flipped", "flipped_swapped"),
            "ambiguous": f"{count('ambiguous_kept')} / {count('ambiguous_excluded')}",
            "missing": count("missing", "no_position")}


STATUS_PATTERNS = (
    (re.compile(r"OK"), "status.ok"),
    (re.compile(r"SKIPPED: fewer than (?P<n>\d+) cases or controls"), "status.few_cases"),
    (re.compile(r"SKIPPED: too few cases or controls"), "status.too_few_cases"),
    (re.compile(r"SKIPPED: fewer than (?P<n>\d+) samples"), "status.few_samples"),
    (re.compile(r"SKIPPED: null model did not converge"), "status.no_convergence"),
    (re.compile(r"SKIPPED: no residual variance"), "status.no_variance"),
    (re.compile(r"FAILED: see match log"), "status.score_failed"),
    (re.compile(r"FAILED: fold (?P<fold>\d+): (?P<reason>.*)"), "status.fold_failed"),
    (re.compile(r"FAILED: (?P<step>[a-z_]+): (?P<why>.*)"), "status.failed"),
)
"""Statuses written by the association and PRS stages, and their catalogue keys."""


def method_text(cat: Catalogue, method: dict | None) -> Markup | None:
    """The method line of a disease or trait (``method``: gwas/summary.tsv's
    ``whole_genome_regression`` on / off / fallback and ``relatives`` kept / removed), or None
    for a summary written without them."""
    if not method or method.get("wgr") not in ("on", "off", "fallback"):
        return None
    relatives = cat.text(f"method.relatives_{method.get('relatives', 'removed')}")
    return cat.text(f"method.wgr_{method['wgr']}", relatives=relatives)


def status_text(cat: Catalogue, status: str) -> str:
    """A status of gwas/summary.tsv or a PRS table in plain words (:data:`STATUS_PATTERNS`);
    any other status as written."""
    for pattern, key in STATUS_PATTERNS:
        match = pattern.fullmatch(status)
        if match:
            return cat.plain(key, **match.groupdict())
    return status


def reason_text(cat: Catalogue, code: str) -> str:
    """A QC removal reason in plain words (catalogue ``reason.<code>``), else the code."""
    return cat.get(f"reason.{code}") or code


def template_environment() -> jinja2.Environment:
    """Jinja2 environment for the package templates, with HTML autoescaping."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cohortgen.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["format_count"] = format_count
    return env


def render_html(context: dict, lang: str = "en") -> str:
    """The report page in ``lang`` as a string (see :func:`render_report` for the context)."""
    min_cell_count = int(context.get("min_cell_count", DEFAULT_MIN_CELL_COUNT))
    cat = Catalogue(lang)
    not_shown = cat.plain("count.not_shown")
    labels = context.get("labels", {})

    def people(n) -> str:
        return mask_small_count(n, min_cell_count)

    env = template_environment()
    env.filters["people"] = people
    env.globals["t"] = cat.text
    env.globals["t_has"] = lambda key: cat.get(key) is not None
    env.globals["reason"] = lambda code: reason_text(cat, code)
    qc = context.get("qc", {})
    diseases = [disease_view(i, d, cat, labels, min_cell_count)
                for i, d in enumerate(context.get("diseases", []))]
    traits = [trait_view(i, t, cat, labels) for i, t in enumerate(context.get("traits", []))]
    prs = [prs_view(row, min_cell_count, not_shown)
           | {"disease": display_name(str(row["disease"]), lang, labels)[0],
              "status": status_text(cat, str(row["status"]))}
           for row in context.get("prs", [])]
    return env.get_template("index.html.j2").render(
        lang=lang,
        languages=[(code, Catalogue(code).plain("language.name"))
                   for code in context.get("languages", [lang]) if code != lang],
        fallback_names=[v["name"] for v in diseases + traits if v["fell_back"]],
        cohort=str(context["cohort"]),
        qc=qc,
        samples_removed=removal_rows(qc.get("samples_removed_by_reason", {}), min_cell_count,
                                     not_shown),
        ingest_removed=sorted(qc.get("ingest_removed_by_reason", {}).items()),
        variants_removed=sorted(qc.get("variants_removed_by_reason", {}).items()),
        hwe=hwe_view(qc.get("hwe", {"population": "all"}), min_cell_count, not_shown),
        diseases=diseases,
        case_control_chart=None if not diseases else figure_html(
            case_control_chart(diseases, cat), "fig-cases-controls"),
        traits=traits,
        prs=prs,
        auc_forest=None if (forest := auc_forest_chart(context.get("prs", []), cat, labels))
        is None else figure_html(forest, "fig-prs-auc"),
        match=[match_view(record, cat) for record in context.get("prs_match", [])],
        pca=None if (pca := pca_chart(context.get("pca"), cat, min_cell_count)) is None
        else figure_html(pca, "fig-pca"),
        imputed=qc.get("imputed"),
        genotypes=genotype_view(context.get("genotypes"), cat),
        incohort_genotypes=incohort_genotypes_text(context.get("prs", []),
                                                   context.get("genotypes"), cat),
        related=removal_rows(qc.get("related_pairs", {}), min_cell_count, not_shown),
        sex=removal_rows(context.get("sex", {}), min_cell_count, not_shown),
        age=age_rows(context.get("age", {}), min_cell_count, not_shown),
        notes=note_texts(context.get("notes", []), cat),
        deciles=None if (chart := decile_chart(context.get("prs_deciles", []), cat, labels))
        is None else figure_html(chart, "fig-prs-deciles"),
        provenance=context.get("provenance", {}),
        min_cell_count=min_cell_count,
        not_shown=not_shown,
        glossary=cat.keys_under("glossary.terms"),
        methods=cat.keys_under("methods.steps"),
        genome_wide_p=p_threshold_text(GENOME_WIDE_P),
        suggestive_p=p_threshold_text(SUGGESTIVE_P),
        version=__version__,
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
    )


def cohort_index_html(cohorts: dict[str, list[dict]], lang: str, languages: list[str],
                      labels: dict, min_cell_count: int) -> str:
    """The page linking the reports of several cohorts, their diseases side by side.

    ``cohorts``: {cohort: rows of its gwas/summary.tsv of kind binary (``disease``,
    ``n_cases``, ``n_controls``, ``lambda_gc``, ``n_genome_wide``)}, in config order; cases and
    controls are masked as :func:`case_control_counts`.
    """
    cat = Catalogue(lang)
    not_shown = cat.plain("count.not_shown")
    diseases = list(dict.fromkeys(str(r["disease"]) for rows in cohorts.values() for r in rows))
    cells = {}
    for cohort, rows in cohorts.items():
        for r in rows:
            cases, controls = case_control_counts(r["n_cases"], r["n_controls"], min_cell_count,
                                                  not_shown)
            cells[cohort, str(r["disease"])] = {
                "n_cases": cases, "n_controls": controls,
                "lambda_gc": format_lambda(r["lambda_gc"]),
                "n_significant": format_count(r["n_genome_wide"])}
    env = template_environment()
    env.globals["t"] = cat.text
    return env.get_template("cohorts.html.j2").render(
        lang=lang,
        languages=[(code, Catalogue(code).plain("language.name"))
                   for code in languages if code != lang],
        cohorts=[{"name": c, "link": f"../{c}/report/index.{lang}.html"} for c in cohorts],
        rows=[{"name": display_name(d, lang, labels)[0],
               "cells": [cells.get((c, d)) for c in cohorts]} for d in diseases],
        genome_wide_p=p_threshold_text(GENOME_WIDE_P), min_cell_count=min_cell_count)


def render_report(out_html: Path, context: dict, lang: str = "en") -> None:
    """Write the self-contained HTML report in ``lang`` to ``out_html`` (temp name, then
    rename).

    ``context`` keys: ``cohort`` (name); ``qc`` (``samples_in``, ``samples_removed_by_reason``
    {reason: n}, ``samples_out``, ``variants_in`` (records), optional ``ingest_removed_by_reason``
    {reason: records}, ``variants_written`` and ``multiallelic_split`` {records, variants},
    ``variants_removed_by_reason`` (by variant QC), ``variants_out``, optional ``hwe``: the
    ``hwe`` entry of qc/summary.json, :func:`hwe_view`; optional ``imputed``: the
    imputed-variant QC funnel, :mod:`cohortgen.qc.imputed_summary`); ``genotypes`` (optional:
    which genotypes the GWAS tested, :func:`genotype_view`);
    ``diseases`` (list of
    dicts: ``name``, ``n_cases``, ``n_controls``, ``lambda_gc``, ``n_significant``,
    ``n_suggestive``, ``status``, and arrays ``chrom``, ``pos``, ``p`` for the figures,
    optional; ``untested``: {reason: variants}, optional; ``loci``: ``locus``, ``p``,
    ``odds_ratio``, optional ``alleles``, ``or_lower``,
    ``or_upper``, ``eaf_cases``, ``eaf_controls``, and ``chromosome``, ``position`` to label
    a genome-wide significant lead variant in the Manhattan plot); ``traits``
    (quantitative traits, optional: as a disease but ``n`` people instead of cases and
    controls, and ``beta`` in the trait's units instead of ``odds_ratio`` in ``loci``);
    ``provenance`` (dict, nested dicts allowed);
    ``prs`` and ``prs_deciles`` (optional: rows of the PRS performance tables and of
    prs/deciles.tsv, already suppressed upstream);
    ``age`` and ``sex`` (optional: {band or sex: people analysed}); ``notes`` (optional:
    extra facts for the methods section, each {``key``: catalogue key, ``fields``: {name:
    value}}; a disease or trait record may carry its own ``notes`` the same way, shown in its
    section); ``loci`` entries may carry ``nearest_gene`` and ``gene_distance`` (bp);
    ``min_cell_count`` (int, default 5); ``labels`` (optional, config ``disease_labels``:
    {name: {language: label}}); ``languages`` (optional: every language the report is written
    in, for the links between them, pages ``index.<lang>.html``).
    """
    write_text_atomic(Path(out_html), render_html(context, lang))
