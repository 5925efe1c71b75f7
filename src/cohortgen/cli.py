"""``cohortgen <stage> ...``: one subcommand per workflow stage (what each Snakemake rule calls).

Errors the user can fix (:class:`InputError`) are printed as one message, without a traceback,
and the exit status is 2.
"""

import argparse
import json
import sys
from pathlib import Path

from cohortgen import __version__
from cohortgen.errors import InputError


def _simulate(a):
    from cohortgen.simulate import simulate_cohort

    summary = simulate_cohort(Path(a.out), n_samples=a.samples, n_chromosomes=a.chromosomes,
                              chromosome_mb=a.chromosome_mb, seed=a.seed)
    print(json.dumps(summary, indent=2, sort_keys=True, default=str))


def _validate(a):
    from cohortgen.ingest.validate import validate_inputs

    validate_inputs(a.genotypes, a.phenotypes, a.diseases, a.covariates, Path(a.manifest))


def _plan(a):
    from cohortgen.ingest.plan import plan_chunks, write_plan

    write_plan(plan_chunks(a.genotypes, a.variants_per_chunk), Path(a.out))


def _ingest(a):
    from cohortgen.ingest.chunk import ingest_chunk
    from cohortgen.ingest.plan import read_plan

    plan = read_plan(Path(a.plan)).set_index("chunk_id")
    if a.chunk not in plan.index:
        raise InputError(f"{a.plan}: no chunk {a.chunk!r}; re-plan the chunks")
    row = plan.loc[a.chunk]
    ingest_chunk(a.genotypes, str(row["contig"]), int(row["start"]), int(row["end"]),
                 Path(a.out_prefix), Path(a.tally))


def _variant_stats(a):
    from cohortgen.qc.variant_stats import variant_stats_chunk

    variant_stats_chunk(Path(a.bfile), Path(a.variants), Path(a.sample_partials))


def _sample_qc(a):
    from cohortgen.qc.sample_qc import sample_qc

    sample_qc(Path(a.fam), [Path(p) for p in a.partials], Path(a.phenotypes), a.diseases,
              a.covariates, a.min_call_rate, Path(a.samples), Path(a.keep))


def _variant_qc(a):
    from cohortgen.qc.variant_qc import VariantThresholds, variant_qc_chunk

    thresholds = VariantThresholds(a.min_call_rate, a.min_maf, a.min_hwe_midp)
    variant_qc_chunk(Path(a.bfile), Path(a.keep), thresholds, Path(a.out))


def _pca(a):
    from cohortgen.qc.pca import PcaSettings, compute_pcs

    settings = PcaSettings(a.n_pcs, a.min_maf, a.ld_window, a.ld_step, a.ld_r2, a.seed,
                           a.genome_build)
    compute_pcs([Path(p) for p in a.bfiles], [Path(p) for p in a.variant_qc], Path(a.keep),
                settings, Path(a.out_pcs), Path(a.out_json))


def _qc_summary(a):
    from cohortgen.qc.summary import summarize_qc

    summarize_qc([Path(p) for p in a.tallies], Path(a.samples),
                 [Path(p) for p in a.variant_qc], Path(a.summary), Path(a.variants))


def _null_model(a):
    from cohortgen.assoc.stage import fit_null_stage

    fit_null_stage(Path(a.fam), Path(a.keep), Path(a.phenotypes), a.diseases, a.covariates,
                   a.min_cases, Path(a.out_table), Path(a.out_json),
                   Path(a.pcs) if a.pcs else None)


def _assoc(a):
    from cohortgen.assoc.stage import association_chunk

    association_chunk(Path(a.bfile), Path(a.null_table), Path(a.null_json), Path(a.variant_qc),
                      Path(a.out))


def _gather_gwas(a):
    from cohortgen.assoc.stage import gather_gwas

    gather_gwas(a.disease, [Path(p) for p in a.chunks], Path(a.null_json), a.genome_build,
                Path(a.out))


def _gwas_summary(a):
    from cohortgen.assoc.stage import summarize_gwas

    summarize_gwas(a.diseases, [Path(p) for p in a.gwas], Path(a.null_json), Path(a.out))


def _provenance(a):
    from cohortgen.provenance import write_provenance

    write_provenance(json.loads(a.config_json), Path(a.manifest), Path(a.out))


