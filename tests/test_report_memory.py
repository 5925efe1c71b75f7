"""The report holds one trait's chromosome, position and p-value arrays at a time: each trait's
figure data (thinned points) is made after reading it, so the memory held when the pages are
rendered does not grow by a trait's arrays with every trait."""

import tracemalloc

import pandas as pd
from test_trait_memory import gwas_table

import cohortgen.report.stage as stage
from cohortgen.io.files import write_json, write_tsv, write_tsv_bgzip
from cohortgen.io.sumstats import untested_path_for, write_gwas_ssf

ROWS = 60_000
RAW_BYTES = ROWS * 17  # categorical chromosome, int64 position, float64 p


def write_traits(root, n_traits: int) -> list[str]:
    """``n_traits`` diseases of :data:`ROWS` GWAS-SSF rows, empty loci and untested tables, their
    summary rows, QC summary and provenance. Returns the names."""
    table = gwas_table(ROWS, 5)
    names = [f"d{k}" for k in range(n_traits)]
    for name in names:
        write_gwas_ssf(root / f"{name}.tsv.gz", table, {"genome_assembly": "GRCh38"})
        write_tsv_bgzip(untested_path_for(root / f"{name}.tsv.gz"),
                        pd.DataFrame(columns=["reason"]))
        write_tsv(root / f"{name}.loci.tsv", table.iloc[:0][list(stage.LOCI_COLUMNS)])
    write_tsv(root / "summary.tsv", pd.DataFrame(
        [{"disease": n, "kind": "binary", "status": "OK", "n_cases": 300, "n_controls": 900,
          "n_samples": 1200, "lambda_gc": 1.0, "n_genome_wide": 0, "n_suggestive": 0}
         for n in names]))
    write_json(root / "qc.json", {
        "ingest": {"records_in": ROWS, "records_excluded": {},
                   "variants_written": ROWS, "multiallelic_split": {"records": 0, "variants": 0}},
        "samples": {"in": 1200, "removed": {}, "kept": 1200},
        "variants": {"removed": {}, "kept": ROWS}})
    write_json(root / "provenance.json", {"cohortgen": "test"})
    return names


def held_at_render(root, names, monkeypatch) -> int:
    """Bytes traced by tracemalloc while the first page renders, reading begun from none."""
    held = []
    render = stage.render_html

    def measured(context, lang):
        held.append(tracemalloc.get_traced_memory()[0])
        return render(context, lang)

    monkeypatch.setattr(stage, "render_html", measured)
    tracemalloc.start()
    try:
        stage.build_report("c", root / "qc.json", root / "summary.tsv",
                           [root / f"{n}.tsv.gz" for n in names],
                           [root / f"{n}.loci.tsv" for n in names],
                           root / "provenance.json", 5, root / "index.html")
    finally:
        tracemalloc.stop()
    return held[0]


def test_build_report__memory_held_does_not_grow_by_a_trait_of_arrays(tmp_path, monkeypatch):
    """Five traits more hold less than one trait's raw arrays more at rendering (the report
    used to keep every trait's arrays until it rendered: five times RAW_BYTES more)."""
    (tmp_path / "one").mkdir()
    (tmp_path / "six").mkdir()
    one = held_at_render(tmp_path / "one", write_traits(tmp_path / "one", 1), monkeypatch)
    six = held_at_render(tmp_path / "six", write_traits(tmp_path / "six", 6), monkeypatch)
    assert six - one < RAW_BYTES, (one, six)
