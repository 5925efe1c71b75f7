# QC: per-chunk sample partial sums, pruned common set (gather), sample QC (gather), variant IDs
# repeated over chunks (gather), per-chunk variant QC on kept samples, QC'd genotype set
# (gather), QC funnel.


rule compute_variant_stats:
    input:
        bed="results/{cohort}/chunks/{chunk}/genotypes.bed",
        bim="results/{cohort}/chunks/{chunk}/genotypes.bim",
        fam="results/{cohort}/chunks/{chunk}/genotypes.fam",
        sex_partials="results/{cohort}/chunks/{chunk}/sex_partials.npz",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
    output:
        partials=intermediate("results/{cohort}/chunks/{chunk}/sample_partials.npz"),
    log:
        "results/{cohort}/logs/compute_variant_stats/{chunk}.log",
    benchmark:
        "results/{cohort}/benchmarks/compute_variant_stats/{chunk}.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 1
    resources:
        mem_mb=scaled(500, per_input_mb=4),
        runtime=scaled(10, per_1000_samples=1),
    params:
        cohortgen=COHORTGEN,
        prefix=subpath(input.bed, strip_suffix=".bed"),
        options=step_options("variant_stats"),
    shell:
        "{params.cohortgen} variant-stats --bfile {params.prefix} --phenotypes {input.phenotypes:q}"
        " --options {params.options:q} --sample-partials {output.partials}"
        " --sex-partials {input.sex_partials} 2> {log}"


rule select_pruned_set:
    input:
        bed=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bed"),
        partials=chunk_files("results/{cohort}/chunks/{chunk}/sample_partials.npz"),
        tallies=chunk_files("results/{cohort}/chunks/{chunk}/ingest.json"),
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
    output:
        bed="results/{cohort}/qc/pruned.bed",
        bim="results/{cohort}/qc/pruned.bim",
        fam="results/{cohort}/qc/pruned.fam",
        summary="results/{cohort}/qc/pruned.json",
    log:
        "results/{cohort}/logs/select_pruned_set.log",
    benchmark:
        "results/{cohort}/benchmarks/select_pruned_set.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 2
    resources:
        mem_mb=scaled(800, per_1000_samples=40),
        runtime=scaled(30, per_1000_samples=3),
    params:
        cohortgen=COHORTGEN,
        prefixes=lambda wc, input: [path.removesuffix(".bed") for path in input.bed],
        out_prefix=subpath(output.bed, strip_suffix=".bed"),
        options=step_options("prune_common"),
    shell:
        "{params.cohortgen} prune-common --bfiles {params.prefixes} --partials {input.partials}"
        " --tallies {input.tallies} --phenotypes {input.phenotypes:q}"
        " --options {params.options:q} --out-prefix {params.out_prefix}"
        " --out-json {output.summary} 2> {log}"


rule qc_samples:
    input:
        partials=chunk_files("results/{cohort}/chunks/{chunk}/sample_partials.npz"),
        fam=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.fam"),
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        pruned_bed="results/{cohort}/qc/pruned.bed",
        pruned_bim="results/{cohort}/qc/pruned.bim",
        pruned_fam="results/{cohort}/qc/pruned.fam",
    output:
        samples="results/{cohort}/qc/samples.tsv",
        keep="results/{cohort}/qc/keep.txt",
        pairs="results/{cohort}/qc/related_pairs.tsv",
        pcs="results/{cohort}/qc/pcs.tsv",
        pca="results/{cohort}/qc/pca.json",
    log:
        "results/{cohort}/logs/qc_samples.log",
    benchmark:
        "results/{cohort}/benchmarks/qc_samples.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 2
    resources:
        mem_mb=scaled(800, per_input_mb=2, per_1000_samples=60),
        runtime=scaled(30, per_1000_samples=3),
    params:
        cohortgen=COHORTGEN,
        pruned=subpath(input.pruned_bed, strip_suffix=".bed"),
        options=step_options("sample_qc"),
    shell:
        "{params.cohortgen} sample-qc --fam {input.fam[0]} --partials {input.partials}"
        " --phenotypes {input.phenotypes:q} --pruned {params.pruned}"
        " --options {params.options:q} --samples {output.samples}"
        " --keep {output.keep} --related-pairs {output.pairs} --pcs {output.pcs}"
        " --pca-json {output.pca} 2> {log}"