def _report(a):
    from cohortgen.report.stage import build_report

    build_report(a.cohort, Path(a.qc_summary), Path(a.gwas_summary), [Path(p) for p in a.gwas],
                 Path(a.provenance), a.min_cell_count, Path(a.out))


def _add(sub, name, func, help_text, *arguments):
    parser = sub.add_parser(name, help=help_text, description=help_text)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    parser.set_defaults(func=func)


def _req(flag, **options):
    return (flag,), {"required": True, **options}


def _many(flag):
    return _req(flag, nargs="+")


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser with one subcommand per stage."""
    parser = argparse.ArgumentParser(prog="cohortgen", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cohortgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add(sub, "simulate", _simulate, "Simulate a demo cohort (VCF, phenotypes, truth).",
         _req("--out"), (("--samples",), {"type": int, "default": 2000}),
         (("--chromosomes",), {"type": int, "default": 3}),
         (("--chromosome-mb",), {"type": float, "default": 20.0}),
         (("--seed",), {"type": int, "default": 42}))
    _add(sub, "validate", _validate, "Validate inputs and write the input manifest.",
         _req("--genotypes"), _req("--phenotypes"), _many("--diseases"),
         _many("--covariates"), _req("--manifest"))
    _add(sub, "plan", _plan, "Plan chunks from the genotype index.", _req("--genotypes"),
         _req("--variants-per-chunk", type=int), _req("--out"))
    _add(sub, "ingest", _ingest, "Convert one chunk to PLINK .bed.", _req("--genotypes"),
         _req("--plan"), _req("--chunk"), _req("--out-prefix"), _req("--tally"))
    _add(sub, "variant-stats", _variant_stats, "Per-chunk variant counts and sample partials.",
         _req("--bfile"), _req("--variants"), _req("--sample-partials"))
    _add(sub, "sample-qc", _sample_qc, "Sample QC over all chunks.", _req("--fam"),
         _many("--partials"), _req("--phenotypes"), _many("--diseases"), _many("--covariates"),
         _req("--min-call-rate", type=float), _req("--samples"), _req("--keep"))
    _add(sub, "variant-qc", _variant_qc, "Variant QC of one chunk on kept samples.",
         _req("--bfile"), _req("--keep"), _req("--min-call-rate", type=float),
         _req("--min-maf", type=float), _req("--min-hwe-midp", type=float), _req("--out"))
    _add(sub, "pca", _pca, "Ancestry PCA on LD-pruned common variants of kept samples.",
         _many("--bfiles"), _many("--variant-qc"), _req("--keep"), _req("--n-pcs", type=int),
         _req("--min-maf", type=float), _req("--ld-window", type=int),
         _req("--ld-step", type=int), _req("--ld-r2", type=float), _req("--seed", type=int),
         _req("--genome-build"), _req("--out-pcs"), _req("--out-json"))
    _add(sub, "qc-summary", _qc_summary, "QC funnel and gathered variant table.",
         _many("--tallies"), _req("--samples"), _many("--variant-qc"), _req("--summary"),
         _req("--variants"))
    _add(sub, "null-model", _null_model, "Fit the null model of each disease.", _req("--fam"),
         _req("--keep"), _req("--phenotypes"), _many("--diseases"), _many("--covariates"),
         _req("--min-cases", type=int), _req("--out-table"), _req("--out-json"),
         (("--pcs",), {"help": "PC table from `cohortgen pca` (adjusted for as covariates)"}))
    _add(sub, "assoc", _assoc, "Score tests of one chunk for all diseases.", _req("--bfile"),
         _req("--null-table"), _req("--null-json"), _req("--variant-qc"), _req("--out"))
    _add(sub, "gather-gwas", _gather_gwas, "Write one disease's GWAS-SSF file.",
         _req("--disease"), _many("--chunks"), _req("--null-json"), _req("--genome-build"),
         _req("--out"))
    _add(sub, "gwas-summary", _gwas_summary, "Per-disease GWAS summary table.",
         _many("--diseases"), _many("--gwas"), _req("--null-json"), _req("--out"))
    _add(sub, "provenance", _provenance, "Write the provenance record.", _req("--config-json"),
         _req("--manifest"), _req("--out"))
    _add(sub, "report", _report, "Render the HTML report.", _req("--cohort"),
         _req("--qc-summary"), _req("--gwas-summary"), _many("--gwas"), _req("--provenance"),
         _req("--min-cell-count", type=int), _req("--out"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cohortgen`` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except InputError as exc:
        print(f"cohortgen {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
