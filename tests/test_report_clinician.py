"""The clinician report's additions: nearest gene from a GTF/GFF/BED annotation, age bands,
the QC flow diagram, extra facts (notes), and privacy over every file of a built report."""

import gzip
import re

import numpy as np
import pandas as pd
import pytest
from test_report import synthetic_context, write_report_inputs
from test_report_i18n import SCRIPT_OR_STYLE, visible_text

from cohortgen.errors import InputError
from cohortgen.io.files import read_json, write_json
from cohortgen.report.catalogue import LANGUAGES, Catalogue
from cohortgen.report.genes import gene_name, nearest_gene, read_genes
from cohortgen.report.render import disease_view, locus_labels, removal_rows, render_html
from cohortgen.report.stage import age_band_counts, build_report

GENES = [  # chromosome, start, end (1-based, inclusive), name
    ("chr3", 1_500, 2_000, "GENEA"),
    ("chr3", 100, 900, "GENEB"),
    ("3", 5_000, 9_000, "GENEC"),
    ("chrX", 900, 1_100, "XGENE"),
    ("chr7", 10, 20, "FAR"),
]


def write_gtf(path, genes=GENES) -> None:
    """GTF with a header comment, a transcript row (ignored) per gene and GTF attributes."""
    lines = ["#!genome-build GRCh38"]
    for chrom, start, end, name in genes:
        attributes = f'gene_id "ENSG_{name}"; gene_name "{name}"; gene_type "protein_coding";'
        lines.append(f"{chrom}\tTEST\tgene\t{start}\t{end}\t.\t+\t.\t{attributes}")
        lines.append(f"{chrom}\tTEST\ttranscript\t{start}\t{end}\t.\t+\t.\t{attributes}")
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")


def write_gff3(path) -> None:
    lines = ["##gff-version 3"] + [f"{c}\tTEST\tgene\t{s}\t{e}\t.\t-\t.\tID=gene:{n};Name={n}"
                                   for c, s, e, n in GENES]
    path.write_text("\n".join(lines) + "\n")


def write_bed(path) -> None:
    """BED6 (0-based starts) after a track line."""
    lines = ["track name=genes"] + [f"{c}\t{s - 1}\t{e}\t{n}\t0\t+" for c, s, e, n in GENES]
    path.write_text("\n".join(lines) + "\n")


def brute_force_nearest(chromosome: str, position: int) -> tuple[str, int] | None:
    """Reference: every gene's distance by a plain loop over GENES."""
    best = None
    for chrom, start, end, name in GENES:
        if re.sub("^chr", "", chrom) != chromosome:
            continue
        distance = 0 if start <= position <= end else min(abs(start - position),
                                                          abs(position - end))
        if best is None or (distance, start, name) < best[0]:
            best = ((distance, start, name), (name, distance))
    return None if best is None else best[1]


@pytest.mark.parametrize("writer", [write_gtf, write_gff3, write_bed])
def test_nearest_gene__every_format_against_a_brute_force_reference(tmp_path, writer):
    path = tmp_path / {write_gtf: "g.gtf.gz", write_gff3: "g.gff3", write_bed: "g.bed"}[writer]
    writer(path)
    genes = read_genes(path)
    assert sorted(genes["name"]) == sorted(g[3] for g in GENES)
    queries = [("3", p) for p in (1, 100, 500, 900, 901, 1_200, 1_201, 1_499, 1_500, 3_000,
                                  3_500, 4_999, 10_000)] + [("X", 1_000), ("X", 5), ("5", 10)]
    for chromosome, position in queries:
        assert nearest_gene(genes, chromosome, position) == brute_force_nearest(
            chromosome, position), (chromosome, position)
    assert nearest_gene(genes, "3", 1_200) == ("GENEB", 300)  # 300 from GENEB, 300 from GENEA
    assert nearest_gene(genes, "X", 1_000) == ("XGENE", 0)


def test_gene_name__gtf_and_gff_attributes():
    assert gene_name('gene_id "ENSG1"; gene_name "TCF7L2";') == "TCF7L2"
    assert gene_name('gene_id "ENSG1";') == "ENSG1"
    assert gene_name("ID=gene:ENSG2;Name=FTO;biotype=x") == "FTO"
    assert gene_name("ID=gene:ENSG2") == "gene:ENSG2"
    assert gene_name("Note=unnamed") == ""


