"""The config contract (cohortgen.options): each step's options class has the schema's names,
types and defaults; --options is validated once; rules pass exactly the keys a step uses."""

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from cohortgen.cli import build_parser, main
from cohortgen.errors import InputError
from cohortgen.options import (
    STEP_OPTIONS,
    AssocOptions,
    VariantQcOptions,
    build,
    config_schema,
    key_paths,
    parse_options,
    step_config,
    validate_config,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "workflow" / "schemas" / "config.schema.yaml"
DEMO_TOOLS = {"simulate", "prs-demo-score", "simulate-imputed"}
"""Subcommands outside the workflow (the demo cohort and its score): no config keys."""
NOT_IN_WORKFLOW_YET = {"wgr-step1"}
"""Subcommands no rule runs yet (their settings are not config keys yet): flags of their own."""
WHOLE_CONFIG = {"provenance"}
"""Subcommands whose --options is the run's whole config."""

PYTHON_TYPES = {"number": float, "integer": int, "string": str, "boolean": bool}


def python_type(schema: dict):
    """The Python type of a config key's value from its schema."""
    if "oneOf" in schema:
        first, second = (python_type(s) for s in schema["oneOf"])
        return first | second
    if schema["type"] == "array":
        return list[python_type(schema["items"])]
    if schema["type"] == "object":
        return dict[str, python_type(schema["additionalProperties"])]
    return PYTHON_TYPES[schema["type"]]


def schema_of(path: tuple[str, ...]) -> dict:
    node = yaml.safe_load(SCHEMA_FILE.read_text())
    for name in path:
        assert name in node.get("properties", {}), ".".join(path)
        node = node["properties"][name]
    return node


def workflow_config(**overrides) -> dict:
    """A validated config with the schema defaults, as the Snakefile sees it."""
    return validate_config({"cohorts": {"c": {"genotypes": "g.vcf.gz", "phenotypes": "p.tsv"}},
                            **overrides}, "test")


@pytest.mark.parametrize("step", sorted(STEP_OPTIONS))
def test_options_fields__are_schema_keys_of_the_same_type(step):
    for name, path in key_paths(STEP_OPTIONS[step]).items():
        field = next(f for f in dataclasses.fields(STEP_OPTIONS[step]) if f.name == name)
        assert field.type == python_type(schema_of(path)), (step, path)


@pytest.mark.parametrize("step", sorted(STEP_OPTIONS))
def test_options_classes__keyword_only_frozen_without_defaults(step):
    cls = STEP_OPTIONS[step]
    for field in dataclasses.fields(cls):
        assert field.kw_only
        assert field.default is dataclasses.MISSING
        assert field.default_factory is dataclasses.MISSING
    options = build(cls, workflow_config())
    with pytest.raises(TypeError):  # positional: no silent swap of two thresholds
        cls(*dataclasses.astuple(options))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options, dataclasses.fields(cls)[0].name, None)


def test_package_schema__is_the_workflow_schema():
    assert config_schema() == yaml.safe_load(SCHEMA_FILE.read_text())


def test_parse_options__names_and_defaults_from_the_schema(tmp_path):
    options = parse_options('{"qc": {"maf": 0.02, "hwe_midp": 1e-8}, "diseases": ["d"]}',
                            "variant_qc")
    assert options.maf == 0.02
    assert options.hwe_midp == 1e-8
    assert options.diseases == ["d"]
    assert options.variant_call_rate == schema_of(("qc", "variant_call_rate"))["default"]
    assert options.diff_miss_p == 1e-5
    assert options.genome_build == "GRCh38"
    config = tmp_path / "my.yaml"
    config.write_text("qc:\n  maf: 0.02\n  hwe_midp: 1.0e-8\ndiseases: [d]\n")
    assert parse_options(str(config), "variant_qc") == options


def test_parse_options__number_keys_are_floats():
    # het_sd defaults to the YAML integer 3; a number key is a float, as argparse gave before
    options = parse_options('{"qc": {"pca_outlier_sd": 5}}', "sample_qc")
    assert type(options.pca_outlier_sd) is float
    assert type(options.het_sd) is float
    assert options.ancestry_clusters == "auto"
    assert parse_options('{"qc": {"ancestry_clusters": 3}}', "sample_qc").ancestry_clusters == 3
    grid = parse_options('{"prs": {"incohort": {"ct": {"r2_grid": [1]}}}}', "prs_incohort_fold")
    assert grid.r2_grid == [1.0]
    assert type(grid.r2_grid[0]) is float


@pytest.mark.parametrize(("text", "fragment"), [
    ('{"qc": {"maf": "0.01"}}', "config key qc.maf: '0.01' is not of type 'number'"),
    ('{"qc": {"mimimum_maf": 0.01}}', "config key qc: Additional properties are not allowed "
                                      "('mimimum_maf' was unexpected)"),
    ('{"prs": {"min_overlp": 0.5}}', "('min_overlp' was unexpected)"),
    ('{"hwe_midp": 1e-6}', "('hwe_midp' was unexpected)"),
    ('{"qc": {"maf": 0.7}}', "config key qc.maf: 0.7 is greater than the maximum of 0.5"),
    ('{"qc": {"maf": 0.01}', "neither a file nor a JSON object"),
    ("[1, 2]", "expected a mapping of config keys"),
])
def test_parse_options__bad_keys_or_types_name_the_key(text, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)):
        parse_options(text, "variant_qc")


