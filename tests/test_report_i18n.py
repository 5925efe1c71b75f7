"""HTML report in Korean and English: catalogues, names from labels, one page per language,
escaping, small-cell suppression and nothing loaded from the network."""

import re
import string
from importlib.resources import files

import numpy as np
import pandas as pd
import plotly.offline
import pytest
from test_report import synthetic_context, write_report_inputs

from cohortgen.io.files import read_json, write_json
from cohortgen.report.catalogue import LANGUAGES, Catalogue, catalogue_entries, display_name
from cohortgen.report.plots import MANHATTAN_X_BINS, manhattan_figure, qq_points
from cohortgen.report.render import (
    auc_forest_chart,
    case_control_chart,
    decile_chart,
    disease_view,
    render_html,
    shown_density,
)
from cohortgen.report.stage import (
    build_cohort_index,
    build_report,
    lead_loci,
    pca_density,
    sex_counts,
)

SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.DOTALL)


def fields(text: str) -> set[str]:
    """The {field} names of a catalogue text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def visible_text(html: str) -> str:
    """The page's text without scripts, styles and tags."""
    return re.sub(r"<[^>]+>", " ", SCRIPT_OR_STYLE.sub(" ", html))


def build_pages(tmp_path, loci: str | None = None, **kwargs) -> dict[str, str]:
    """build_report on the test_report inputs (``loci``: the disease's loci table instead);
    {file name: html} of every page written."""
    names = write_report_inputs(tmp_path)
    if loci is not None:
        (tmp_path / f"{names[0]}.loci.tsv").write_text(loci)
    out = tmp_path / "report" / "index.html"
    build_report("c", tmp_path / "qc.json", tmp_path / "summary.tsv",
                 [tmp_path / f"{n}.tsv.gz" for n in names],
                 [tmp_path / f"{n}.loci.tsv" for n in names],
                 tmp_path / "provenance.json", 5, out, **kwargs)
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.parent.glob("*.html"))}


def test_catalogues__same_keys_and_fields():
    ko, en = catalogue_entries("ko"), catalogue_entries("en")
    assert ko.keys() == en.keys()
    for key in en:
        assert ko[key].strip(), key
        assert en[key].strip(), key
        assert fields(ko[key]) == fields(en[key]), key


def test_catalogues__nine_default_diseases_named_in_both():
    diseases = ["hypertension", "type2_diabetes", "dyslipidemia", "obesity",
                "chronic_kidney_disease", "coronary_artery_disease", "stroke", "osteoporosis",
                "asthma"]
    for lang in LANGUAGES:
        names = [display_name(d, lang, {}) for d in diseases]
        assert all(not fell_back for _, fell_back in names)
        assert len({name for name, _ in names}) == 9
    assert display_name("chronic_kidney_disease", "ko", {})[0] == "만성 콩팥병"


@pytest.mark.parametrize("template", ["index.html.j2", "cohorts.html.j2", "style.html.j2"])
def test_template__no_text_outside_the_catalogue(template):
    """Every word of the page comes from a catalogue: the template's own text (outside tags,
    Jinja expressions, style and script) holds no letters."""
    source = files("cohortgen.report").joinpath("templates", template).read_text("utf-8")
    source = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", source, flags=re.DOTALL)
    source = re.sub(r"<!DOCTYPE[^>]*>", " ", SCRIPT_OR_STYLE.sub(" ", source))
    text = re.sub(r"<[^>]+>", " ", source)
    assert not re.findall(r"[^\W\d_]+", text)


def test_display_name__config_label_then_fallback():
    labels = {"hypertension": {"en": "High blood pressure"}, "ldl": {"ko": "LDL 콜레스테롤"}}
    assert display_name("hypertension", "en", labels) == ("High blood pressure", False)
    assert display_name("hypertension", "ko", labels) == ("고혈압", False)  # built in
    assert display_name("ldl", "en", labels) == ("LDL 콜레스테롤", True)
    assert display_name("ldl", "ko", labels) == ("LDL 콜레스테롤", False)
    assert display_name("hba1c", "en", labels) == ("hba1c", True)


