"""Atomic outputs: every writer goes through cohortgen.io.files.atomic_output (temporary name
beside the output, fsync, rename), so an error or a full disk never leaves a truncated file under
an output's name; the CLI reports a full disk in one line."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortgen.ingest.plan import write_plan
from cohortgen.io.files import (
    FAULT_ENV,
    PRIVATE_MODE,
    atomic_output,
    write_bytes_atomic,
    write_json,
    write_tsv_bgzip,
)
from cohortgen.io.sumstats import write_gwas_ssf
from cohortgen.provenance import RUN_SECTION, comparable_record, write_provenance

BIN = Path(sys.executable).parent


def sumstats_table() -> pd.DataFrame:
    return pd.DataFrame({
        "chromosome": ["1", "1"], "base_pair_location": [100, 200],
        "effect_allele": ["A", "C"], "other_allele": ["G", "T"], "beta": [0.1, -0.2],
        "standard_error": [0.05, 0.07], "effect_allele_frequency": [0.3, 0.4],
        "p_value": [0.04, 0.004], "variant_id": ["1_100_G_A", "1_200_T_C"], "n": [100, 100]})


def test_atomic_output__an_error_keeps_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "table.tsv"
    out.write_text("old\n")
    def failing_writer():
        with atomic_output(out) as temp:
            temp.write_text("half of the new ")
            raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        failing_writer()
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.tsv"]


def test_atomic_output__a_killed_writer_leaves_the_old_file_and_the_next_cleans_up(tmp_path):
    out = tmp_path / "genotypes.bed"
    out.write_bytes(b"old")
    (tmp_path / ".genotypes.bed.gz.abcdefgh.tmp").write_bytes(b"another output's temporary")
    code = ("import sys, time; from pathlib import Path; from cohortgen.io.files import "
            "atomic_output\nwith atomic_output(Path(sys.argv[1])) as temp:\n"
            "    temp.write_bytes(b'half'); print('writing', flush=True); time.sleep(60)")
    writer = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE,
                              text=True)
    assert writer.stdout.readline() == "writing\n"
    writer.kill()
    writer.wait()
    writer.stdout.close()
    assert out.read_bytes() == b"old"
    leftovers = sorted(p.name for p in tmp_path.glob(".genotypes.bed.*.tmp"))
    assert len(leftovers) == 2
    write_bytes_atomic(out, b"new")
    assert out.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".genotypes.bed.gz.abcdefgh.tmp",
                                                           "genotypes.bed"]


def test_atomic_output__private_and_public_modes(tmp_path):
    write_bytes_atomic(tmp_path / "private.bin", b"x", private=True)
    write_bytes_atomic(tmp_path / "public.bin", b"x")
    assert (tmp_path / "private.bin").stat().st_mode & 0o777 == PRIVATE_MODE
    assert (tmp_path / "public.bin").stat().st_mode & 0o777 == 0o644


WRITERS = {
    "json": ("summary.json", lambda out: write_json(out, {"a": 1})),
    "bgzip": ("variants.tsv.gz",
              lambda out: write_tsv_bgzip(out, pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))),
    "plan": ("plan.tsv", lambda out: write_plan(pd.DataFrame({"chunk_id": ["c0001"],
                                                               "contig": ["1"]}), out)),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_atomic_output__disk_full_leaves_nothing_under_the_name(tmp_path, monkeypatch, writer):
    name, write = WRITERS[writer]
    monkeypatch.setenv(FAULT_ENV, name)
    with pytest.raises(OSError, match="No space left") as caught:
        write(tmp_path / name)
    assert caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
    monkeypatch.delenv(FAULT_ENV)
    write(tmp_path / name)
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("which", ["*.tsv.gz", "*.tbi", "*-meta.yaml"])
def test_write_gwas_ssf__disk_full_on_any_file_leaves_no_temporary(tmp_path, monkeypatch, which):
    monkeypatch.setenv(FAULT_ENV, which)
    out = tmp_path / "gwas" / "stroke.tsv.gz"
    with pytest.raises(OSError, match="No space left"):
        write_gwas_ssf(out, sumstats_table(), {"genome_assembly": "GRCh38"})
    # files renamed before the failing one are whole; none is a temporary or truncated
    assert all(not p.name.startswith(".") for p in out.parent.iterdir())
    monkeypatch.delenv(FAULT_ENV)
    write_gwas_ssf(out, sumstats_table(), {"genome_assembly": "GRCh38"})
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "stroke.tsv.gz", "stroke.tsv.gz-meta.yaml", "stroke.tsv.gz.tbi"]


def test_cli__disk_full_is_one_line_and_status_3(tmp_path):
    manifest = tmp_path / "manifest.json"
    write_json(manifest, {"files": []})
    out = tmp_path / "provenance.json"
    env = {**os.environ, FAULT_ENV: "provenance.json"}
    config = {"cohorts": {"c": {"genotypes": "g.vcf.gz", "phenotypes": "p.tsv"}}}
    result = subprocess.run([str(BIN / "cohortgen"), "provenance", "--options",
                             json.dumps(config), "--manifest", str(manifest),
                             "--out", str(out)], capture_output=True, text=True, env=env,
                            check=False)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "no space left on the disk writing" in result.stderr
    assert str(out) in result.stderr
    assert "free space, then rerun" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_write_provenance__run_facts_apart_from_the_comparable_record(tmp_path, monkeypatch):
    manifest = tmp_path / "manifest.json"
    write_json(manifest, {"files": [{"path": "g.vcf.gz", "sha256": "ab" * 32}]})
    config = {"cohorts": {}}
    records = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        records.append(write_provenance(config, manifest, tmp_path / name / "provenance.json"))
    assert records[0][RUN_SECTION]["working_directory"] == str(tmp_path / "a")
    assert records[1][RUN_SECTION]["working_directory"] == str(tmp_path / "b")
    assert RUN_SECTION not in comparable_record(records[0])
    assert comparable_record(records[0]) == comparable_record(records[1])
    np.testing.assert_equal(sorted(records[0][RUN_SECTION]),
                            ["host", "working_directory", "written_utc"])


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs at ``tmp_path``/disk (root and permission to mount needed), unmounted
    afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                           capture_output=True, text=True, check=False)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mount.stderr.strip()} (the "
                    f"{FAULT_ENV} tests above simulate a full disk instead)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_atomic_output__a_real_full_disk_keeps_the_old_file_and_no_temporary(small_disk):
    out = small_disk / "sample_partials.npz"
    write_bytes_atomic(out, b"old", private=True)
    with pytest.raises(OSError, match="No space left") as caught:
        write_bytes_atomic(out, bytes(2 << 20), private=True)
    assert caught.value.errno == errno.ENOSPC
    assert out.read_bytes() == b"old"
    assert [p.name for p in small_disk.iterdir()] == ["sample_partials.npz"]


def test_cli__a_real_full_disk_is_one_line_and_status_3(small_disk, tmp_path):
    (small_disk / "filler").write_bytes(bytes((1 << 20) - 4096))
    manifest = tmp_path / "manifest.json"
    write_json(manifest, {"files": [{"path": f"g{k}.vcf.gz", "sha256": "ab" * 32}
                                    for k in range(100)]})
    config = {"cohorts": {"c": {"genotypes": "g.vcf.gz", "phenotypes": "p.tsv"}}}
    result = subprocess.run([str(BIN / "cohortgen"), "provenance", "--options",
                             json.dumps(config), "--manifest", str(manifest),
                             "--out", str(small_disk / "provenance.json")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "no space left on the disk" in result.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
