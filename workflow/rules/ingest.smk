# Ingest: validate inputs, plan chunks from the index, convert each chunk to PLINK .bed.

# Variants per array chunk: a chunk job's memory grows with it (a resource, not a setting).
CHUNK_VARIANTS = config["chunks"]["variants_per_chunk"]


rule checksum_imputed_file:
    input:
        file=lambda wc: imputed_files(wc)[int(wc.index)],
    output:
        record="results/{cohort}/input/imputed/{index}.json",
    log:
        "results/{cohort}/logs/checksum_imputed_file/{index}.log",
    benchmark:
        "results/{cohort}/benchmarks/checksum_imputed_file/{index}.tsv"
    wildcard_constraints:
        index=r"\d+",
    conda:
        "../../envs/cohortgen.yaml"
    # one job per imputed file (and index): a cluster reads them in parallel, and a changed
    # file is hashed again alone; SHA-256 hashes ~1.3 GB per CPU s, so a job waits on its read
    threads: 1
    resources:
        mem_mb=300,
        runtime=scaled(5, per_input_mb=1 / 6000),
    params:
        cohortgen=COHORTGEN,
    shell:
        "{params.cohortgen} checksum --file {input.file:q} --out {output.record} 2> {log}"


rule validate_inputs:
    input:
        genotypes=genotype_files,
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        imputed=imputed_checksum_records,
    output:
        manifest="results/{cohort}/input/manifest.json",
    log:
        "results/{cohort}/logs/validate_inputs.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        genotypes=lambda wc: cohort_input(wc, "genotypes"),
        options=step_options("validate"),
        imputed=lambda wc, input: (
            f"--imputed-checksums {shlex.join(input.imputed)}" if input.imputed else ""
        ),
    shell:
        "{params.cohortgen} validate --genotypes {params.genotypes:q} --phenotypes {input.phenotypes:q}"
        " --options {params.options:q} --manifest {output.manifest} {params.imputed} 2> {log}"


checkpoint plan_chunks:
    input:
        manifest="results/{cohort}/input/manifest.json",
        index=genotype_index,
    output:
        plan="results/{cohort}/chunks/plan.tsv",
    log:
        "results/{cohort}/logs/plan_chunks.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        genotypes=lambda wc: cohort_input(wc, "genotypes"),
        options=step_options("plan"),
    shell:
        "{params.cohortgen} plan --genotypes {params.genotypes:q}"
        " --options {params.options:q} --out {output.plan} 2> {log}"


rule ingest_chunk:
    input:
        plan="results/{cohort}/chunks/plan.tsv",
        genotypes=genotype_files,
        index=genotype_index,
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
    output:
        bed="results/{cohort}/chunks/{chunk}/genotypes.bed",
        bim="results/{cohort}/chunks/{chunk}/genotypes.bim",
        fam="results/{cohort}/chunks/{chunk}/genotypes.fam",
        tally="results/{cohort}/chunks/{chunk}/ingest.json",
        sex_partials="results/{cohort}/chunks/{chunk}/sex_partials.npz",
    log:
        "results/{cohort}/logs/ingest_chunk/{chunk}.log",
    benchmark:
        "results/{cohort}/benchmarks/ingest_chunk/{chunk}.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 1
    resources:
        mem_mb=scaled(500, per_1000_samples=CHUNK_VARIANTS / 400),
        runtime=scaled(10, per_1000_samples=1),
    params:
        cohortgen=COHORTGEN,
        genotypes=lambda wc: cohort_input(wc, "genotypes"),
        prefix=subpath(output.bed, strip_suffix=".bed"),
        options=step_options("ingest"),
    shell:
        "{params.cohortgen} ingest --genotypes {params.genotypes:q} --plan {input.plan}"
        " --chunk {wildcards.chunk} --out-prefix {params.prefix} --tally {output.tally}"
        " --phenotypes {input.phenotypes:q} --options {params.options:q}"
        " --sex-partials {output.sex_partials}"
        " --threads {threads} 2> {log}"
