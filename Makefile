# Two commands: `make demo` runs the whole workflow on the embedded demo cohort;
# `make test` runs the test suite (`make test-fast`: without the slow tests). Each creates the
# virtual environment if it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := resources/demo
CORES ?= 2
export PATH := $(BIN):$(PATH)

.PHONY: demo test test-fast lint bench clean-demo

# Test-only reference clients (official tools of our output formats), each in a virtual
# environment of its own under $(REFENVS)/<name> because their pins clash with ours. A tool is
# listed in REF_TOOLS and its pip requirement in REF_<name>; tests find it through
# tests/conftest.py:require_reference_env.
REFENVS := .refenvs
REF_TOOLS :=
REF_TOOLS += gwas-ssf
# gwas-ssf: the GWAS Catalog's validator; it needs numpy<2 (for its pandas 1.5), six (for bsub)
# and click<8.2 (for its typer), which its own package does not pin.
REF_gwas-ssf := gwas-sumstats-tools==1.0.25 numpy==1.26.4 six==1.17.0 click==8.1.8
REF_TOOLS += pgscatalog
REF_pgscatalog := pgscatalog-match==0.4.0
REF_TOOLS += sgkit
# sgkit: its regenie (whole-genome regression step 1) is the reference of cohortgen.wgr;
# its dependencies are pinned to the versions it was checked with.
REF_sgkit := sgkit==0.10.0 dask==2024.8.0 xarray==2025.3.0 zarr==2.18.7 numpy==2.1.3 numba==0.68.1 pandas==3.1.1
REF_STAMPS := $(foreach tool,$(REF_TOOLS),$(REFENVS)/$(tool)/.installed)

$(REFENVS)/%/.installed: Makefile
	@test -x $(REFENVS)/$*/bin/python || $(PYTHON) -m venv $(REFENVS)/$*
	$(REFENVS)/$*/bin/python -m pip install --quiet $(REF_$*)
	@touch $@

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

$(DEMO)/genotypes.vcf.gz: | $(STAMP)
	cohortgen simulate --out $(DEMO) --samples 2000 --chromosomes 3 --chromosome-mb 20 --seed 42
	cohortgen prs-demo-score --truth $(DEMO)/truth.json --disease hypertension \
		--genome-build GRCh38 --seed 1 --out $(DEMO)/pgs_hypertension.txt.gz

# Demo imputed dosages: a tenth of the array sites, half of them masked and imputed.
$(DEMO)/imputed.chr1.vcf.gz: $(DEMO)/genotypes.vcf.gz
	cohortgen simulate-imputed --genotypes $(DEMO)/genotypes.vcf.gz --out $(DEMO) \
		--mask-share 0.5 --seed 42 --site-share 0.1

demo: $(STAMP) $(DEMO)/genotypes.vcf.gz $(DEMO)/imputed.chr1.vcf.gz
	snakemake --workflow-profile workflow/profiles/default --cores $(CORES)
	@echo "Report: $(CURDIR)/results/demo/report/index.html"

test: $(STAMP) $(REF_STAMPS)
	pytest

# The developer loop: every test but those marked slow (workflow runs, calibration fixtures).
test-fast: $(STAMP) $(REF_STAMPS)
	pytest -m "not slow"

lint: $(STAMP)
	ruff check .
	snakefmt --check Snakefile workflow/
	snakemake --lint

bench: $(STAMP)
	python bench/bench_score.py

clean-demo:
	rm -rf results/demo $(DEMO)
