"""cohortgen: cohort genotype QC, disease association and polygenic risk scores."""

from cohortgen.buildinfo import installed_build

__version__ = installed_build().version