def test_cli__bad_options_are_one_line_errors(capsys):
    status = main(["find-loci", "--disease", "d", "--gwas", "g.tsv.gz", "--bfiles", "b",
                   "--null-table", "n.tsv", "--out", "o.tsv",
                   "--options", '{"assoc": {"clump_r2": 2}}'])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith("cohortgen find-loci: error: --options: config key assoc.clump_r2: 2 ")
    assert "Traceback" not in err
    status = main(["provenance", "--manifest", "m.json", "--out", "p.json",
                   "--options", '{"cohorts": {"c": {"genotypes": "g.vcf.gz"}}}'])
    assert status == 2
    assert "config key cohorts.c: 'phenotypes' is a required property" in capsys.readouterr().err


def subcommands() -> dict:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def schema_leaf_keys(node: dict) -> set[str]:
    """Names of the schema's non-object keys, at any depth."""
    keys = set()
    for name, sub in node.get("properties", {}).items():
        if sub.get("type") == "object":
            keys |= schema_leaf_keys(sub)
        else:
            keys.add(name)
    return keys


INPUT_FLAGS_NAMED_AS_KEYS = {"qc-summary": {"variants"}}
"""Input-file flags that share a leaf name with a config key they are not
(qc-summary --variants: a variants table; prs.incohort.variants: the in-cohort variant list)."""


def test_cli__config_keys_only_through_options():
    """No subcommand has a flag of its own for a config key (or the old names of the QC
    thresholds); every workflow step with config keys takes --options."""
    keys = schema_leaf_keys(config_schema()) | {"min_call_rate", "min_hwe_midp", "min_maf"}
    commands = subcommands()
    for name, parser in commands.items():
        if name in DEMO_TOOLS | NOT_IN_WORKFLOW_YET:
            continue
        dests = {a.dest for a in parser._actions} - INPUT_FLAGS_NAMED_AS_KEYS.get(name, set())
        assert not dests & keys, (name, dests & keys)
        step = name.replace("-", "_")
        assert ("options" in dests) == (step in STEP_OPTIONS or name in WHOLE_CONFIG), name
    assert set(STEP_OPTIONS) <= {name.replace("-", "_") for name in commands}


def rule_blocks() -> dict[str, str]:
    blocks = {}
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        parts = re.split(r"^\s*(?:rule|checkpoint) (\w+):", smk.read_text(), flags=re.M)
        blocks |= dict(zip(parts[1::2], parts[2::2], strict=True))
    return blocks


def test_rules__pass_the_step_options_of_the_command_they_run():
    used = set()
    for rule, text in rule_blocks().items():
        command = re.search(r"\{params\.cohortgen\} ([\w-]+)", text)
        if command is None:
            continue
        step = command.group(1).replace("-", "_")
        if step in STEP_OPTIONS:
            assert f'options=step_options("{step}")' in text, rule
            assert "--options {params.options:q}" in text, rule
            used.add(step)
        # config read by a rule names files (cohorts, diseases, scores, report languages), never
        # a setting: settings reach the command through --options
        allowed = r"cohorts|diseases\"\]|prs\"\]\[\"scores|report\"\]\[\"languages"
        assert not re.search(rf"config\[\"(?!{allowed})", text), rule
    assert used == set(STEP_OPTIONS)


def test_step_config__an_edit_reruns_only_the_steps_that_use_the_key():
    before = workflow_config()
    after = workflow_config(qc={"pca_outlier_sd": 4})
    changed = {step for step, cls in STEP_OPTIONS.items()
               if json.dumps(step_config(cls, before)) != json.dumps(step_config(cls, after))}
    assert changed == {"sample_qc"}
    after = workflow_config(qc={"variant_call_rate": 0.9})
    changed = {step for step, cls in STEP_OPTIONS.items()
               if step_config(cls, before) != step_config(cls, after)}
    assert changed == {"prune_common", "variant_qc", "prs_score"}


def test_step_config__round_trips_through_options():
    config = workflow_config(assoc={"firth_mode": "full", "min_mac": 3})
    text = json.dumps(step_config(AssocOptions, config))
    assert json.loads(text) == {"assoc": {"min_mac": 3, "firth_p_threshold": 0.05,
                                          "firth_min_carriers": 0, "firth_p_value": "lrt",
                                          "firth_mode": "full", "p_value": "score"}}
    assert parse_options(text, "assoc") == build(AssocOptions, config)
    variant_qc = step_config(VariantQcOptions, config)
    assert set(variant_qc) == {"qc", "diseases", "genome_build"}
    assert parse_options(json.dumps(variant_qc), "variant_qc") == build(VariantQcOptions, config)
