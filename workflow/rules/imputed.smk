# Imputed dosages (cohorts with `imputed`): check the files and plan their chunks, QC'd dosages
# of the QC-kept samples per chunk, the imputed-variant QC gathered, association per dosage
# chunk (gather_gwas and find_loci in assoc.smk then read these chunks).


checkpoint plan_imputed_chunks:
    input:
        manifest="results/{cohort}/input/manifest.json",
        genotypes=genotype_files,
        genotype_index=genotype_index,
        imputed=imputed_files,
    output:
        plan="results/{cohort}/imputed/plan.tsv",
    log:
        "results/{cohort}/logs/plan_imputed_chunks.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        imputed=imputed_inputs,
        genotypes=lambda wc: cohort_input(wc, "genotypes"),
        options=step_options("plan_imputed"),
    shell:
        "{params.cohortgen} plan-imputed --imputed {params.imputed:q}"
        " --genotypes {params.genotypes:q} --options {params.options:q}"
        " --out {output.plan} 2> {log}"


rule ingest_imputed_chunk:
    input:
        plan="results/{cohort}/imputed/plan.tsv",
        imputed=imputed_files,
        keep="results/{cohort}/qc/keep.txt",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
    output:
        pgen="results/{cohort}/imputed/{chunk}/dosages.pgen",
        pvar="results/{cohort}/imputed/{chunk}/dosages.pvar",
        psam="results/{cohort}/imputed/{chunk}/dosages.psam",
        variants="results/{cohort}/imputed/{chunk}/dosages.variants.tsv",
        summary="results/{cohort}/imputed/{chunk}/dosages.json",
    log:
        "results/{cohort}/logs/ingest_imputed_chunk/{chunk}.log",
    benchmark:
        "results/{cohort}/benchmarks/ingest_imputed_chunk/{chunk}.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cohortgen=COHORTGEN,
        prefix=subpath(output.pgen, strip_suffix=".pgen"),
        options=step_options("ingest_dosages"),
    shell:
        "{params.cohortgen} ingest-dosages --plan {input.plan} --chunk {wildcards.chunk}"
        " --keep {input.keep} --phenotypes {input.phenotypes:q}"
        " --options {params.options:q} --out-prefix {params.prefix} 2> {log}"


rule summarize_imputed_qc:
    input:
        tables=imputed_chunk_files(
            "results/{cohort}/imputed/{chunk}/dosages.variants.tsv"
        ),
        summaries=imputed_chunk_files("results/{cohort}/imputed/{chunk}/dosages.json"),
    output:
        table="results/{cohort}/qc/imputed_variants.tsv.gz",
        summary="results/{cohort}/qc/imputed_summary.json",
    log:
        "results/{cohort}/logs/summarize_imputed_qc.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
    shell:
        "{params.cohortgen} imputed-qc-summary --tables {input.tables}"
        " --summaries {input.summaries} --out-table {output.table}"
        " --out-summary {output.summary} 2> {log}"


rule test_association_imputed_chunk:
    input:
        pgen="results/{cohort}/imputed/{chunk}/dosages.pgen",
        pvar="results/{cohort}/imputed/{chunk}/dosages.pvar",
        psam="results/{cohort}/imputed/{chunk}/dosages.psam",
        null_table="results/{cohort}/assoc/null_model.tsv",
        null_summary="results/{cohort}/assoc/null_model.json",
        loco_null=wgr_input("results/{cohort}/assoc/loco_null.npz"),
    output:
        results=[
            intermediate(path)
            for path in expand(
                "results/{{cohort}}/imputed/{{chunk}}/assoc/{trait}.columns",
                trait=ASSOC_TRAITS,
            )
        ],
    log:
        "results/{cohort}/logs/test_association_imputed_chunk/{chunk}.log",
    benchmark:
        "results/{cohort}/benchmarks/test_association_imputed_chunk/{chunk}.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cohortgen=COHORTGEN,
        out_dir=lambda wc: f"results/{wc.cohort}/imputed/{wc.chunk}/assoc",
        prefix=subpath(input.pgen, strip_suffix=".pgen"),
        options=step_options("assoc"),
        loco=wgr_arg("--loco-null", "loco_null"),
    shell:
        "{params.cohortgen} assoc --pfile {params.prefix} --null-table {input.null_table}"
        " --null-json {input.null_summary} --options {params.options:q}{params.loco}"
        " --out-dir {params.out_dir} 2> {log}"
