# PRS: published scores (PGS Catalog) matched to each cohort, scored in one pass, evaluated;
# in-cohort scores (C+T, LDpred2-auto) cross-validated per disease.

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
            keep="results/{cohort}/qc/keep.txt",
            pcs="results/{cohort}/qc/pcs.tsv",
            score_files=[score_file(entry) for entry in PRS_SCORES.values()],
        output:
            scores=expand("results/{{cohort}}/prs/scores/{score}.tsv.gz", score=PRS_SCORES),
            match_logs=expand("results/{{cohort}}/prs/match/{score}.json", score=PRS_SCORES),
        params:
            prefixes=lambda wc, input: [path.removesuffix(".bed") for path in input.bed],
            names=list(PRS_SCORES),
            genome_build=config["genome_build"],
            min_overlap=config["prs"]["min_overlap"],
            keep_ambiguous="--keep-ambiguous" if config["prs"]["keep_ambiguous"] else "",
            out_dir=lambda wc: f"results/{wc.cohort}/prs",
        conda:
            "../../envs/cohortgen.yaml"
        log:
            "results/{cohort}/logs/score_published_prs.log",
        benchmark:
            "results/{cohort}/benchmarks/score_published_prs.tsv"
        threads: 2
        resources:
            mem_mb=4000,
            runtime=60,
        shell:
            "cohortgen prs-score --names {params.names} --files {input.score_files:q}"
            " --bfiles {params.prefixes} --variant-qc {input.variant_qc} --keep {input.keep}"
            " --pcs {input.pcs} --genome-build {params.genome_build}"
            " --min-overlap {params.min_overlap} {params.keep_ambiguous}"
            " --out-dir {params.out_dir} 2> {log}"


    rule evaluate_published_prs:
        input:
            scores=expand("results/{{cohort}}/prs/scores/{score}.tsv.gz", score=PRS_SCORES),
            match_logs=expand("results/{{cohort}}/prs/match/{score}.json", score=PRS_SCORES),
            phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
            keep="results/{cohort}/qc/keep.txt",
            pcs="results/{cohort}/qc/pcs.tsv",
        output:
            performance="results/{cohort}/prs/performance.tsv",
            deciles="results/{cohort}/prs/deciles.tsv",
        params:
            names=list(PRS_SCORES),
            targets=score_targets(PRS_SCORES, config["diseases"]),
            covariates=config["covariates"],
            prevalence=[f"{d}={k}" for d, k in config["prs"]["prevalence"].items()],
            min_cell_count=config["report"]["min_cell_count"],
        conda:
            "../../envs/cohortgen.yaml"
        log:
            "results/{cohort}/logs/evaluate_published_prs.log",
        benchmark:
            "results/{cohort}/benchmarks/evaluate_published_prs.tsv"
        shell:
            "cohortgen prs-evaluate --names {params.names} --scores {input.scores}"
            " --match-logs {input.match_logs} --targets {params.targets}"
            " --phenotypes {input.phenotypes:q} --keep {input.keep} --pcs {input.pcs}"
            " --covariates {params.covariates} --prevalence {params.prevalence}"
            " --min-cell-count {params.min_cell_count} --performance {output.performance}"
            " --deciles {output.deciles} 2> {log}"


rule build_incohort_prs:
    input:
        bed=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bed"),
        bim=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bim"),
        fam=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.fam"),
        variant_qc=chunk_files("results/{cohort}/chunks/{chunk}/variant_qc.tsv"),
        keep="results/{cohort}/qc/keep.txt",
        pcs="results/{cohort}/qc/pcs.tsv",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
    output:
        performance="results/{cohort}/prs/incohort/{disease}.performance.tsv",
        scores="results/{cohort}/prs/incohort/{disease}.scores.tsv.gz",
        scoring_file="results/{cohort}/prs/incohort/{disease}_ldpred2.txt.gz",
    params:
        prefixes=lambda wc, input: [path.removesuffix(".bed") for path in input.bed],
        covariates=config["covariates"],
        genome_build=config["genome_build"],
        prevalence=lambda wc: (
            f"--prevalence {config['prs']['prevalence'][wc.disease]}"
            if wc.disease in config["prs"]["prevalence"]
            else ""
        ),
        min_cases=config["assoc"]["min_cases"],
        min_cell_count=config["report"]["min_cell_count"],
        seed=config["seed"],
        folds=INCOHORT["folds"],
        min_maf=INCOHORT["min_maf"],
        r2_grid=INCOHORT["ct"]["r2_grid"],
        p_thresholds=INCOHORT["ct"]["p_thresholds"],
        n_chains=INCOHORT["ldpred2"]["n_chains"],
        burn_in=INCOHORT["ldpred2"]["burn_in"],
        num_iter=INCOHORT["ldpred2"]["num_iter"],
        out_dir=lambda wc: f"results/{wc.cohort}/prs/incohort",
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/build_incohort_prs/{disease}.log",
    benchmark:
        "results/{cohort}/benchmarks/build_incohort_prs/{disease}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    shell:
        "cohortgen prs-incohort --disease {wildcards.disease} --bfiles {params.prefixes}"
        " --variant-qc {input.variant_qc} --keep {input.keep} --pcs {input.pcs}"
        " --phenotypes {input.phenotypes:q} --covariates {params.covariates}"
        " --genome-build {params.genome_build} {params.prevalence}"
        " --min-cases {params.min_cases} --min-cell-count {params.min_cell_count}"
        " --seed {params.seed} --folds {params.folds} --min-maf {params.min_maf}"
        " --r2-grid {params.r2_grid} --p-thresholds {params.p_thresholds}"
        " --n-chains {params.n_chains} --burn-in {params.burn_in} --num-iter {params.num_iter}"
        " --threads {threads} --out-dir {params.out_dir} 2> {log}"


rule gather_incohort_prs:
    input:
        tables=disease_files("results/{cohort}/prs/incohort/{disease}.performance.tsv"),
    output:
        performance="results/{cohort}/prs/incohort_performance.tsv",
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/gather_incohort_prs.log",
    shell:
        "cohortgen prs-gather-incohort --tables {input.tables} --out {output.performance}"
        " 2> {log}"
