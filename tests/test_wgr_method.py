"""The method reported per disease and trait: whole-genome regression on, off or fallback (from
step 1's wgr.json), relatives kept or removed; its line in the report, in both languages."""

import pytest

from cohortgen.assoc.gather import trait_method
from cohortgen.io.files import write_json
from cohortgen.report.catalogue import Catalogue
from cohortgen.report.render import method_text


def test_trait_method__on_off_and_fallback(tmp_path):
    path = tmp_path / "wgr.json"
    write_json(path, {"traits": {"a": {"status": "OK"},
                                 "b": {"status": "fallback", "reason": "3 cases"}}})
    assert trait_method("a", "keep", path) == {"whole_genome_regression": "on",
                                               "relatives": "kept", "method_note": ""}
    assert trait_method("b", "keep", path) == {"whole_genome_regression": "fallback",
                                               "relatives": "kept", "method_note": "3 cases"}
    assert trait_method("a", "remove", None) == {"whole_genome_regression": "off",
                                                 "relatives": "removed", "method_note": ""}


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("wgr", ["on", "off", "fallback"])
def test_method_text__every_method_has_a_line(lang, wgr):
    cat = Catalogue(lang)
    kept = method_text(cat, {"wgr": wgr, "relatives": "kept"})
    removed = method_text(cat, {"wgr": wgr, "relatives": "removed"})
    assert kept
    assert removed
    assert kept != removed
    assert method_text(cat, {"wgr": None, "relatives": None}) is None
