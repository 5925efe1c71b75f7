"""Sample and variant quality control stages."""
