"""SCIENCE.md is in the repository and every citation of it names one of its sections."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"SCIENCE\.md(?:, (?P<section>[A-Za-z][A-Za-z ]*[A-Za-z]))?")


def sections() -> set[str]:
    text = (ROOT / "SCIENCE.md").read_text(encoding="utf-8")
    return {line[3:].strip() for line in text.splitlines() if line.startswith("## ")}


def test_science_notes__every_citation_names_an_existing_section():
    known = sections()
    sources = [*(ROOT / "src").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    cited = []
    for path in sources:
        if path.name == Path(__file__).name:
            continue
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            assert match["section"] in known, (str(path.relative_to(ROOT)), match[0])
            cited.append(match["section"])
    assert cited


def test_science_notes__readme_links_them():
    assert "](SCIENCE.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