rule list_repeated_ids:
    input:
        bim=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bim"),
    output:
        repeated_ids="results/{cohort}/qc/repeated_ids.tsv",
    log:
        "results/{cohort}/logs/list_repeated_ids.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
    shell:
        "{params.cohortgen} repeated-ids --bims {input.bim} --out {output.repeated_ids} 2> {log}"


rule qc_variants_chunk:
    input:
        bed="results/{cohort}/chunks/{chunk}/genotypes.bed",
        bim="results/{cohort}/chunks/{chunk}/genotypes.bim",
        fam="results/{cohort}/chunks/{chunk}/genotypes.fam",
        keep="results/{cohort}/qc/keep.txt",
        repeated_ids="results/{cohort}/qc/repeated_ids.tsv",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        samples="results/{cohort}/qc/samples.tsv",
    output:
        table="results/{cohort}/chunks/{chunk}/variant_qc.tsv",
    log:
        "results/{cohort}/logs/qc_variants_chunk/{chunk}.log",
    benchmark:
        "results/{cohort}/benchmarks/qc_variants_chunk/{chunk}.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 1
    resources:
        mem_mb=scaled(500, per_input_mb=4),
        runtime=scaled(10, per_1000_samples=1),
    params:
        cohortgen=COHORTGEN,
        prefix=subpath(input.bed, strip_suffix=".bed"),
        options=step_options("variant_qc"),
    shell:
        "{params.cohortgen} variant-qc --bfile {params.prefix} --keep {input.keep}"
        " --phenotypes {input.phenotypes:q} --options {params.options:q}"
        " --repeated-ids {input.repeated_ids} --out {output.table}"
        " --samples {input.samples} 2> {log}"


rule write_qc_genotypes:
    input:
        bed=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bed"),
        variant_qc=chunk_files("results/{cohort}/chunks/{chunk}/variant_qc.tsv"),
        keep="results/{cohort}/qc/keep.txt",
    output:
        bed="results/{cohort}/qc/genotypes.bed",
        bim="results/{cohort}/qc/genotypes.bim",
        fam="results/{cohort}/qc/genotypes.fam",
    log:
        "results/{cohort}/logs/write_qc_genotypes.log",
    benchmark:
        "results/{cohort}/benchmarks/write_qc_genotypes.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 1
    resources:
        mem_mb=scaled(500, per_1000_samples=20),
        runtime=scaled(30, per_1000_samples=3),
    params:
        cohortgen=COHORTGEN,
        prefixes=lambda wc, input: [path.removesuffix(".bed") for path in input.bed],
        out_prefix=subpath(output.bed, strip_suffix=".bed"),
    shell:
        "{params.cohortgen} qc-genotypes --bfiles {params.prefixes} --variant-qc {input.variant_qc}"
        " --keep {input.keep} --out-prefix {params.out_prefix} 2> {log}"


rule summarize_qc:
    input:
        tallies=chunk_files("results/{cohort}/chunks/{chunk}/ingest.json"),
        samples="results/{cohort}/qc/samples.tsv",
        pairs="results/{cohort}/qc/related_pairs.tsv",
        variant_qc=chunk_files("results/{cohort}/chunks/{chunk}/variant_qc.tsv"),
        genotypes_bed="results/{cohort}/qc/genotypes.bed",
        genotypes_bim="results/{cohort}/qc/genotypes.bim",
        genotypes_fam="results/{cohort}/qc/genotypes.fam",
        imputed=imputed_summary,
    output:
        summary="results/{cohort}/qc/summary.json",
        variants="results/{cohort}/qc/variants.tsv.gz",
    log:
        "results/{cohort}/logs/summarize_qc.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        genotypes=subpath(input.genotypes_bed, strip_suffix=".bed"),
        imputed=lambda wc, input: (
            f"--imputed-summary {input.imputed[0]}" if input.imputed else ""
        ),
        options=step_options("qc_summary"),
    shell:
        "{params.cohortgen} qc-summary --tallies {input.tallies} --samples {input.samples}"
        " --related-pairs {input.pairs} --variant-qc {input.variant_qc}"
        " --genotypes {params.genotypes} --summary {output.summary}"
        " --variants {output.variants} --options {params.options:q} {params.imputed}"
        " 2> {log}"
