"""The report in a real browser: Debian's chromium, headless, with the network disabled.

Each language's page must load without a console message (an error, or a failed request: the
network is refused), draw every plot (an SVG per figure after the scripts ran), render Korean
glyphs with a CJK font, give a non-blank screenshot, and print to PDF with each disease on its
own page. ``.ci/run`` installs ``chromium`` and ``fonts-noto-cjk``; under ``CI=true`` a missing
browser fails the tests.
"""

import re
import resource
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import require_tool
from test_report import synthetic_context, synthetic_gwas

from cohortgen.report.catalogue import LANGUAGES
from cohortgen.report.render import render_report

ROOT = Path(__file__).resolve().parents[1]
ARTEFACTS = ROOT / "test-artifacts"
"""Screenshots kept for a person to look at (git-ignored; ``.ci/run`` prints the path)."""

OFFLINE_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run",
                 "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                 "--virtual-time-budget=10000")
"""Chromium flags: headless, no background traffic, every request refused (a proxy on the
discard port, no name resolves), scripts and timers given 10 s of virtual time."""


def run_chromium(page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess:
    """Run headless chromium on ``page`` with a fresh profile and console logging on stderr."""
    command = [require_tool("chromium"), *OFFLINE_FLAGS, f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *action, page.as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def console_messages(stderr: str) -> list[str]:
    """Console messages of the page (chromium logs them as ``:CONSOLE`` lines)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def png_pixel_bytes(png: bytes) -> bytes:
    """The decompressed image data of a PNG (filter bytes included), enough to tell a blank
    image (a few distinct bytes) from a drawn one."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    data, at = b"", 8
    while at < len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        kind = png[at + 4:at + 8]
        if kind == b"IDAT":
            data += png[at + 8:at + 8 + length]
        at += 12 + length
    return zlib.decompress(data)


def every_figure_context() -> dict:
    """The synthetic context with every kind of figure: cases and controls, two diseases ×
    (Manhattan, QQ), the ancestry density, the AUC forest plot and the case share by decile."""
    rng = np.random.default_rng(8)
    counts, pc2_edges, pc1_edges = np.histogram2d(rng.normal(size=2_000),
                                                  rng.normal(size=2_000), bins=20)
    prs = [{"disease": "asthma", "score": score, "status": "OK", "n_cases": 300,
            "n_controls": 900, "auc": auc, "auc_lower": auc - 0.04, "auc_upper": auc + 0.04}
           for score, auc in (("pgs_a", 0.61), ("pgs_b", 0.55))]
    deciles = [{"disease": "asthma", "score": "pgs_a", "decile": d,
                "case_fraction": 0.1 + 0.02 * d} for d in range(1, 11)]
    return synthetic_context() | {
        "languages": list(LANGUAGES), "prs": prs, "prs_deciles": deciles,
        "pca": {"counts": counts.astype(np.int64), "pc1_edges": pc1_edges,
                "pc2_edges": pc2_edges}}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """One page per language with every kind of figure (:func:`every_figure_context`)."""
    out = tmp_path_factory.mktemp("browser")
    context = every_figure_context()
    for lang in LANGUAGES:
        render_report(out / f"index.{lang}.html", context, lang)
    return {lang: out / f"index.{lang}.html" for lang in LANGUAGES}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_browser__page_loads_offline_and_draws_every_plot(pages, tmp_path, lang):
    result = run_chromium(pages[lang], tmp_path / "profile", "--dump-dom")
    assert console_messages(result.stderr) == []
    dom = result.stdout
    figures = re.findall(r'<div id="(fig-[\w-]+)"', pages[lang].read_text(encoding="utf-8"))
    assert len(figures) == 1 + 4 + 3  # cases and controls, 2 diseases × (Manhattan, QQ),
    #                                   ancestry, AUC forest, deciles
    starts = [dom.index(f'id="{figure}"') for figure in figures]
    for figure, start, end in zip(figures, starts, [*starts[1:], len(dom)], strict=True):
        drawn = dom[start:end]
        assert 'class="main-svg"' in drawn, f"{figure} not drawn"
        # markers and bars are drawn as class="point"; a heatmap as an image
        assert re.search(r'class="point[" ]|<image', drawn), f"{figure} is empty"


def test_browser__korean_font_installed():
    """Korean text renders with a CJK font, not as boxes (fonts-noto-cjk)."""
    fonts = subprocess.run([require_tool("fc-list"), ":lang=ko", "family"], capture_output=True,
                           text=True, check=True).stdout
    assert "CJK" in fonts or "Nanum" in fonts, fonts


@pytest.mark.parametrize("lang", LANGUAGES)
def test_browser__screenshot_not_blank(pages, tmp_path, lang):
    shot = tmp_path / f"report.{lang}.png"
    run_chromium(pages[lang], tmp_path / "profile", "--window-size=1280,3000",
                 f"--screenshot={shot}")
    pixels = png_pixel_bytes(shot.read_bytes())
    assert len(set(pixels)) > 64  # text, tables and plots: a blank page has a handful


def pdf_pages(pdf: Path) -> int:
    """Number of pages of a PDF written by chromium: its page objects, which the root of the
    page tree (the largest /Count; inner nodes hold a few pages each) must agree with."""
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    assert pages == max(int(n) for n in re.findall(rb"/Count\s+(\d+)", data))
    return pages


def test_browser__print_starts_each_section_and_disease_on_a_new_page(tmp_path):
    """Six diseases without plots and short sections: on screen a few pages' worth; printed,
    the opening (about, contents) is page 1 and every section and disease starts a page of its
    own, so the PDF has exactly one page per section start."""
    diseases = [{"name": f"disease{i}", "n_cases": 100, "n_controls": 900, "status": "OK"}
                for i in range(6)]
    page = tmp_path / "index.html"
    render_report(page, synthetic_context() | {"diseases": diseases}, "ko")
    sections = page.read_text(encoding="utf-8").count("<section class=")
    assert sections == 7 + len(diseases)  # glance, QC, ancestry, summary, methods, glossary,
    #                                       provenance
    pdf = tmp_path / "report.pdf"
    run_chromium(page, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    assert pdf_pages(pdf) == 1 + sections


def glyph_page(path: Path, text: str) -> Path:
    """A page with ``text`` large, in the report's font stack."""
    path.write_text(f'<!DOCTYPE html><html lang="ko"><meta charset="utf-8"><body style="margin:0;'
                    f'font-family:Arial, Helvetica, sans-serif;font-size:72px">{text}</body>'
                    "</html>", encoding="utf-8")
    return path


def test_browser__korean_glyphs_drawn_not_boxes(tmp_path):
    """Two different Korean words draw different pixels: missing glyphs would be the same
    boxes (tofu) for both, so the images would match."""
    shots = []
    for i, word in enumerate(("고혈압 환자", "당뇨병 대조")):
        shot = tmp_path / f"word{i}.png"
        run_chromium(glyph_page(tmp_path / f"word{i}.html", word), tmp_path / f"profile{i}",
                     "--window-size=600,120", f"--screenshot={shot}")
        shots.append(png_pixel_bytes(shot.read_bytes()))
    assert len(set(shots[0])) > 2  # something was drawn
    assert shots[0] != shots[1]


def demo_context() -> dict:
    """The synthetic report with the demo config's diseases and languages."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    chrom, pos, p = synthetic_gwas()
    diseases = [{"name": name, "n_cases": 400 + 37 * i, "n_controls": 4500 - 37 * i,
                 "lambda_gc": None, "n_significant": 10, "n_suggestive": 12, "status": "OK",
                 "chrom": chrom, "pos": pos, "p": p}
                for i, name in enumerate(config["diseases"])]
    languages = config.get("report", {}).get("languages", list(LANGUAGES))
    return synthetic_context() | {"diseases": diseases, "languages": languages}


def test_browser__screenshots_of_the_demo_report_kept_as_artefacts(tmp_path):
    """One full-page screenshot per language, written to test-artifacts/ for a person."""
    context = demo_context()
    ARTEFACTS.mkdir(exist_ok=True)
    for lang in context["languages"]:
        page = tmp_path / f"index.{lang}.html"
        render_report(page, context, lang)
        shot = ARTEFACTS / f"report.{lang}.png"
        run_chromium(page, tmp_path / f"profile-{lang}", "--window-size=1280,9000",
                     "--hide-scrollbars", f"--screenshot={shot}")
        assert len(set(png_pixel_bytes(shot.read_bytes()))) > 64
        print(f"report screenshot ({lang}): {shot}")


SCALE_VARIANTS = 2_500_000
"""Variants per disease of the scale test (an imputed cohort)."""


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's finished child processes (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def open_seconds(page: Path, profile: Path) -> tuple[float, float, str]:
    """CPU and wall-clock seconds for headless chromium (every process of it) to load
    ``page``, run its scripts and dump the DOM (no virtual time: the real cost of opening
    it), and the DOM. CPU seconds are what the page costs whatever else runs on the machine;
    on an idle machine the wall time is at most about that."""
    command = [require_tool("chromium"), *OFFLINE_FLAGS[:-1], f"--user-data-dir={profile}",
               "--dump-dom", page.as_uri()]
    cpu, wall = children_cpu_seconds(), time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    wall, cpu = time.perf_counter() - wall, children_cpu_seconds() - cpu
    assert result.returncode == 0, result.stderr[-3000:]
    return cpu, wall, result.stdout


@pytest.mark.slow
def test_browser__nine_diseases_at_millions_of_variants_small_and_fast(tmp_path):
    """Nine diseases of 2.5 M variants each through the report's data functions: the page is
    under 10 MB and opening it costs chromium under 3 s of CPU more than a blank page (its own
    start-up), all plots drawn."""
    rng = np.random.default_rng(11)
    chrom = rng.choice(np.array([str(c) for c in range(1, 23)] + ["X"]), SCALE_VARIANTS)
    pos = rng.integers(1, 250_000_000, SCALE_VARIANTS)
    p = rng.uniform(size=SCALE_VARIANTS)
    p[:200] = 10.0 ** -rng.uniform(5, 40, 200)
    diseases = [{"name": f"disease{i}", "n_cases": 5_000, "n_controls": 45_000, "status": "OK",
                 "n_significant": 20, "n_suggestive": 40, "chrom": chrom, "pos": pos, "p": p}
                for i in range(9)]
    page = tmp_path / "big.html"
    render_report(page, synthetic_context() | {"diseases": diseases}, "en")
    size = page.stat().st_size
    print(f"report of 9 × {SCALE_VARIANTS:,} variants: {size / 1e6:.1f} MB")
    assert size < 10e6
    blank = glyph_page(tmp_path / "blank.html", "x")
    baseline = min(open_seconds(blank, tmp_path / f"p-blank{i}")[0] for i in range(2))
    runs = [open_seconds(page, tmp_path / f"p-big{i}") for i in range(2)]
    assert all(dom.count('class="main-svg"') >= 1 + 2 * 9 for _, _, dom in runs)  # all drawn
    cpu, wall, _ = min(runs)
    print(f"open: {cpu - baseline:.2f} s CPU beyond chromium's start-up ({baseline:.2f} s); "
          f"{wall:.1f} s wall on this machine")
    assert cpu - baseline < 3.0
