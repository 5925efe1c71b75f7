"""Manhattan and QQ figures (plotly), from aggregates only (λGC from :mod:`cohortgen.inflation`).

Figures are thinned so that a report of nine diseases stays small (under 10 MB) and fast in a
browser whatever the number of variants: a Manhattan plot keeps every point with p below the
suggestive threshold, a QQ plot its ``QQ_KEEP_STRONGEST`` strongest points, and of the rest one
point per cell of a fixed grid in plot coordinates (the first in genome or rank order), which
keeps the visual envelope of the bulk. The points drawn are thus bounded by the grid plus the
suggestive points, not by the variant count. The thinning is deterministic.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from cohortgen.genome import contig_code, contig_name
from cohortgen.inflation import lambda_gc

GENOME_WIDE_P = 5e-8
SUGGESTIVE_P = 1e-5
MANHATTAN_X_BINS = 400  # bulk cells across the genome
MANHATTAN_Y_STEP = 0.25  # bulk cell height in -log10 p (p >= 1e-5 spans 0..5: 20 rows)
QQ_KEEP_STRONGEST = 2_000  # QQ points drawn exactly, strongest first
QQ_STEP = 0.02  # bulk cell size in -log10 p on both axes
COLOURS = ("#1f4e79", "#7fa7cf")  # alternating chromosome colours
FIGURE_HEIGHT = 380
SMALLEST_P = np.nextafter(0.0, 1.0)  # p = 0 (underflow) is drawn at this value

def normalise_chromosomes(chrom: np.ndarray) -> np.ndarray:
    """Canonical names (:func:`cohortgen.genome.contig_name`) of GWAS-SSF chromosomes (23/24/25
    = X/Y/MT); a name outside the contig table without ``chr``, upper case."""
    distinct, inverse = np.unique(np.asarray(chrom).astype(str), return_inverse=True)
    names = [contig_name(c, "gwas_ssf")
             or re.sub(r"^chr", "", c.strip(), flags=re.IGNORECASE).upper() for c in distinct]
    return np.asarray(names, dtype=str)[inverse.reshape(-1)] if names else distinct


def chromosome_sort_key(name: str) -> tuple[int, str]:
    """Natural order key: 1..22, X, Y, XY, MT (PLINK codes), then any other name
    alphabetically."""
    code = contig_code(name)
    return (27, name) if code is None else (code, "")


def chromosome_order(chrom: np.ndarray) -> list[str]:
    """Distinct normalised chromosome names in natural order."""
    return sorted(set(normalise_chromosomes(chrom).tolist()), key=chromosome_sort_key)


def chromosome_ranks(chrom) -> tuple[np.ndarray, list[str]]:
    """(index: int64 (n,), the rank of each point's chromosome in the order; the order: its
    distinct normalised names in natural order, :func:`chromosome_order`) of chromosome names
    ``chrom`` (str (n,), or a pandas Categorical of them, whose categories alone are named:
    no string per point)."""
    codes, distinct = pd.factorize(chrom, use_na_sentinel=False)
    names = normalise_chromosomes(np.asarray(distinct)).tolist()
    order = sorted(set(names), key=chromosome_sort_key)
    ranks = np.array([order.index(name) for name in names], dtype=np.int64)
    return ranks[codes], order


def neg_log10_p(p: np.ndarray) -> np.ndarray:
    """-log10 p as float64; p = 0 is drawn at the smallest positive double, NaN stays NaN."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log10(np.where(p == 0.0, SMALLEST_P, p))


def genome_positions(
    chrom: np.ndarray, pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str], list[float]]:
    """Chromosomes laid end to end in natural order.

    ``chrom``: names as :func:`chromosome_ranks` takes them. Returns ``x`` (float64,
    cumulative position), ``index`` (int64, rank of each point's chromosome in the order), and
    the tick labels (the order) and tick positions (chromosome middles).
    """
    index, order = chromosome_ranks(chrom)
    pos = np.asarray(pos, dtype=np.int64)
    x = np.zeros(index.size, dtype=np.float64)
    ticks: list[float] = []
    offset = 0.0
    for rank in range(len(order)):
        here = index == rank
        start, end = float(pos[here].min()), float(pos[here].max())
        x[here] = offset + pos[here] - start
        ticks.append(offset + (end - start) / 2)
        offset += end - start + max(1.0, 0.02 * (end - start))  # a small gap between chromosomes
    return x, index, order, ticks


