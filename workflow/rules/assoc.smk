# Association: null model per trait (once), score tests with Firth fallback (or SPA; t-tests
# for quantitative traits) per chunk, one table per chunk and trait, GWAS-SSF, lead loci (LD
# clumping) and a summary per disease and trait.

ASSOC_TRAITS = config["diseases"] + list(config["traits"])


rule fit_null_models:
    input:
        fam=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.fam"),
        bim=chunk_files("results/{cohort}/chunks/{chunk}/genotypes.bim"),
        keep="results/{cohort}/qc/keep.txt",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        pcs="results/{cohort}/qc/pcs.tsv",
        imputed_plan=lambda wc: (
            ["results/{cohort}/imputed/plan.tsv"] if has_imputed(wc) else []
        ),
    output:
        table="results/{cohort}/assoc/null_model.tsv",
        summary="results/{cohort}/assoc/null_model.json",
    log:
        "results/{cohort}/logs/fit_null_models.log",
    benchmark:
        "results/{cohort}/benchmarks/fit_null_models.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        options=step_options("null_model"),
        imputed_plan=lambda wc, input: (
            f" --imputed-plan {input.imputed_plan}" if input.imputed_plan else ""
        ),
    shell:
        "{params.cohortgen} null-model --fam {input.fam[0]} --keep {input.keep}"
        " --phenotypes {input.phenotypes:q} --options {params.options:q} --bims {input.bim}"
        "{params.imputed_plan} --pcs {input.pcs} --out-table {output.table}"
        " --out-json {output.summary} 2> {log}"


# Step 2 of the whole-genome regression: every tested trait's null model refitted with each
# chromosome's LOCO prediction as offset, once per cohort (private); each chunk reads its own.
rule fit_loco_null_models:
    input:
        null_table="results/{cohort}/assoc/null_model.tsv",
        null_summary="results/{cohort}/assoc/null_model.json",
        loco="results/{cohort}/wgr/loco.tsv.gz",
    output:
        nulls="results/{cohort}/assoc/loco_null.npz",
    log:
        "results/{cohort}/logs/fit_loco_null_models.log",
    benchmark:
        "results/{cohort}/benchmarks/fit_loco_null_models.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 1
    resources:
        mem_mb=scaled(1000, per_1000_samples=20),
        runtime=scaled(10, per_1000_samples=1),
    params:
        cohortgen=COHORTGEN,
    shell:
        "{params.cohortgen} loco-null --null-table {input.null_table}"
        " --null-json {input.null_summary} --loco {input.loco} --out {output.nulls} 2> {log}"


rule test_association_chunk:
    input:
        bed="results/{cohort}/chunks/{chunk}/genotypes.bed",
        bim="results/{cohort}/chunks/{chunk}/genotypes.bim",
        fam="results/{cohort}/chunks/{chunk}/genotypes.fam",
        null_table="results/{cohort}/assoc/null_model.tsv",
        null_summary="results/{cohort}/assoc/null_model.json",
        variant_qc="results/{cohort}/chunks/{chunk}/variant_qc.tsv",
        loco_null=wgr_input("results/{cohort}/assoc/loco_null.npz"),
    output:
        results=[
            intermediate(path)
            for path in expand(
                "results/{{cohort}}/chunks/{{chunk}}/assoc/{trait}.columns",
                trait=ASSOC_TRAITS,
            )
        ],
    log:
        "results/{cohort}/logs/test_association_chunk/{chunk}.log",
    benchmark:
        "results/{cohort}/benchmarks/test_association_chunk/{chunk}.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    threads: 1
    resources:
        mem_mb=scaled(500, per_input_mb=4, per_1000_samples=10),
        runtime=scaled(10, per_1000_samples=1),
    params:
        cohortgen=COHORTGEN,
        out_dir=lambda wc: f"results/{wc.cohort}/chunks/{wc.chunk}/assoc",
        prefix=subpath(input.bed, strip_suffix=".bed"),
        options=step_options("assoc"),
        loco=wgr_arg("--loco-null", "loco_null"),
    shell:
        "{params.cohortgen} assoc --bfile {params.prefix} --null-table {input.null_table}"
        " --null-json {input.null_summary} --variant-qc {input.variant_qc}"
        " --options {params.options:q}{params.loco}"
        " --out-dir {params.out_dir} 2> {log}"


