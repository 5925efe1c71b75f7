"""Provenance record: software versions, config hash and input checksums (no individual data)."""

import hashlib
import importlib.metadata
import json
import platform
from pathlib import Path

from cohortgen import __version__
from cohortgen.io.files import read_json, write_json

PACKAGES = ("snakemake", "numpy", "pandas", "scipy", "numba", "cyvcf2", "pysam", "statsmodels",
            "msprime", "plotly", "jinja2")


def config_hash(config: dict) -> str:
    """SHA-256 of the config as canonical JSON (sorted keys), so key order does not matter."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def software_versions() -> dict:
    """Versions of Python, cohortgen and the packages the numbers depend on."""
    versions = {"python": platform.python_version(), "cohortgen": __version__}
    versions |= {name: importlib.metadata.version(name) for name in PACKAGES}
    return versions


def write_provenance(config: dict, manifest_json: Path, out_json: Path) -> dict:
    """Write provenance.json from the run's config and the input manifest."""
    manifest = read_json(manifest_json)
    record = {"software": software_versions(), "config_sha256": config_hash(config),
              "inputs": {f["path"]: f["sha256"] for f in manifest["files"]}}
    write_json(out_json, record)
    return record