THIN_BLOCK = 1 << 18
"""Points whose grid cells :func:`thin_by_grid` computes at a time (bounds its memory)."""


def thin_by_grid(
    x: np.ndarray, y: np.ndarray, x_step: float, y_step: float, keep: np.ndarray
) -> np.ndarray:
    """Boolean mask: ``keep`` points, plus the first point of every other occupied grid cell
    (cells ``x_step`` × ``y_step`` from 0; ``x``, ``y`` finite float64 (n,)). The cells of
    :data:`THIN_BLOCK` points are computed at a time, so memory holds a block and the occupied
    cells, not several arrays of n."""
    height = int(np.floor(y.max(initial=0) / y_step)) + 1  # cell rows: the largest cell_y + 1
    mask = keep.copy()
    seen = np.zeros(0, dtype=np.int64)
    for start in range(0, x.size, THIN_BLOCK):
        candidates = start + np.flatnonzero(~keep[start:start + THIN_BLOCK])
        cells = (np.floor(x[candidates] / x_step).astype(np.int64) * height
                 + np.floor(y[candidates] / y_step).astype(np.int64))
        cells, first = np.unique(cells, return_index=True)
        new = ~np.isin(cells, seen, assume_unique=True)
        mask[candidates[first[new]]] = True
        seen = np.union1d(seen, cells)
    return mask