def test_read_genes__bad_files_name_the_file_and_line(tmp_path):
    with pytest.raises(InputError, match=r"genes\.txt: report\.genes must be a GTF/GFF"):
        read_genes(tmp_path / "genes.txt")
    with pytest.raises(InputError, match=r"missing\.bed: gene annotation file not found"):
        read_genes(tmp_path / "missing.bed")
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t10\t20\tA\nchr1\tten\t30\tB\n")
    with pytest.raises(InputError, match=r"bad\.bed: line 2: gene coordinate 'ten'"):
        read_genes(bad)
    unnamed = tmp_path / "unnamed.gtf"
    unnamed.write_text("chr1\tx\texon\t1\t10\t.\t+\t.\tgene_id \"A\";\n")
    with pytest.raises(InputError, match=r"unnamed\.gtf: no named gene found"):
        read_genes(unnamed)


def build(tmp_path, lang="en", **kwargs) -> str:
    """build_report on the test_report inputs; the page of ``lang``."""
    names = write_report_inputs(tmp_path)
    out = tmp_path / "report" / "index.html"
    build_report("c", tmp_path / "qc.json", tmp_path / "summary.tsv",
                 [tmp_path / f"{n}.tsv.gz" for n in names],
                 [tmp_path / f"{n}.loci.tsv" for n in names],
                 tmp_path / "provenance.json", 5, out, languages=[lang], **kwargs)
    return (out.parent / f"index.{lang}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_build_report__nearest_gene_in_the_loci_table_and_the_manhattan_label(tmp_path, lang):
    """The fixture's lead locus 3:1000 (p 1e-9) lies 100 bp past GENEB (100-900)."""
    write_gtf(tmp_path / "genes.gtf.gz")
    html = build(tmp_path, lang, genes=tmp_path / "genes.gtf.gz")
    cat = Catalogue(lang)
    assert f"<th>{cat.text('disease.nearest_gene')}</th>" in html
    shown = cat.plain("disease.gene_distance", gene="GENEB", kb="0.1")
    assert html.count(f"<td>{shown}</td>") == 2  # the disease's and the trait's lead
    (tmp_path / "plain").mkdir()
    assert cat.plain("disease.nearest_gene") not in build(tmp_path / "plain", lang)


def test_disease_view__gene_column_when_any_lead_has_a_gene():
    """A lead on a chromosome without an annotated gene leaves its cell empty; the column is
    there as soon as one lead has a gene, and absent when none has."""
    loci = [{"locus": "Y:5", "chromosome": "Y", "position": 5, "p": 1e-9, "odds_ratio": 1.2},
            {"locus": "3:1000", "chromosome": "3", "position": 1000, "p": 1e-8,
             "odds_ratio": 1.1, "nearest_gene": "GENEB", "gene_distance": 0}]
    record = {"name": "asthma", "n_cases": 300, "n_controls": 900, "loci": loci}
    view = disease_view(0, record, Catalogue("en"), {})
    assert view["genes"]
    assert [lo["gene"] for lo in view["loci"]] == [None, "GENEB"]
    assert not disease_view(0, record | {"loci": loci[:1]}, Catalogue("en"), {})["genes"]


def test_locus_labels__nearest_gene_else_position_for_significant_leads():
    loci = [{"locus": "3:1000", "chromosome": "3", "position": 1000, "p": 1e-9,
             "nearest_gene": "GENEB", "gene_distance": 100},
            {"locus": "X:5", "chromosome": "X", "position": 5, "p": 2e-8},
            {"locus": "1:7", "chromosome": "1", "position": 7, "p": 1e-6,
             "nearest_gene": "WEAK", "gene_distance": 0}]
    assert locus_labels(loci) == [("3", 1000, "GENEB"), ("X", 5, "X:5")]


def test_removal_rows__complement_is_never_a_zero():
    """Hiding a 0 beside a small count protects nothing (total − shown − 0 gives it): the
    smallest non-zero other count is hidden instead."""
    assert removal_rows({"a": 0, "b": 3, "c": 40, "d": 12}, 5) == [
        ("a", "0"), ("b", "<5"), ("c", "40"), ("d", "not shown")]


def write_sheet_and_samples(tmp_path, ages: list[str], keep: list[bool], prefix="KEPT"):
    ids = [f"{prefix}{i:05d}" for i in range(len(ages))]
    sheet = tmp_path / "phenotypes.tsv"
    sheet.write_text("sample_id\tsex\tage\n" + "".join(
        f"{s}\t{1 + i % 2}\t{a}\n" for i, (s, a) in enumerate(zip(ids, ages, strict=True))))
    samples = tmp_path / "samples.tsv"
    samples.write_text("sample_id\tsheet_sex\tkeep\n" + "".join(
        f"{s}\t{1 + i % 2}\t{k}\n" for i, (s, k) in enumerate(zip(ids, keep, strict=True))))
    return sheet, samples, ids


def test_age_band_counts__kept_people_per_band(tmp_path):
    ages = ["25"] * 6 + ["29.9"] + ["30"] * 10 + ["45.5"] * 20 + ["69.99"] * 7 + ["70"] * 8 + [
        "NA"] * 3 + ["33"]
    keep = [True] * (len(ages) - 1) + [False]
    sheet, samples, _ = write_sheet_and_samples(tmp_path, ages, keep)
    assert age_band_counts(sheet, samples) == {"under_30": 7, "30_39": 10, "40_49": 20,
                                               "50_59": 0, "60_69": 7, "70_over": 8,
                                               "unknown": 3}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_build_report__age_bands_masked_with_their_complement(tmp_path, lang):
    """3 people without a recorded age: masked, and the smallest other band (7, in their
    sixties) hidden with them, since the bands add up to the people analysed."""
    ages = ["25"] * 12 + ["45"] * 20 + ["65"] * 7 + ["NA"] * 3
    sheet, samples, _ = write_sheet_and_samples(tmp_path, ages, [True] * len(ages))
    html = build(tmp_path, lang, samples_tsv=samples, phenotypes=sheet)
    cat = Catalogue(lang)
    rows = dict(re.findall(r"<tr><td>([^<]*)</td><td class=\"num\">([^<]*)</td></tr>", html))
    assert rows[cat.plain("glance.age_under_30")] == "12"
    assert rows[cat.plain("glance.age_40_49")] == "20"
    assert rows[cat.plain("glance.age_60_69")] == cat.plain("count.not_shown")
    assert rows[cat.plain("glance.age_unknown")] == "&lt;5"
    assert rows[cat.plain("glance.age_50_59")] == "0"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_html__qc_flow_diagram_in_plain_words(lang):
    """In → removed (plain words, small count masked with its complement) → analysed."""
    cat = Catalogue(lang)
    context = synthetic_context()
    context["qc"]["samples_removed_by_reason"] = {"low_call_rate": 2, "het_outlier": 17}
    html = render_html(context, lang)
    flow = html[html.index('<ol class="flow">'):]
    flow = flow[:flow.index("</ol>")]
    steps = re.findall(r'<li class="flow-(step|removed)[^"]*">', flow)
    assert steps == ["step", "removed", "removed", "step"]  # people, then variants removed
    text = visible_text(flow)
    assert cat.plain("qc.people_removed", reason=cat.plain("reason.low_call_rate")) in text
    assert "low_call_rate" not in text
    assert "&lt;5" in flow
    assert cat.plain("count.not_shown") in text
    assert ">17<" not in flow
    assert ">2<" not in flow
    assert text.index(cat.plain("qc.input")) < text.index(cat.plain("qc.passed"))
    assert "4,981" in text  # people analysed
    assert "28,970" in text  # variants analysed


def test_render_html__notes_of_colleagues_steps_shown_where_they_belong():
    """Extra facts (catalogue key and fields) go to the methods section or a disease's."""
    context = synthetic_context()
    context["notes"] = [{"key": "disease.status", "fields": {"status": "<i>methods fact</i>"}}]
    context["diseases"][0]["notes"] = [{"key": "disease.status",
                                        "fields": {"status": "disease fact"}}]
    html = render_html(context, "en")
    methods = html[html.index('id="methods"'):html.index('id="glossary"')]
    assert "Status: &lt;i&gt;methods fact&lt;/i&gt;" in methods
    first = html.split('<section class="disease">')[1]
    assert "Status: disease fact" in first


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_html__failed_scores_said_in_plain_words(lang):
    """A published score that failed matching and an in-cohort score whose fold failed: each
    row says so in the page's language, never the raw status."""
    cat = Catalogue(lang)
    rows = [{"disease": "asthma", "score": "pgs_a", "status": "FAILED: see match log"},
            {"disease": "asthma", "score": "ct", "status": "FAILED: fold 2: no convergence"}]
    text = visible_text(render_html(synthetic_context() | {"prs": rows}, lang))
    assert cat.plain("status.score_failed") in text
    assert cat.plain("status.fold_failed", fold="2", reason="no convergence") in text
    assert "FAILED" not in text


def people_cells(html: str) -> list[str]:
    """Every count shown in a table cell or in bold (the QC flow), outside scripts."""
    body = SCRIPT_OR_STYLE.sub(" ", html)
    return re.findall(r'<td class="num">([^<]*)</td>|<strong>([\d,]+)</strong>', body)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_build_report__no_sample_id_and_no_small_count_in_any_report_file(tmp_path, lang):
    """A cohort whose every input feeds the report (sheet, samples, PCs, QC with small removal
    counts and related pairs): no kept (or removed) sample ID appears in any file the report
    writes, and no shown count is between 1 and min_cell_count − 1."""
    n = 60
    ages = [str(20 + (i * 7) % 60) for i in range(n)]
    keep = [True] * (n - 2) + [False] * 2
    sheet, samples, ids = write_sheet_and_samples(tmp_path, ages, keep, prefix="PRIVATEID")
    rng = np.random.default_rng(4)
    pcs = tmp_path / "pcs.tsv"
    pd.DataFrame({"sample_id": ids, "PC1": rng.normal(size=n), "PC2": rng.normal(size=n)}).to_csv(
        pcs, sep="\t", index=False)
    names = write_report_inputs(tmp_path)
    qc = read_json(tmp_path / "qc.json")
    qc["samples"]["removed"] = {"low_call_rate": 2, "het_outlier": 30, "related": 18}
    qc["samples"]["related_pairs"] = {"degree_1": 4, "degree_2": 9}
    write_json(tmp_path / "qc.json", qc)
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    summary[["n_genome_wide", "n_suggestive"]] = 12  # loci, not people: kept out of the check
    summary.to_csv(tmp_path / "summary.tsv", sep="\t", index=False, na_rep="NA")
    out = tmp_path / "report" / "index.html"
    build_report("c", tmp_path / "qc.json", tmp_path / "summary.tsv",
                 [tmp_path / f"{x}.tsv.gz" for x in names],
                 [tmp_path / f"{x}.loci.tsv" for x in names],
                 tmp_path / "provenance.json", 5, out, languages=[lang], pcs_tsv=pcs,
                 samples_tsv=samples, phenotypes=sheet)
    files = sorted(out.parent.iterdir())
    assert len(files) == 2
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "PRIVATEID" not in text, path
        shown = [a or b for a, b in people_cells(text)]
        assert shown, path
        small = [s for s in shown if s.isdigit() and 1 <= int(s) < 5]
        assert small == [], (path, small)


def cli_report(tmp_path, options: dict, *extra: str) -> int:
    """``cohortgen report`` on the test_report inputs with the workflow's arguments."""
    import json

    from cohortgen.cli import main

    names = write_report_inputs(tmp_path)
    return main(["report", "--cohort", "c", "--qc-summary", str(tmp_path / "qc.json"),
                 "--gwas-summary", str(tmp_path / "summary.tsv"),
                 "--gwas", *[str(tmp_path / f"{n}.tsv.gz") for n in names],
                 "--loci", *[str(tmp_path / f"{n}.loci.tsv") for n in names],
                 "--provenance", str(tmp_path / "provenance.json"), *extra,
                 "--options", json.dumps(options), "--out", str(tmp_path / "r" / "index.html")])


def test_cli_report__genes_from_options_and_age_bands_when_age_is_a_covariate(tmp_path):
    write_gtf(tmp_path / "genes.gtf.gz")
    sheet, samples, _ = write_sheet_and_samples(tmp_path, ["45"] * 30, [True] * 30)
    options = {"report": {"genes": str(tmp_path / "genes.gtf.gz"), "languages": ["en"]},
               "covariates": ["age", "sex"]}
    assert cli_report(tmp_path, options, "--samples", str(samples),
                      "--phenotypes", str(sheet)) == 0
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "<td>GENEB (0.1 kb away)</td>" in html
    assert "<tr><td>40–49</td><td class=\"num\">30</td></tr>" in html
    options["covariates"] = ["sex"]  # no age covariate: no age bands, the sheet is not read
    assert cli_report(tmp_path, options, "--samples", str(samples),
                      "--phenotypes", str(sheet)) == 0
    assert "40–49" not in (tmp_path / "r" / "index.html").read_text(encoding="utf-8")


def test_cli_report__bad_gene_file_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "genes.bed"
    bad.write_text("chr3\t100\tend\tGENEB\n")
    status = cli_report(tmp_path, {"report": {"genes": str(bad)}})
    assert status != 0
    err = capsys.readouterr().err
    assert "genes.bed: line 1: gene coordinate 'end' is not a whole number" in err
    assert "Traceback" not in err
