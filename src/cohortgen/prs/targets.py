"""The ``prs.scores`` config entries: ``name: path`` or ``name: {file: path, diseases: [...]}``."""


def score_file(entry) -> str:
    """Scoring-file path of one ``prs.scores`` entry."""
    return entry if isinstance(entry, str) else entry["file"]


def score_targets(scores: dict, diseases: list[str]) -> list[str]:
    """``name=disease1,disease2`` per score (all ``diseases`` unless the entry lists some)."""
    targets = []
    for name, entry in scores.items():
        chosen = entry.get("diseases") if isinstance(entry, dict) else None
        targets.append(f"{name}={','.join(chosen or diseases)}")
    return targets