rule gather_gwas:
    input:
        chunks=lambda wc: tested_chunk_files(
            f"results/{{cohort}}/{{chunks}}/{{chunk}}/assoc/{wc.disease}.columns"
        )(wc),
        null_summary="results/{cohort}/assoc/null_model.json",
        wgr=wgr_input("results/{cohort}/wgr/wgr.json"),
        samples="results/{cohort}/qc/samples.tsv",
    output:
        sumstats="results/{cohort}/gwas/{disease}.tsv.gz",
        index="results/{cohort}/gwas/{disease}.tsv.gz.tbi",
        meta="results/{cohort}/gwas/{disease}.tsv.gz-meta.yaml",
        untested="results/{cohort}/gwas/{disease}.untested.tsv.gz",
    log:
        "results/{cohort}/logs/gather_gwas/{disease}.log",
    benchmark:
        "results/{cohort}/benchmarks/gather_gwas/{disease}.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        options=step_options("gather_gwas"),
        wgr=wgr_arg("--wgr-summary", "wgr"),
    shell:
        "{params.cohortgen} gather-gwas --disease {wildcards.disease} --chunks {input.chunks}"
        " --null-json {input.null_summary} --options {params.options:q}{params.wgr}"
        " --samples {input.samples} --out {output.sumstats} 2> {log}"


rule find_loci:
    input:
        sumstats="results/{cohort}/gwas/{disease}.tsv.gz",
        genotypes=loci_genotype_files,
        null_table="results/{cohort}/assoc/null_model.tsv",
    output:
        loci=report(
            "results/{cohort}/gwas/{disease}.loci.tsv",
            caption="../report/loci.rst",
            category="Association",
            labels={"cohort": "{cohort}", "file": "{disease} lead loci"},
        ),
    log:
        "results/{cohort}/logs/find_loci/{disease}.log",
    benchmark:
        "results/{cohort}/benchmarks/find_loci/{disease}.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    resources:
        mem_mb=scaled(500, per_1000_samples=20),
        runtime=scaled(10, per_1000_samples=1),
    params:
        cohortgen=COHORTGEN,
        files_flag=lambda wc: "--pfiles" if has_imputed(wc) else "--bfiles",
        prefixes=lambda wc, input: [
            f.rsplit(".", 1)[0]
            for f in input.genotypes
            if f.endswith((".bed", ".pgen"))
        ],
        options=step_options("find_loci"),
    shell:
        "{params.cohortgen} find-loci --disease {wildcards.disease} --gwas {input.sumstats}"
        " {params.files_flag} {params.prefixes} --null-table {input.null_table}"
        " --options {params.options:q}"
        " --out {output.loci} 2> {log}"


rule summarize_gwas:
    input:
        sumstats=expand("results/{{cohort}}/gwas/{trait}.tsv.gz", trait=ASSOC_TRAITS),
        loci=expand("results/{{cohort}}/gwas/{trait}.loci.tsv", trait=ASSOC_TRAITS),
        null_summary="results/{cohort}/assoc/null_model.json",
        wgr=wgr_input("results/{cohort}/wgr/wgr.json"),
    output:
        summary=report(
            "results/{cohort}/gwas/summary.tsv",
            caption="../report/gwas_summary.rst",
            category="Association",
            labels={"cohort": "{cohort}", "file": "GWAS summary"},
        ),
    log:
        "results/{cohort}/logs/summarize_gwas.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        options=step_options("gwas_summary"),
        wgr=wgr_arg("--wgr-summary", "wgr"),
    shell:
        "{params.cohortgen} gwas-summary --options {params.options:q}{params.wgr}"
        " --gwas {input.sumstats}"
        " --loci {input.loci} --null-json {input.null_summary} --out {output.summary} 2> {log}"
