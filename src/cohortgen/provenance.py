"""Provenance record: the build, software versions, config hash, the config sections each step
used, and input checksums (no individual data).

``provenance.json`` (schema ``workflow/schemas/provenance.schema.yaml``, version
:data:`SCHEMA_VERSION`)::

    schema_version   int
    cohortgen        {version, commit, dirty}: the build (cohortgen.buildinfo)
    software         {package: version}: Python, cohortgen and the packages the numbers use
    config_sha256    SHA-256 of the whole config as canonical JSON
    steps            {step: config part}: the config keys each workflow step uses, nested as
                     in the config (:data:`cohortgen.options.STEP_OPTIONS`, the options the
                     step's ``--options`` carries; schema defaults filled in)
    inputs           {path: sha256} from the input manifest
    run              {written_utc, host, working_directory}: what legitimately differs
                     between two runs of the same inputs, config and build; everything else
                     is byte-identical between them (:func:`comparable_record` drops ``run``)
"""

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import socket
from pathlib import Path

from cohortgen.buildinfo import build_info
from cohortgen.io.files import read_json, write_json
from cohortgen.options import STEP_OPTIONS, config_schema, fill_defaults, step_config

SCHEMA_VERSION = 2
"""Version of the record's layout; raised when a key changes meaning or goes away."""

PACKAGES = ("snakemake", "numpy", "pandas", "scipy", "numba", "cyvcf2", "pysam", "statsmodels",
            "msprime", "plotly", "jinja2")

def config_hash(config: dict) -> str:
    """SHA-256 of the config as canonical JSON (sorted keys), so key order does not matter."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def software_versions() -> dict:
    """Versions of Python, cohortgen and the packages the numbers depend on."""
    versions = {"python": platform.python_version(), "cohortgen": build_info().version}
    versions |= {name: importlib.metadata.version(name) for name in PACKAGES}
    return versions


def step_parameters(config: dict) -> dict:
    """{step: the config keys of its options class} for every step of
    :data:`cohortgen.options.STEP_OPTIONS`, keys absent from ``config`` at the schema default."""
    config = fill_defaults(config, config_schema())
    return {step: step_config(cls, config) for step, cls in STEP_OPTIONS.items()}


def provenance_record(config: dict, manifest: dict) -> dict:
    """The provenance record (module docstring) of a run's config and input manifest."""
    return {"schema_version": SCHEMA_VERSION, "cohortgen": build_info().as_dict(),
            "software": software_versions(), "config_sha256": config_hash(config),
            "steps": step_parameters(config),
            "inputs": {f["path"]: f["sha256"] for f in manifest["files"]}}


RUN_SECTION = "run"
"""The record's section of values that vary between identical runs (time, host, directory)."""


def run_facts() -> dict:
    """When (UTC, ISO 8601, seconds), where (host name) and from which directory the record
    was written."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return {"written_utc": now.isoformat(), "host": socket.gethostname(),
            "working_directory": os.getcwd()}


def comparable_record(record: dict) -> dict:
    """``record`` without its :data:`RUN_SECTION`: the part equal between identical runs."""
    return {key: value for key, value in record.items() if key != RUN_SECTION}


def write_provenance(config: dict, manifest_json: Path, out_json: Path,
                     shareable_json: Path | None = None) -> dict:
    """Write provenance.json from the run's config and the input manifest, and to
    ``shareable_json`` (report/provenance.json, the copy ``snakemake --report`` bundles) its
    :func:`comparable_record`: no host or working directory leaves the results tree. Return
    the record."""
    record = provenance_record(config, read_json(manifest_json)) | {RUN_SECTION: run_facts()}
    write_json(out_json, record)
    if shareable_json is not None:
        write_json(shareable_json, comparable_record(record))
    return record
