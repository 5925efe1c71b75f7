"""cohortgen: cohort genotype QC, disease association and polygenic risk scores."""

__version__ = "0.1.0"
