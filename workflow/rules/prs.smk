# PRS: published scores (PGS Catalog) matched to each cohort, scored in one pass, evaluated;
# in-cohort scores (C+T, LDpred2-auto) cross-validated on folds shared by every disease: one job
# assigns the folds, one job per fold (and one for the all-sample refit) runs every disease, one
# job evaluates and exports them.

from cohortgen.prs.targets import score_file, score_targets

PRS_SCORES = config["prs"]["scores"]
INCOHORT = config["prs"]["incohort"]


if PRS_SCORES:

    rule score_published_prs:
        input:
            bed=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bed"),
            bim=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bim"),
            fam=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.fam"),
            variant_qc=chunk_files("results/{cohort}/chunks/{chunk}/variant_qc.tsv"),
            samples="results/{cohort}/qc/samples.tsv",
            pcs="results/{cohort}/qc/pcs.tsv",
            score_files=[score_file(entry) for entry in PRS_SCORES.values()],
            dosages=published_score_dosages,
        output:
            scores=expand(
                "results/{{cohort}}/prs/scores/{score}.tsv.gz", score=PRS_SCORES
            ),
            match_logs=[
                report(
                    f"results/{{cohort}}/prs/match/{score}.json",
                    caption="../report/prs_match.rst",
                    category="Polygenic scores",
                    labels={"cohort": "{cohort}", "file": f"{score} match log"},
                )
                for score in PRS_SCORES
            ],
            variant_logs=expand(
                "results/{{cohort}}/prs/match/{score}.variants.tsv.gz",
                score=PRS_SCORES,
            ),
        log:
            "results/{cohort}/logs/score_published_prs.log",
        benchmark:
            "results/{cohort}/benchmarks/score_published_prs.tsv"
        conda:
            "../../envs/cohortgen.yaml"
        threads: 2
        resources:
            mem_mb=scaled(800, per_1000_samples=40),
            runtime=scaled(30, per_1000_samples=3),
        params:
            cohortgen=COHORTGEN,
            genotypes=published_score_genotypes,
            names=list(PRS_SCORES),
            options=step_options("prs_score"),
            out_dir=lambda wc: f"results/{wc.cohort}/prs",
        shell:
            "{params.cohortgen} prs-score --names {params.names} --files {input.score_files:q}"
            " {params.genotypes} --samples {input.samples} --pcs {input.pcs}"
            " --options {params.options:q} --out-dir {params.out_dir} 2> {log}"

    rule evaluate_published_prs:
        input:
            scores=expand(
                "results/{{cohort}}/prs/scores/{score}.tsv.gz", score=PRS_SCORES
            ),
            match_logs=expand(
                "results/{{cohort}}/prs/match/{score}.json", score=PRS_SCORES
            ),
            phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
            keep="results/{cohort}/qc/keep.txt",
            pcs="results/{cohort}/qc/pcs.tsv",
        output:
            performance=report(
                "results/{cohort}/prs/performance.tsv",
                caption="../report/prs_performance.rst",
                category="Polygenic scores",
                labels={"cohort": "{cohort}", "file": "published-score performance"},
            ),
            deciles=report(
                "results/{cohort}/prs/deciles.tsv",
                caption="../report/prs_deciles.rst",
                category="Polygenic scores",
                labels={"cohort": "{cohort}", "file": "published-score deciles"},
            ),
        log:
            "results/{cohort}/logs/evaluate_published_prs.log",
        benchmark:
            "results/{cohort}/benchmarks/evaluate_published_prs.tsv"
        conda:
            "../../envs/cohortgen.yaml"
        params:
            cohortgen=COHORTGEN,
            names=list(PRS_SCORES),
            targets=score_targets(PRS_SCORES, config["diseases"]),
            options=step_options("prs_evaluate"),
        shell:
            "{params.cohortgen} prs-evaluate --names {params.names} --scores {input.scores}"
            " --match-logs {input.match_logs} --targets {params.targets}"
            " --phenotypes {input.phenotypes:q} --keep {input.keep} --pcs {input.pcs}"
            " --options {params.options:q} --performance {output.performance}"
            " --deciles {output.deciles} 2> {log}"


INCOHORT_FOLDS = range(INCOHORT["folds"] + 1)  # fold 0: the all-sample LDpred2 refit


