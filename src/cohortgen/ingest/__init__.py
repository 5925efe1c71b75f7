"""Ingest stage: input validation, chunk planning and conversion of chunks to PLINK .bed."""
