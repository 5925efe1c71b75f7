# Report: provenance record and the self-contained HTML report.


rule write_provenance:
    input:
        manifest="results/{cohort}/input/manifest.json",
    output:
        provenance="results/{cohort}/provenance.json",
    params:
        cohortgen=COHORTGEN,
        options=config_json(),
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/write_provenance.log",
    shell:
        "{params.cohortgen} provenance --options {params.options:q}"
        " --manifest {input.manifest} --out {output.provenance} 2> {log}"


rule render_report:
    input:
        qc_summary="results/{cohort}/qc/summary.json",
        gwas_summary="results/{cohort}/gwas/summary.tsv",
        sumstats=expand("results/{{cohort}}/gwas/{trait}.tsv.gz", trait=ASSOC_TRAITS),
        loci=expand("results/{{cohort}}/gwas/{trait}.loci.tsv", trait=ASSOC_TRAITS),
        prs=prs_performance_files,
        provenance="results/{cohort}/provenance.json",
    output:
        html=report(
            "results/{cohort}/report/index.html",
            caption="../report/index.rst",
            category="Report",
            labels={"cohort": "{cohort}", "file": "HTML report"},
        ),
    params:
        cohortgen=COHORTGEN,
        options=step_options("report"),
    conda:
        "../../envs/cohortgen.yaml"
    log:
        "results/{cohort}/logs/render_report.log",
    benchmark:
        "results/{cohort}/benchmarks/render_report.tsv"
    shell:
        "{params.cohortgen} report --cohort {wildcards.cohort} --qc-summary {input.qc_summary}"
        " --gwas-summary {input.gwas_summary} --gwas {input.sumstats} --loci {input.loci}"
        " --prs-performance {input.prs}"
        " --provenance {input.provenance} --options {params.options:q}"
        " --out {output.html} 2> {log}"