rule assign_incohort_folds:
    input:
        bed=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bed"),
        keep="results/{cohort}/qc/keep.txt",
        pcs="results/{cohort}/qc/pcs.tsv",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        related_pairs="results/{cohort}/qc/related_pairs.tsv",
    output:
        folds="results/{cohort}/prs/incohort/folds.tsv",
    log:
        "results/{cohort}/logs/assign_incohort_folds.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        cohort=incohort_cohort_args,
        options=step_options("prs_incohort_folds"),
    shell:
        "{params.cohortgen} prs-incohort-folds {params.cohort} --options {params.options:q}"
        " --related-pairs {input.related_pairs} --out {output.folds} 2> {log}"


rule build_incohort_fold:
    input:
        bed=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bed"),
        bim=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bim"),
        fam=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.fam"),
        variant_qc=chunk_files("results/{cohort}/chunks/{chunk}/variant_qc.tsv"),
        keep="results/{cohort}/qc/keep.txt",
        pcs="results/{cohort}/qc/pcs.tsv",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        folds="results/{cohort}/prs/incohort/folds.tsv",
        listed=INCOHORT.get("variants") or [],
        dosages=published_score_dosages,
        plan=incohort_plan,
    output:
        fold=intermediate("results/{cohort}/prs/incohort/fold{fold}.npz"),
    log:
        "results/{cohort}/logs/build_incohort_fold/{fold}.log",
    benchmark:
        "results/{cohort}/benchmarks/build_incohort_fold/{fold}.tsv"
    wildcard_constraints:
        fold=r"\d+",
    conda:
        "../../envs/cohortgen.yaml"
    # one thread: the fold uses about 1.1-1.6 of two cores (only the training GWAS and the
    # LDpred2 chains run in parallel), so two single-thread folds (or a fold and a chunk job)
    # keep both cores busy, and the held-out scores do not depend on the core count
    threads: 1
    resources:
        # genotypes are read a block at a time: memory is the training LD (per variant read:
        # listed, imputed or array) and a decoded block (per sample), cohortgen.prs.fold_memory
        mem_mb=incohort_fold_mem_mb,
        runtime=scaled(60, per_1000_samples=6),
    params:
        cohortgen=COHORTGEN,
        cohort=incohort_cohort_args,
        options=step_options("prs_incohort_fold"),
        pgens=incohort_dosage_args,
    shell:
        "{params.cohortgen} prs-incohort-fold {params.cohort} --variant-qc {input.variant_qc}"
        " --folds-tsv {input.folds} --fold {wildcards.fold} --options {params.options:q}"
        " --threads {threads} {params.pgens} --out {output.fold}"
        " 2> {log}"


rule evaluate_incohort_prs:
    input:
        bed=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bed"),
        variant_qc=chunk_files("results/{cohort}/chunks/{chunk}/variant_qc.tsv"),
        keep="results/{cohort}/qc/keep.txt",
        pcs="results/{cohort}/qc/pcs.tsv",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        folds="results/{cohort}/prs/incohort/folds.tsv",
        fold_files=expand(
            "results/{{cohort}}/prs/incohort/fold{fold}.npz", fold=INCOHORT_FOLDS[1:]
        ),
        refit="results/{cohort}/prs/incohort/fold0.npz",
        listed=INCOHORT.get("variants") or [],
        dosages=published_score_dosages,
    output:
        performance=disease_files(
            "results/{cohort}/prs/incohort/{disease}.performance.tsv"
        ),
        scores=disease_files("results/{cohort}/prs/incohort/{disease}.scores.tsv.gz"),
        scoring_files=disease_files(
            "results/{cohort}/prs/incohort/{disease}_ldpred2.txt.gz"
        ),
        gathered=report(
            "results/{cohort}/prs/incohort_performance.tsv",
            caption="../report/incohort_performance.rst",
            category="Polygenic scores",
            labels={"cohort": "{cohort}", "file": "in-cohort performance"},
        ),
    log:
        "results/{cohort}/logs/evaluate_incohort_prs.log",
    benchmark:
        "results/{cohort}/benchmarks/evaluate_incohort_prs.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        cohort=incohort_cohort_args,
        options=step_options("prs_incohort_evaluate"),
        out_dir=lambda wc: f"results/{wc.cohort}/prs/incohort",
        pgens=incohort_dosage_args,
    shell:
        "{params.cohortgen} prs-incohort-evaluate {params.cohort} --variant-qc {input.variant_qc}"
        " --folds-tsv {input.folds} --fold-files {input.fold_files}"
        " --refit-file {input.refit} {params.pgens} --options {params.options:q}"
        " --out-dir {params.out_dir} --performance {output.gathered} 2> {log}"
