"""The report in a real browser: Debian's chromium, headless, with the network disabled.

Each language's page must load without a console message (an error, or a failed request: the
network is refused), draw every plot (an SVG per figure after the scripts ran), render Korean
glyphs with a CJK font, give a non-blank screenshot, and print to PDF with each disease on its
own page. ``.ci/run`` installs ``chromium`` and ``fonts-noto-cjk``; under ``CI=true`` a missing
browser fails the tests.
"""

import re
import subprocess
import zlib
from pathlib import Path

import pytest
from conftest import require_tool
from test_report import synthetic_context

from cohortgen.report.catalogue import LANGUAGES
from cohortgen.report.render import render_report

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


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """One page per language from the synthetic context (two diseases with plots)."""
    out = tmp_path_factory.mktemp("browser")
    context = synthetic_context() | {"languages": list(LANGUAGES)}
    for lang in LANGUAGES:
        render_report(out / f"index.{lang}.html", context, lang)
    return {lang: out / f"index.{lang}.html" for lang in LANGUAGES}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_browser__page_loads_offline_and_draws_every_plot(pages, tmp_path, lang):
    result = run_chromium(pages[lang], tmp_path / "profile", "--dump-dom")
    assert console_messages(result.stderr) == []
    dom = result.stdout
    figures = re.findall(r'<div id="(fig-[\w-]+)"', pages[lang].read_text(encoding="utf-8"))
    assert len(figures) == 1 + 4  # cases and controls, 2 diseases × (Manhattan, QQ)
    for figure in figures:
        drawn = dom[dom.index(f'id="{figure}"'):][:20_000]
        assert 'class="main-svg"' in drawn, f"{figure} not drawn"
        assert re.search(r'class="point"|class="scatterlayer', drawn), f"{figure} is empty"


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


def test_browser__print_starts_each_disease_on_a_new_page(tmp_path):
    """Six diseases without plots fit on two pages as a screen; printed, each starts a page."""
    diseases = [{"name": f"disease{i}", "n_cases": 100, "n_controls": 900, "status": "OK"}
                for i in range(6)]
    page = tmp_path / "index.html"
    render_report(page, synthetic_context() | {"diseases": diseases}, "ko")
    pdf = tmp_path / "report.pdf"
    run_chromium(page, tmp_path / "profile", "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    n_pages = int(re.search(rb"/Count (\d+)", pdf.read_bytes()).group(1))
    assert n_pages >= 1 + len(diseases)  # the opening sections, then one page per disease
