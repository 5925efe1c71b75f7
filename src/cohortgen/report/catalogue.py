"""Translation catalogues of the HTML report and the names of diseases and traits.

Every sentence, label, caption and table header of the report is a key of one catalogue per
language (``i18n/<lang>.yaml``, nested keys joined by dots: ``qc.title``). A value is HTML text
with ``{field}`` places; :meth:`Catalogue.text` fills them with escaped values, so text from
inputs (disease labels, cohort names) shows as text. Numbers are formatted by the caller, the
same in every language.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import yaml
from markupsafe import Markup

LANGUAGES = ("ko", "en")
"""Languages with a catalogue, in the default order of ``report.languages``."""


def flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    """Nested mapping -> {dotted key: str value}."""
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogue_entries(lang: str) -> dict[str, str]:
    """{dotted key: HTML text} of the package catalogue ``i18n/<lang>.yaml``."""
    if lang not in LANGUAGES:
        raise ValueError(f"no report catalogue for language {lang!r}; "
                         f"available: {', '.join(LANGUAGES)}")
    source = files("cohortgen.report").joinpath("i18n", f"{lang}.yaml").read_text("utf-8")
    return flatten(yaml.safe_load(source))


@dataclass(frozen=True)
class Catalogue:
    """The report's texts in one language."""

    lang: str

    def text(self, key: str, **fields) -> Markup:
        """The text of ``key`` with ``fields`` filled in (escaped unless Markup)."""
        return Markup(catalogue_entries(self.lang)[key]).format(**fields)

    def plain(self, key: str, **fields) -> str:
        """As :meth:`text`, as plain text (for plot titles and axis labels)."""
        return self.text(key, **fields).unescape()

    def keys_under(self, prefix: str) -> list[str]:
        """Keys starting with ``prefix.``, in catalogue order."""
        return [k for k in catalogue_entries(self.lang) if k.startswith(f"{prefix}.")]

    def get(self, key: str) -> str | None:
        """The raw text of ``key``, or None when the catalogue has no such key."""
        return catalogue_entries(self.lang).get(key)


def display_name(key: str, lang: str, labels: dict) -> tuple[str, bool]:
    """The name of disease or trait ``key`` in ``lang`` and whether it fell back.

    Order: ``labels[key][lang]`` (config ``disease_labels``), the catalogue's
    ``disease_name.<key>``, then the same in the other languages, then ``key`` itself. The flag
    is True when the name is not in ``lang``.
    """
    own = labels.get(key) or {}
    order = [lang, *(x for x in LANGUAGES if x != lang), *(x for x in own if x not in LANGUAGES)]
    for other in order:
        name = own.get(other) or (catalogue_entries(other).get(f"disease_name.{key}")
                                  if other in LANGUAGES else None)
        if name:
            return str(name), other != lang
    return key, True
