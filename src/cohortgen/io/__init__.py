"""Readers and writers: VCF/BCF, PLINK .bed, phenotype sheets, summary statistics."""
