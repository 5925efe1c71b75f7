# QC: per-chunk variant stats, sample QC (gather), per-chunk variant QC, QC funnel.


rule compute_variant_stats:
    input:
        bed="results/{cohort}/chunks/{chunk}/genotypes.bed",
        bim="results/{cohort}/chunks/{chunk}/genotypes.bim",
        fam="results/{cohort}/chunks/{chunk}/genotypes.fam",
    output:
        variants="results/{cohort}/chunks/{chunk}/variant_stats.tsv",
        partials="results/{cohort}/chunks/{chunk}/sample_partials.npy",
    params:
        prefix=subpath(input.bed, strip_suffix=".bed"),
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/compute_variant_stats/{chunk}.log",
    benchmark:
        "results/{cohort}/benchmarks/compute_variant_stats/{chunk}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "cohortgen variant-stats --bfile {params.prefix} --variants {output.variants}"
        " --sample-partials {output.partials} 2> {log}"


rule qc_samples:
    input:
        partials=chunk_files("results/{cohort}/chunks/{chunk}/sample_partials.npy"),
        fam=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.fam"),
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
    output:
        samples="results/{cohort}/qc/samples.tsv",
        keep="results/{cohort}/qc/keep.txt",
    params:
        diseases=config["diseases"],
        covariates=config["covariates"],
        min_call_rate=config["qc"]["sample_call_rate"],
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/qc_samples.log",
    benchmark:
        "results/{cohort}/benchmarks/qc_samples.tsv"
    shell:
        "cohortgen sample-qc --fam {input.fam[0]} --partials {input.partials}"
        " --phenotypes {input.phenotypes:q} --diseases {params.diseases}"
        " --covariates {params.covariates} --min-call-rate {params.min_call_rate}"
        " --samples {output.samples} --keep {output.keep} 2> {log}"


rule qc_variants_chunk:
    input:
        bed="results/{cohort}/chunks/{chunk}/genotypes.bed",
        bim="results/{cohort}/chunks/{chunk}/genotypes.bim",
        fam="results/{cohort}/chunks/{chunk}/genotypes.fam",
        keep="results/{cohort}/qc/keep.txt",
    output:
        table="results/{cohort}/chunks/{chunk}/variant_qc.tsv",
    params:
        prefix=subpath(input.bed, strip_suffix=".bed"),
        min_call_rate=config["qc"]["variant_call_rate"],
        min_maf=config["qc"]["maf"],
        min_hwe_midp=config["qc"]["hwe_midp"],
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/qc_variants_chunk/{chunk}.log",
    benchmark:
        "results/{cohort}/benchmarks/qc_variants_chunk/{chunk}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        "cohortgen variant-qc --bfile {params.prefix} --keep {input.keep}"
        " --min-call-rate {params.min_call_rate} --min-maf {params.min_maf}"
        " --min-hwe-midp {params.min_hwe_midp} --out {output.table} 2> {log}"


rule compute_pcs:
    input:
        bed=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bed"),
        variant_qc=chunk_files("results/{cohort}/chunks/{chunk}/variant_qc.tsv"),
        keep="results/{cohort}/qc/keep.txt",
    output:
        pcs="results/{cohort}/qc/pcs.tsv",
        summary="results/{cohort}/qc/pca.json",
    params:
        prefixes=lambda wc, input: [path.removesuffix(".bed") for path in input.bed],
        pca=config["pca"],
        genome_build=config["genome_build"],
        seed=config["seed"],
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/compute_pcs.log",
    benchmark:
        "results/{cohort}/benchmarks/compute_pcs.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "cohortgen pca --bfiles {params.prefixes} --variant-qc {input.variant_qc}"
        " --keep {input.keep} --n-pcs {params.pca[n_pcs]} --min-maf {params.pca[min_maf]}"
        " --ld-window {params.pca[ld_window]} --ld-step {params.pca[ld_step]}"
        " --ld-r2 {params.pca[ld_r2]} --seed {params.seed}"
        " --genome-build {params.genome_build} --out-pcs {output.pcs}"
        " --out-json {output.summary} 2> {log}"


rule summarize_qc:
    input:
        tallies=chunk_files("results/{cohort}/chunks/{chunk}/ingest.json"),
        samples="results/{cohort}/qc/samples.tsv",
        variant_qc=chunk_files("results/{cohort}/chunks/{chunk}/variant_qc.tsv"),
    output:
        summary="results/{cohort}/qc/summary.json",
        variants="results/{cohort}/qc/variants.tsv.gz",
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/summarize_qc.log",
    shell:
        "cohortgen qc-summary --tallies {input.tallies} --samples {input.samples}"
        " --variant-qc {input.variant_qc} --summary {output.summary}"
        " --variants {output.variants} 2> {log}"
