# cohortgen: genotypes -> QC -> association for each disease -> HTML report, per cohort.
#
# results/<cohort>/
#   input/manifest.json              what was read: files, sizes, checksums, sample counts
#   chunks/plan.tsv                  chunk regions planned from the genotype index
#   chunks/<chunk>/                  per-chunk work: genotypes.{bed,bim,fam} (private),
#                                    ingest.json, sample_partials.npz, variant_qc.tsv,
#                                    assoc/<trait>.columns (one file per disease or trait)
#   imputed/plan.tsv, imputed/<chunk>/  cohorts with imputed data: dosage chunk plan; per chunk
#                                    QC'd dosages.{pgen,pvar,psam} (private), dosages.variants.tsv,
#                                    dosages.json, assoc/<trait>.columns (association reads these)
#   qc/summary.json                  QC funnel: counts per step and reason (shareable)
#   qc/imputed_variants.tsv.gz       imputed-variant QC per variant (with imputed data)
#   qc/samples.tsv, qc/keep.txt      per-sample metrics and decision (private)
#   qc/related_pairs.tsv             KING kinship > threshold: IDs, kinship, degree (private)
#   qc/pruned.{bed,bim,fam}          LD-pruned common autosomal set for het/KING/PCA (private)
#   qc/variants.tsv.gz               per-variant metrics and decision
#   qc/repeated_ids.tsv              variant IDs repeated over chunks, with the first site
#   qc/genotypes.{bed,bim,fam}       QC'd genotypes: kept samples x passing variants (private)
#   qc/pcs.tsv, qc/pca.json          ancestry PCs (private) and eigenvalues
#   wgr/loco.tsv.gz, wgr/wgr.json    whole-genome regression (step 1): LOCO predictions per
#                                    trait and sample (private), fit summary (shareable)
#   assoc/null_model.{tsv,json}      null models per disease and trait (tsv private)
#   gwas/<trait>.tsv.gz              GWAS-SSF per disease or quantitative trait (+ .tbi, -meta.yaml)
#   gwas/<trait>.untested.tsv.gz     variants left out of GWAS-SSF (no estimate, non-ACGT alleles)
#   gwas/summary.tsv                 per disease: cases, controls, lambda GC, hits, status
#   prs/match/<score>.json           published-score match log: counts per match status
#   prs/scores/<score>.tsv.gz        per-sample SUM, AVG, Z_norm1, Z_norm2 (private)
#   prs/performance.tsv, deciles.tsv per disease and score: AUC, OR/SD, R2 (shareable)
#   prs/incohort/folds.tsv           cross-validation fold per sample, shared by diseases (private)
#   prs/incohort/<disease>.*         in-cohort C+T / LDpred2-auto: performance, held-out scores
#                                    (private), LDpred2-auto PGS Catalog scoring file
#   prs/incohort_performance.tsv     in-cohort performance, all diseases (shareable)
#   report/index.html                self-contained report (aggregates only)
#   provenance.json                  software versions, config hash, step options, input checksums
#   report/provenance.json           the same without the run section (host, directory, times):
#                                    the copy the snakemake --report bundle carries
#   logs/, benchmarks/               one log and benchmark per job

from snakemake.utils import min_version, validate

min_version("9.0")


# The demo config, unless the command line names config files: those replace it (keys they
# leave out take the schema's defaults), so the demo's cohort and scores do not join the run.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/qc.smk"
include: "workflow/rules/assoc.smk"
include: "workflow/rules/imputed.smk"


if config["assoc"]["whole_genome_regression"]:

    include: "workflow/rules/wgr.smk"


include: "workflow/rules/report.smk"


if config["prs"]["scores"] or config["prs"]["incohort"]["enabled"]:

    include: "workflow/rules/prs.smk"


rule all:
    default_target: True
    input:
        expand("results/{cohort}/report/index.html", cohort=config["cohorts"]),
        expand("results/{cohort}/provenance.json", cohort=config["cohorts"]),
        expand("results/{cohort}/report/provenance.json", cohort=config["cohorts"]),
        "results/report/index.html" if len(config["cohorts"]) > 1 else [],
        (
            expand("results/{cohort}/prs/performance.tsv", cohort=config["cohorts"])
            if config["prs"]["scores"]
            else []
        ),
        (
            expand(
                "results/{cohort}/prs/incohort_performance.tsv",
                cohort=config["cohorts"],
            )
            if config["prs"]["incohort"]["enabled"]
            else []
        ),