def manhattan_mask(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Points drawn in a Manhattan plot: all with p < ``SUGGESTIVE_P``, the bulk thinned on a
    grid (at most ``MANHATTAN_X_BINS`` × 20 points)."""
    y = neg_log10_p(p)
    keep = p < SUGGESTIVE_P
    span = float(x.max() - x.min()) if x.size else 1.0
    return thin_by_grid(
        x - x.min(initial=0), y, max(span, 1.0) / MANHATTAN_X_BINS, MANHATTAN_Y_STEP, keep
    )


def _finite_points(chrom, pos, p):
    chrom = chrom if isinstance(chrom, pd.Categorical) else np.asarray(chrom)
    pos = np.asarray(pos, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    ok = np.isfinite(p)
    if ok.all():  # GWAS-SSF rows all have a p-value: no copy
        return chrom, pos, p
    return chrom[ok], pos[ok], p[ok]


def _significance_lines(fig: go.Figure) -> None:
    # labels at opposite ends, so that they do not overlap when the y range is tall
    for p_line, label, dash, where in ((GENOME_WIDE_P, "5e-8", "solid", "top left"),
                                       (SUGGESTIVE_P, "1e-5", "dash", "bottom right")):
        fig.add_hline(
            y=-np.log10(p_line),
            line={"color": "#b22222", "width": 1, "dash": dash},
            annotation_text=f"p = {label}",
            annotation_position=where,
        )


def _base_layout(title: str, x_title: str, y_title: str) -> dict:
    return {
        "template": "none",
        "title": {"text": title, "x": 0.02},
        "height": FIGURE_HEIGHT,
        "margin": {"l": 60, "r": 40, "t": 50, "b": 50},
        "modebar": {"orientation": "v"},  # on the right edge, clear of the title
        "showlegend": False,
        "xaxis": {"title": {"text": x_title}, "showgrid": False, "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "gridcolor": "#e5e5e5"},
        "font": {"family": "Arial, Helvetica, sans-serif", "size": 12},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
    }


def manhattan_points(chrom: np.ndarray, pos: np.ndarray, p: np.ndarray,
                     anchors: list[tuple[str, int]] = ()) -> dict:
    """The language-independent data of a Manhattan plot, small whatever the variant count:
    ``traces`` (one per chromosome in order: name, x float32, y float32 and position int32 of
    its drawn points, :func:`manhattan_mask`), ``ticks`` (tick positions and names) and
    ``anchors`` {(chromosome name, position): (x, y)} of each of ``anchors`` found among the
    points (the first such point). Inputs as :func:`manhattan_figure`."""
    chrom, pos, p = _finite_points(chrom, pos, p)
    if not p.size:
        return {"traces": [], "ticks": None, "anchors": {}}
    x, index, order, ticks = genome_positions(chrom, pos)
    shown = manhattan_mask(x, p)
    y = neg_log10_p(p)
    traces = []
    for rank, name in enumerate(order):
        sel = shown & (index == rank)
        traces.append((name, x[sel].astype(np.float32), y[sel].astype(np.float32),
                       pos[sel].astype(np.int32)))
    found = {}
    for name, position in anchors:
        here = index == order.index(name) if name in order else np.zeros_like(pos, bool)
        for i in np.flatnonzero(here & (pos == position))[:1]:
            found[(name, position)] = (float(x[i]), float(y[i]))
    return {"traces": traces, "ticks": (ticks, order), "anchors": found}


def manhattan_drawing(points: dict, title: str,
                      axis_titles: tuple[str, str] = ("Chromosome", "−log10 p"),
                      labelled: list[tuple[str, int, str]] = ()) -> go.Figure:
    """The Manhattan plot of :func:`manhattan_points` data, each (chromosome name, position,
    label) of ``labelled`` whose anchor was found labelled with its label."""
    fig = go.Figure()
    fig.update_layout(**_base_layout(title, *axis_titles))
    if points["ticks"] is not None:
        for rank, (name, x, y, pos) in enumerate(points["traces"]):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    customdata=pos,
                    mode="markers",
                    marker={"color": COLOURS[rank % 2], "size": 4},
                    hovertemplate=f"{name}:%{{customdata}}<extra></extra>",
                )
            )
        ticks, order = points["ticks"]
        fig.update_xaxes(tickmode="array", tickvals=ticks, ticktext=order, tickangle=0)
        for name, position, label in labelled:
            if (name, position) in points["anchors"]:
                x, y = points["anchors"][(name, position)]
                fig.add_annotation(x=x, y=y, text=label, showarrow=True, arrowhead=0, ax=0,
                                   ay=-18, font={"size": 10})
    _significance_lines(fig)
    return fig


def manhattan_figure(chrom: np.ndarray, pos: np.ndarray, p: np.ndarray, title: str,
                     axis_titles: tuple[str, str] = ("Chromosome", "−log10 p"),
                     labelled: list[tuple[str, int, str]] = ()) -> go.Figure:
    """Manhattan plot: -log10 p along the genome, chromosomes 1..22, X, Y, MT end to end.

    ``chrom``: str names (``1``, ``chr1``, ``X``, GWAS-SSF ``23``...), or a pandas Categorical
    of them (:func:`chromosome_ranks`), ``pos``: int64 1-based, ``p``: float64 (NaN
    dropped). Hover shows ``chromosome:position`` only. Each (chromosome name, position,
    label) of ``labelled`` (lead variants) is labelled with its label (the nearest gene or
    ``chrom:position``).
    """
    points = manhattan_points(chrom, pos, p, [(name, at) for name, at, _ in labelled])
    return manhattan_drawing(points, title, axis_titles, labelled)


def qq_points(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected and observed -log10 p (sorted, strongest first), thinned for drawing.

    Expected p of rank i (1-based) among n is (i - 0.5) / n. The ``QQ_KEEP_STRONGEST``
    strongest points are kept; the bulk keeps one point per ``QQ_STEP`` square.
    """
    p = np.sort(np.asarray(p, dtype=np.float64)[np.isfinite(p)])
    n = p.size
    expected = -np.log10((np.arange(1, n + 1) - 0.5) / max(n, 1))
    observed = neg_log10_p(p)
    mask = thin_by_grid(expected, observed, QQ_STEP, QQ_STEP, np.arange(n) < QQ_KEEP_STRONGEST)
    return expected[mask], observed[mask]


def qq_figure(p: np.ndarray, title: str,
              axis_titles: tuple[str, str] = ("Expected −log10 p", "Observed −log10 p"),
              ) -> go.Figure:
    """QQ plot of expected vs observed -log10 p, with y = x and λGC in the title."""
    return qq_drawing(*qq_points(p), lambda_gc(p), title, axis_titles)


def qq_drawing(expected: np.ndarray, observed: np.ndarray, lam: float, title: str,
               axis_titles: tuple[str, str] = ("Expected −log10 p", "Observed −log10 p"),
               ) -> go.Figure:
    """The QQ plot of :func:`qq_points` (float64 (k,) each) and λGC ``lam`` (NaN: NA)."""
    lam_text = "NA" if np.isnan(lam) else f"{lam:.3f}"
    fig = go.Figure()
    fig.update_layout(
        **_base_layout(f"{title} (λGC = {lam_text})", *axis_titles)
    )
    top = float(expected.max(initial=1.0))
    fig.add_trace(
        go.Scatter(
            x=[0.0, top],
            y=[0.0, top],
            mode="lines",
            line={"color": "#888888", "width": 1},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=expected,
            y=observed,
            mode="markers",
            marker={"color": COLOURS[0], "size": 4},
            hoverinfo="skip",
        )
    )
    return fig


def case_control_figure(names: list[str], cases: np.ndarray, controls: np.ndarray,
                        shown: tuple[list[str], list[str]], title: str,
                        legend: tuple[str, str]) -> go.Figure:
    """Grouped bars of cases and controls per disease (people).

    ``cases``, ``controls``: float64 (k,), NaN where a count is suppressed (no bar is drawn, so
    the figure holds no hidden count); ``shown``: the display texts of both (``<5``, ``not
    shown``), used as hover text.
    """
    fig = go.Figure()
    fig.update_layout(**_base_layout(title, "", ""))
    fig.update_layout(showlegend=True, barmode="group",
                      legend={"orientation": "h", "y": -0.25})
    for counts, texts, label, colour in zip((cases, controls), shown, legend, COLOURS,
                                            strict=True):
        fig.add_trace(go.Bar(x=list(names), y=np.asarray(counts, dtype=np.float64), name=label,
                             marker={"color": colour}, hovertext=list(texts),
                             hovertemplate="%{x}: %{hovertext}<extra></extra>"))
    return fig


def density_figure(counts: np.ndarray, x_edges: np.ndarray, y_edges: np.ndarray, title: str,
                   axis_titles: tuple[str, str], colour_title: str) -> go.Figure:
    """Heatmap of people per grid cell; ``counts`` float64 (ny, nx), NaN for a hidden cell and
    for an empty one (drawn blank)."""
    fig = go.Figure()
    fig.update_layout(**_base_layout(title, *axis_titles))
    fig.add_trace(go.Heatmap(
        z=np.asarray(counts, dtype=np.float64), x=(x_edges[:-1] + x_edges[1:]) / 2,
        y=(y_edges[:-1] + y_edges[1:]) / 2, colorscale="Blues", hoverongaps=False,
        colorbar={"title": {"text": colour_title}},
        hovertemplate="%{z}<extra></extra>"))
    fig.update_yaxes(rangemode="normal")
    return fig


def decile_figure(series: dict[str, np.ndarray], title: str, x_title: str,
                  y_title: str) -> go.Figure:
    """Case fraction (%) by score decile (1 = lowest score), one line per {label: float64 (10,)
    case fractions, NaN where suppressed (a gap in the line)}."""
    fig = go.Figure()
    fig.update_layout(**_base_layout(title, x_title, y_title))
    fig.update_layout(showlegend=True, legend={"orientation": "h", "y": -0.25})
    for label, fraction in series.items():
        fig.add_trace(go.Scatter(
            x=np.arange(1, fraction.size + 1), y=100 * np.asarray(fraction, dtype=np.float64),
            mode="lines+markers", name=label, connectgaps=False,
            hovertemplate=f"{label}: %{{y:.1f}}%<extra></extra>"))
    fig.update_xaxes(tickmode="array", tickvals=list(range(1, 11)))
    return fig


def auc_forest_figure(labels: list[str], auc: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                      title: str, x_title: str) -> go.Figure:
    """Forest plot of AUC with its 95% CI per (disease, score) row, first row on top, and the
    line of chance (0.5). ``auc``, ``lower``, ``upper``: float64 (k,); a row with NaN AUC
    (not evaluated) has no point."""
    auc = np.asarray(auc, dtype=np.float64)
    fig = go.Figure()
    fig.update_layout(**_base_layout(title, x_title, ""))
    fig.update_layout(height=max(FIGURE_HEIGHT // 2, 60 + 28 * len(labels)),
                      margin={"l": 220, "r": 40, "t": 50, "b": 50})
    fig.add_vline(x=0.5, line={"color": "#888888", "width": 1, "dash": "dash"})
    fig.add_trace(go.Scatter(
        x=auc, y=list(labels), mode="markers", marker={"color": COLOURS[0], "size": 8},
        error_x={"type": "data", "symmetric": False,
                 "array": np.asarray(upper, dtype=np.float64) - auc,
                 "arrayminus": auc - np.asarray(lower, dtype=np.float64)},
        hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", rangemode="normal")
    fig.update_xaxes(range=[0.3, 1.0])
    return fig
