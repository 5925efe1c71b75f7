# Whole-genome regression (step 1, REGENIE's scheme) on the QC'd array genotypes: one job per
# cohort for all diseases and traits at once; LOCO predictions (private) and a fit summary.


rule fit_whole_genome_regression:
    input:
        bed="results/{cohort}/qc/genotypes.bed",
        bim="results/{cohort}/qc/genotypes.bim",
        fam="results/{cohort}/qc/genotypes.fam",
        keep="results/{cohort}/qc/keep.txt",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        pcs="results/{cohort}/qc/pcs.tsv",
    output:
        loco="results/{cohort}/wgr/loco.tsv.gz",
        summary="results/{cohort}/wgr/wgr.json",
    log:
        "results/{cohort}/logs/fit_whole_genome_regression.log",
    benchmark:
        "results/{cohort}/benchmarks/fit_whole_genome_regression.tsv"
    # first when both cores are free: step 1 is on the association's critical path, the
    # in-cohort PRS fold jobs are not
    priority: 10
    conda:
        "../../envs/cohortgen.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        cohortgen=COHORTGEN,
        prefix=subpath(input.bed, strip_suffix=".bed"),
        options=step_options("wgr_step1"),
    shell:
        "{params.cohortgen} wgr-step1 --bfile {params.prefix} --keep {input.keep}"
        " --phenotypes {input.phenotypes:q} --pcs {input.pcs} --options {params.options:q}"
        " --loco {output.loco} --summary {output.summary} --threads {threads} 2> {log}"