def test_build_report__one_page_per_language_index_the_first(tmp_path):
    pages = build_pages(tmp_path)
    assert sorted(pages) == ["index.en.html", "index.html", "index.ko.html"]
    assert pages["index.html"] == pages["index.ko.html"]
    assert '<html lang="ko">' in pages["index.ko.html"]
    assert '<html lang="en">' in pages["index.en.html"]
    assert 'href="index.en.html"' in pages["index.ko.html"]
    assert 'href="index.ko.html"' in pages["index.en.html"]
    assert "천식" in visible_text(pages["index.ko.html"])  # asthma, built-in Korean name
    assert "Asthma" in visible_text(pages["index.en.html"])
    assert "유전체 분석 결과 보고서" in pages["index.ko.html"]
    assert "Genetic analysis report" not in pages["index.ko.html"]


def test_build_report__languages_in_the_order_given(tmp_path):
    pages = build_pages(tmp_path, languages=["en"])
    assert sorted(pages) == ["index.en.html", "index.html"]
    assert pages["index.html"] == pages["index.en.html"]
    assert "Other languages" not in pages["index.html"]


def test_build_report__no_raw_keys_and_fallback_said(tmp_path):
    """The trait ``ldl`` has a Korean label only: the English page shows it and says so; the
    data column names never show where a label exists."""
    labels = {"ldl": {"ko": "LDL 콜레스테롤"}, "asthma": {"en": "Asthma, bronchial"}}
    pages = build_pages(tmp_path, labels=labels)
    en, ko = visible_text(pages["index.en.html"]), visible_text(pages["index.ko.html"])
    assert "Asthma, bronchial" in en
    assert "천식" in ko  # the built-in Korean name stays where the config gives English only
    assert "LDL 콜레스테롤" in en
    assert re.search(r"No English name is configured for LDL 콜레스테롤", en)
    assert "이름이 설정되어 있지 않아" not in ko
    for page in pages.values():
        assert not re.search(r"\b(ldl|asthma)\b", visible_text(page))


