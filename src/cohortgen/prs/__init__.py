"""Polygenic risk scores: published-score matching and scoring, standardisation, evaluation."""
