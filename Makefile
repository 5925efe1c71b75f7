# Two commands: `make demo` runs the whole workflow on the embedded demo cohort;
# `make test` runs the test suite. Both create the virtual environment if it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := resources/demo
CORES ?= 2
export PATH := $(BIN):$(PATH)

.PHONY: demo test lint bench clean-demo

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

$(DEMO)/genotypes.vcf.gz: | $(STAMP)
	cohortgen simulate --out $(DEMO) --samples 2000 --chromosomes 3 --chromosome-mb 20 --seed 42
	cohortgen prs-demo-score --truth $(DEMO)/truth.json --disease hypertension \
		--genome-build GRCh38 --seed 1 --out $(DEMO)/pgs_hypertension.txt.gz

demo: $(STAMP) $(DEMO)/genotypes.vcf.gz
	snakemake --workflow-profile workflow/profiles/default --cores $(CORES)
	@echo "Report: $(CURDIR)/results/demo/report/index.html"

test: $(STAMP)
	pytest

lint: $(STAMP)
	ruff check .
	snakemake --lint

bench: $(STAMP)
	python bench/bench_score.py

clean-demo:
	rm -rf results/demo $(DEMO)