def test_build_report__chromosome_x_shown_as_x(tmp_path):
    """GWAS-SSF writes chrX as 23; the lead-locus table names it X, as the plots do."""
    loci = ("chromosome\tbase_pair_location\teffect_allele\tother_allele\tp_value\tbeta\t"
            "standard_error\n23\t1000\tT\tC\t1e-9\t0.2\t0.03\n")
    pages = build_pages(tmp_path, loci=loci, languages=["en"])
    assert ">X:1000<" in pages["index.html"]
    assert ">23:1000<" not in pages["index.html"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_html__input_text_is_escaped(lang):
    attack = "<script>alert(1)</script>"
    context = synthetic_context()
    context["cohort"] = attack
    context["diseases"][0]["name"] = "t2d"
    context["labels"] = {"t2d": {lang: attack}}
    context["prs"] = [{"disease": "t2d", "score": attack, "status": "OK"}]
    html = render_html(context, lang)
    assert "alert(1)" in visible_text(html)
    assert "&lt;script&gt;alert(1)" in html
    assert "<script>alert" not in html
    assert html.count("</script>") == html.count("<script")  # no script ended early


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_html__small_counts_hidden_with_their_complement(lang):
    """3 stroke cases of 4,186 analysed: neither 3 nor the 4,183 controls (4,186 − 3) shows."""
    context = synthetic_context()
    context["qc"]["samples_out"] = 4186
    stroke = context["diseases"][1]
    stroke["n_cases"], stroke["n_controls"] = 3, 4183
    html = render_html(context, lang)
    text = visible_text(html)
    assert "4,183" not in text
    assert "4183" not in text
    assert not re.search(r">\s*[1-4]\s*<", SCRIPT_OR_STYLE.sub(" ", html))  # no cell of 1..4
    assert not re.search(r"(?<![\d.,])3\s*명", text)  # nor in a Korean sentence
    assert Catalogue(lang).plain("count.not_shown") in text
    assert "&lt;5" in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_html__nothing_from_the_network(lang):
    html = render_html(synthetic_context(), lang)
    outside_scripts = SCRIPT_OR_STYLE.sub(" ", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", outside_scripts)
    assert "<link" not in outside_scripts
    assert "<iframe" not in outside_scripts
    assert "@import" not in html
    assert "url(http" not in html
    assert not re.search(r"<script[^>]+src", html)
    assert html.count("<script>") == 1 + 1 + 2 * 2  # plotly.js once, then the figures


def test_render_html__plot_texts_in_the_page_language():
    chrom = np.array(["1", "23"] * 50)
    context = synthetic_context()
    context["diseases"][0] |= {"chrom": chrom, "pos": np.arange(100), "p": np.linspace(0.01, 1,
                                                                                         100)}
    html = render_html(context, "ko")
    assert "맨해튼 플롯" in html
    assert "염색체" in html
    assert "Manhattan plot" not in html


def drawn_points(n: int, seed: int = 5) -> tuple[int, int]:
    """Points drawn in the Manhattan and the QQ plot of n null variants plus 100 signals."""
    rng = np.random.default_rng(seed)
    chrom = rng.choice(np.array([str(i) for i in range(1, 23)] + ["23"]), n)
    pos = rng.integers(1, 200_000_000, n)
    p = rng.uniform(size=n)
    p[:100] = 10.0 ** -rng.uniform(8, 50, 100)
    manhattan = manhattan_figure(chrom, pos, p, "m")
    expected, _ = qq_points(p)
    return sum(len(trace.y) for trace in manhattan.data), expected.size


def test_figures__points_drawn_do_not_grow_with_the_variant_count():
    """Scale: the points drawn are bounded by the thinning grid plus the suggestive points
    (Manhattan) or the strongest (QQ), not by the variant count, so nine diseases at millions
    of variants stay well under 10 MB (each point is 12 bytes, about 16 in base64)."""
    _, qq_small = drawn_points(200_000)
    manhattan_large, qq_large = drawn_points(2_000_000)
    assert manhattan_large < MANHATTAN_X_BINS * 20 + 100 + 50  # grid, signals, ~20 at p < 1e-5
    assert qq_large < 1.2 * qq_small
    assert 9 * 2 * (manhattan_large + qq_large) * 16 < 10e6 - len(plotly.offline.get_plotlyjs())


def test_figures__chromosome_x_named_x():
    fig = manhattan_figure(np.array(["23", "1", "chrX"]), np.array([5, 6, 7]),
                           np.array([0.1, 0.2, 0.3]), "m")
    assert list(fig.layout.xaxis.ticktext) == ["1", "X"]


def test_lead_loci__alleles_and_frequencies_in_cases_and_controls(tmp_path):
    loci = tmp_path / "d.loci.tsv"
    loci.write_text("chromosome\tbase_pair_location\teffect_allele\tother_allele\tp_value\tbeta\t"
                    "standard_error\n23\t1000\tT\tC\t1e-9\t0.2\t0.03\n3\t50\tA\tG\t1e-6\t0.1\t0.02\n")
    table = pd.DataFrame({"chromosome": ["3", "23", "23"], "base_pair_location": [50, 1000, 1000],
                          "effect_allele": ["A", "T", "G"], "other_allele": ["G", "C", "C"],
                          "effect_allele_frequency_cases": [0.2, 0.31, 0.9],
                          "effect_allele_frequency_controls": [0.1, 0.25, 0.9]})
    rows = lead_loci(loci, table)
    assert [(r["locus"], r["alleles"], r["eaf_cases"], r["eaf_controls"]) for r in rows] == [
        ("X:1000", "T / C", 0.31, 0.25), ("3:50", "A / G", 0.2, 0.1)]
    assert np.isnan(lead_loci(loci, table.drop(columns="effect_allele_frequency_cases"))[0][
        "eaf_cases"])


def test_build_report__odds_ratio_with_95_interval(tmp_path):
    """The lead locus (beta −0.25, SE 0.04): OR exp(β), CI exp(β ± 1.959964 SE)."""
    html = build_pages(tmp_path, languages=["en"])["index.html"]
    low, high = np.exp(-0.25 + np.array([-1, 1]) * 1.959963984540054 * 0.04)
    disease = html[html.index('id="disease-1"'):html.index('id="traits"')]
    assert f">{np.exp(-0.25):.2f}<" in disease
    assert f">{low:.2f}–{high:.2f}<" in disease
    assert ">T / C<" in disease


def test_manhattan_figure__significant_leads_labelled():
    chrom = np.array(["1", "1", "23", "2"])
    pos = np.array([10, 20, 30, 40])
    p = np.array([0.5, 1e-9, 1e-12, 0.3])
    fig = manhattan_figure(chrom, pos, p, "m", labelled=[("1", 20, "1:20"), ("X", 30, "GENE1"),
                                                         ("2", 99, "2:99")])
    assert [a.text for a in fig.layout.annotations if a.text[0] in "1G2"] == ["1:20", "GENE1"]


def test_case_control_chart__holds_no_hidden_count():
    """Stroke: 3 cases (masked) and 4,183 controls (hidden as the complement): no bars, while
    type 2 diabetes and asthma show both."""
    context = synthetic_context()
    context["diseases"][1] |= {"n_cases": 3, "n_controls": 4183}
    cat = Catalogue("ko")
    views = [disease_view(i, d, cat, {}) for i, d in enumerate(context["diseases"])]
    fig = case_control_chart(views, cat)
    assert list(fig.data[0].x) == ["type 2 diabetes", "뇌졸중", "천식"]  # no label: the name
    np.testing.assert_array_equal(fig.data[0].y, [812, np.nan, 0])
    np.testing.assert_array_equal(fig.data[1].y, [4187, np.nan, 4999])
    assert list(fig.data[0].hovertext) == ["812", "<5", "0"]
    assert list(fig.data[1].hovertext) == ["4,187", "비공개", "4,999"]
    assert 'id="fig-cases-controls"' in render_html(context, "ko")


def test_auc_forest_chart__one_row_per_evaluated_score():
    rows = [{"disease": "stroke", "score": "pgs_a", "auc": 0.61, "auc_lower": 0.55,
             "auc_upper": 0.67, "status": "OK"},
            {"disease": "asthma", "score": "pgs_b", "auc": None, "status": "FAILED: matching"},
            {"disease": "asthma", "score": "pgs_c", "auc": "0.7", "auc_lower": "0.6",
             "auc_upper": "0.8", "status": "OK"}]
    fig = auc_forest_chart(rows, Catalogue("en"), {})
    trace = fig.data[0]
    assert list(trace.y) == ["Stroke · pgs_a", "Asthma · pgs_b", "Asthma · pgs_c"]
    np.testing.assert_allclose(trace.x, [0.61, np.nan, 0.7])
    np.testing.assert_allclose(trace.error_x.array, [0.06, np.nan, 0.1])
    np.testing.assert_allclose(trace.error_x.arrayminus, [0.06, np.nan, 0.1])
    assert auc_forest_chart(rows[1:2], Catalogue("en"), {}) is None
    html = render_html(synthetic_context() | {"prs": rows}, "ko")
    assert 'id="fig-prs-auc"' in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_html__every_outcome_gets_a_sentence(lang):
    """A skipped disease (status in plain words), one with every variant untested (no plot)
    and one without significant loci each get their sentence, never an empty plot."""
    cat = Catalogue(lang)
    context = synthetic_context()
    t2d, stroke, asthma = context["diseases"]
    t2d["n_significant"] = 0
    stroke["status"] = "SKIPPED: fewer than 20 cases or controls"
    asthma["status"] = "OK"
    html = render_html(context, lang)
    sections = html.split('<section class="disease">')[1:]
    assert str(cat.text("disease.finding_none", name="type 2 diabetes",
                        p="5 × 10⁻⁸")) in sections[0]
    skipped = cat.plain("status.few_cases", n="20")
    assert skipped in visible_text(sections[1])
    assert "SKIPPED" not in visible_text(sections[1])
    assert str(cat.text("disease.finding_untested", name=cat.plain("disease_name.asthma"))) in (
        sections[2])
    assert "fig-3-manhattan" not in html


def test_build_report__decile_plot_with_suppressed_gaps(tmp_path):
    deciles = tmp_path / "deciles.tsv"
    rows = ["disease\tscore\tdecile\tn\tn_cases\tn_controls\tcase_fraction\tsuppressed"]
    rows += [f"asthma\tpgs_a\t{d}\t120\t{d * 3}\t{120 - d * 3}\t{d * 3 / 120}\tFalse"
             for d in range(1, 11)]
    rows[1] = "asthma\tpgs_a\t1\t120\tNA\tNA\tNA\tTrue"
    rows[2] = "asthma\tpgs_a\t2\t120\tNA\tNA\tNA\tTrue"
    deciles.write_text("\n".join(rows) + "\n")
    performance = tmp_path / "performance.tsv"
    performance.write_text("disease\tscore\tstatus\tn_cases\tn_controls\tauc\tauc_lower\t"
                           "auc_upper\nasthma\tpgs_a\tOK\t300\t900\t0.6\t0.55\t0.65\n")
    html = build_pages(tmp_path, languages=["ko"], prs_deciles=[deciles],
                       prs_performance=[performance])["index.html"]
    assert 'id="fig-prs-deciles"' in html
    fig = decile_chart([{"disease": "asthma", "score": "pgs_a", "decile": d,
                         "case_fraction": np.nan if d < 3 else d * 3 / 120}
                        for d in range(1, 11)], Catalogue("ko"), {})
    (trace,) = fig.data
    assert trace.name == "천식 · pgs_a"
    np.testing.assert_allclose(trace.y, [np.nan, np.nan, *(d * 2.5 for d in range(3, 11))])
    assert decile_chart([], Catalogue("ko"), {}) is None


@pytest.mark.parametrize("lang", LANGUAGES)
def test_build_report__untested_variants_by_reason(tmp_path, lang):
    """The fixture's companion tables hold 2 LOW_MAC and 1 MONOMORPHIC variants."""
    cat = Catalogue(lang)
    text = visible_text(build_pages(tmp_path, languages=[lang])["index.html"])
    expected = (f"{cat.plain('disease.untested')} {cat.plain('untested.LOW_MAC')}: 2; "
                f"{cat.plain('untested.MONOMORPHIC')}: 1.")
    assert text.count(expected) == 2  # the disease and the trait


def test_build_report__match_summary_of_published_scores(tmp_path):
    """An OK score (same 80 + swapped 10 + flipped 5 + flipped_swapped 3 = 98 matched of 110:
    89.1%) and a FAILED one whose file could not be read say what happened."""
    ok = {"score": "pgs_a", "status": "OK", "pgs_id": "PGS000001", "n_score_variants": 110,
          "n_matched": 98, "same": 80, "swapped": 10, "flipped": 5, "flipped_swapped": 3,
          "ambiguous_kept": 2, "ambiguous_excluded": 4, "missing": 6, "no_position": 2,
          "overlap": 98 / 110}
    failed = {"score": "<b>pgs_b</b>", "file": "x.txt", "status": "FAILED",
              "error": "x.txt: line 3: no effect_weight"}
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, record in zip(paths, (ok, failed), strict=True):
        write_json(path, record)
    html = build_pages(tmp_path, languages=["en"], prs_match=paths)["index.html"]
    table = html[html.index('id="prs-match"'):]
    table = table[:table.index("</table>")]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table)
    assert cells[:8] == ["pgs_a", "PGS000001", "110", "98 (89.1%)", "8", "2 / 4", "8", "OK"]
    assert cells[8:] == ["&lt;b&gt;pgs_b&lt;/b&gt;", "", "NA", "NA", "NA", "NA / NA", "NA",
                         "not used: x.txt: line 3: no effect_weight"]


def test_shown_density__small_cells_and_their_complement_hidden():
    counts = np.array([[0, 3, 12], [40, 7, 9]])
    shown = shown_density(counts, 5)
    np.testing.assert_array_equal(shown, [[np.nan, np.nan, 12], [40, np.nan, 9]])
    np.testing.assert_array_equal(shown_density(np.array([[2, 3], [40, 0]]), 5),
                                  [[np.nan, np.nan], [40, np.nan]])


def test_build_report__ancestry_picture_binned_and_related_pairs_masked(tmp_path):
    """200 people at two ancestry centres and one alone far away: the picture holds cell
    counts (never a point), the lone person's cell is blank; 3 first-degree pairs are masked
    and the 12 second-degree pairs hidden with them (their sum could be known)."""
    rng = np.random.default_rng(2)
    pc1 = np.concatenate([rng.normal(-0.05, 0.003, 100), rng.normal(0.05, 0.003, 100), [0.3]])
    pc2 = np.concatenate([rng.normal(0, 0.003, 200), [0.3]])
    ids = [f"S{i:04d}" for i in range(pc1.size)]
    pcs = tmp_path / "pcs.tsv"
    pcs.write_text("sample_id\tPC1\tPC2\n" + "".join(
        f"{s}\t{a:.10g}\t{b:.10g}\n" for s, a, b in zip(ids, pc1, pc2, strict=True)))
    density = pca_density(pcs)
    assert density["counts"].sum() == 201
    assert density["counts"][-1, -1] == 1  # the lone person, top right
    names = write_report_inputs(tmp_path)
    qc = read_json(tmp_path / "qc.json")
    qc["samples"]["related_pairs"] = {"degree_1": 3, "degree_2": 12, "degree_3": 40}
    write_json(tmp_path / "qc.json", qc)
    out = tmp_path / "report" / "index.html"
    build_report("c", tmp_path / "qc.json", tmp_path / "summary.tsv",
                 [tmp_path / f"{n}.tsv.gz" for n in names],
                 [tmp_path / f"{n}.loci.tsv" for n in names],
                 tmp_path / "provenance.json", 5, out, languages=["en"], pcs_tsv=pcs)
    html = out.read_text(encoding="utf-8")
    assert 'id="fig-pca"' in html
    assert not any(s in html for s in ids)
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"num\">([^<]*)</td></tr>", html)
    assert ("first degree (parent and child, siblings)", "&lt;5") in rows
    assert ("second degree (e.g. grandparent, half-sibling, aunt or uncle)", "not shown") in rows
    assert ("third degree (e.g. first cousins)", "40") in rows


