"""Whole-genome regression step 1: level-0 and level-1 ridge on the QC'd array genotypes,
LOCO predictions for every trait."""
