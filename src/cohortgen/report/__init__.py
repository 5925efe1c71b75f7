"""Self-contained HTML report of aggregates (no individual-level data)."""