def test_build_report__people_by_sex_masked(tmp_path):
    """Kept: 100 men, 97 women, 3 with no recorded sex (masked, and the 97 women hidden with
    them since the three add up to the people analysed); a removed woman is not counted."""
    sexes = ["1"] * 100 + ["2"] * 97 + ["NA"] * 3 + ["2"]
    keep = ["True"] * 200 + ["False"]
    samples = tmp_path / "samples.tsv"
    samples.write_text("sample_id\tsheet_sex\tkeep\n" + "".join(
        f"S{i}\t{s}\t{k}\n" for i, (s, k) in enumerate(zip(sexes, keep, strict=True))))
    assert sex_counts(samples) == {"male": 100, "female": 97, "unknown": 3}
    html = build_pages(tmp_path, languages=["ko"], samples_tsv=samples)["index.html"]
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"num\">([^<]*)</td></tr>", html)
    assert [("여성", "비공개"), ("남성", "100"), ("기록 없음", "&lt;5")] == rows[:3]
    assert "S1\t" not in html


def test_build_cohort_index__cohorts_side_by_side(tmp_path):
    """Two cohorts: links to each report per language, the diseases of both side by side,
    3 cases masked with their controls, a disease missing from one cohort said so."""
    write_report_inputs(tmp_path)
    other = tmp_path / "other.tsv"
    other.write_text("disease\tkind\tstatus\tlambda_gc\tn_genome_wide\tn_suggestive\t"
                     "n_cases\tn_controls\tn_samples\n"
                     "asthma\tbinary\tOK\t1.02\t0\t2\t3\t400\t403\n"
                     "stroke\tbinary\tOK\t0.99\t1\t1\t50\t353\t403\n")
    out = tmp_path / "report" / "index.html"
    build_cohort_index(["hospital_a", "<i>b</i>"], [tmp_path / "summary.tsv", other], 5, out,
                       labels={"stroke": {"ko": "뇌졸중(허혈성)"}})
    pages = {p.name: p.read_text(encoding="utf-8") for p in out.parent.glob("*.html")}
    assert sorted(pages) == ["index.en.html", "index.html", "index.ko.html"]
    assert pages["index.html"] == pages["index.ko.html"]
    ko = pages["index.ko.html"]
    assert 'href="../hospital_a/report/index.ko.html"' in ko
    assert 'href="index.en.html"' in ko
    assert "&lt;i&gt;b&lt;/i&gt;" in ko
    assert "<i>b" not in ko
    rows = {re.findall(r"<td>([^<]*)</td>", row)[0]: re.findall(r"<td[^>]*>([^<]*)</td>", row)
            for row in re.findall(r"<tr><td>.*?</tr>", ko)}
    assert rows["천식"][1:] == ["300", "900", "1.010", "1", "&lt;5", "비공개", "1.020", "0"]
    assert rows["뇌졸중(허혈성)"][1:] == [
        "이 코호트에서는 분석하지 않음", "50", "353", "0.990", "1"]
    assert "ldl" not in visible_text(ko)  # quantitative traits stay in the cohort reports
