# Report: provenance record and the self-contained HTML report.

REPORT_GENES = [config["report"]["genes"]] if config["report"]["genes"] else []


rule write_provenance:
    input:
        manifest="results/{cohort}/input/manifest.json",
    output:
        provenance="results/{cohort}/provenance.json",
        shareable=report(
            "results/{cohort}/report/provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"cohort": "{cohort}", "file": "provenance"},
        ),
    log:
        "results/{cohort}/logs/write_provenance.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        options=config_json(),
    shell:
        "{params.cohortgen} provenance --options {params.options:q}"
        " --manifest {input.manifest} --out {output.provenance}"
        " --shareable-out {output.shareable} 2> {log}"


rule render_report:
    input:
        qc_summary="results/{cohort}/qc/summary.json",
        pcs="results/{cohort}/qc/pcs.tsv",
        samples="results/{cohort}/qc/samples.tsv",
        phenotypes=lambda wc: cohort_input(wc, "phenotypes"),
        genes=REPORT_GENES,
        gwas_summary="results/{cohort}/gwas/summary.tsv",
        sumstats=expand("results/{{cohort}}/gwas/{trait}.tsv.gz", trait=ASSOC_TRAITS),
        meta=expand(
            "results/{{cohort}}/gwas/{trait}.tsv.gz-meta.yaml", trait=ASSOC_TRAITS
        ),
        loci=expand("results/{{cohort}}/gwas/{trait}.loci.tsv", trait=ASSOC_TRAITS),
        untested=expand(
            "results/{{cohort}}/gwas/{trait}.untested.tsv.gz", trait=ASSOC_TRAITS
        ),
        prs=prs_performance_files,
        match=expand(
            "results/{{cohort}}/prs/match/{score}.json", score=config["prs"]["scores"]
        ),
        deciles=lambda wc: (
            [f"results/{wc.cohort}/prs/deciles.tsv"] if config["prs"]["scores"] else []
        ),
        provenance="results/{cohort}/provenance.json",
        wgr=wgr_input("results/{cohort}/wgr/wgr.json"),
    output:
        html=report(
            "results/{cohort}/report/index.html",
            caption="../report/index.rst",
            category="Report",
            labels={"cohort": "{cohort}", "file": "HTML report"},
        ),
        pages=[
            report(
                f"results/{{cohort}}/report/index.{lang}.html",
                caption="../report/index.rst",
                category="Report",
                labels={"cohort": "{cohort}", "file": f"HTML report, {lang}"},
            )
            for lang in config["report"]["languages"]
        ],
    log:
        "results/{cohort}/logs/render_report.log",
    benchmark:
        "results/{cohort}/benchmarks/render_report.tsv"
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        options=step_options("report"),
        wgr=wgr_arg("--wgr-summary", "wgr"),
    shell:
        "{params.cohortgen} report --cohort {wildcards.cohort} --qc-summary {input.qc_summary}"
        " --gwas-summary {input.gwas_summary} --gwas {input.sumstats} --loci {input.loci}"
        " --prs-performance {input.prs} --prs-deciles {input.deciles}"
        " --prs-match {input.match} --pcs {input.pcs}"
        " --samples {input.samples} --phenotypes {input.phenotypes:q}"
        " --provenance {input.provenance} --options {params.options:q}{params.wgr}"
        " --out {output.html} 2> {log}"


rule render_cohort_index:
    input:
        summaries=expand("results/{cohort}/gwas/summary.tsv", cohort=config["cohorts"]),
    output:
        html=report(
            "results/report/index.html",
            caption="../report/cohort_index.rst",
            category="Report",
            labels={"cohort": "all", "file": "cohort index"},
        ),
        pages=[
            report(
                f"results/report/index.{lang}.html",
                caption="../report/cohort_index.rst",
                category="Report",
                labels={"cohort": "all", "file": f"cohort index, {lang}"},
            )
            for lang in config["report"]["languages"]
        ],
    log:
        "results/report/logs/render_cohort_index.log",
    conda:
        "../../envs/cohortgen.yaml"
    params:
        cohortgen=COHORTGEN,
        cohorts=list(config["cohorts"]),
        options=step_options("report_index"),
    shell:
        "{params.cohortgen} report-index --cohorts {params.cohorts} --summaries {input.summaries}"
        " --options {params.options:q} --out {output.html} 2> {log}"
