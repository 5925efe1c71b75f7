"""Process start-up of a ``cohortgen`` job: what the CLI and each stage module import; and
whether a fold job's outputs depend on its thread count."""

import subprocess
import sys

import numba
import numpy as np
import pytest
import yaml
from test_prs_incohort import DISEASES, OPTIONS, inputs  # noqa: F401 (the fixture)

from cohortgen.options import config_schema
from cohortgen.prs.incohort import assign_folds, load_cohort, run_fold

HEAVY = ("numba", "scipy", "statsmodels", "pandas")


def modules_after(code: str) -> set[str]:
    """Top-level names (and ``scipy.<sub>``) of the modules a fresh interpreter holds after
    running ``code``."""
    probe = (f"{code}\nimport sys\n"
             "print('\\n'.join(sorted(set(m if m.startswith('scipy.') else m.split('.')[0] "
             "for m in sys.modules if '._' not in m))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    return set(result.stdout.split())


def test_cli__parser_with_every_subcommand_imports_no_science_library():
    loaded = modules_after("import cohortgen.cli\ncohortgen.cli.build_parser()")
    assert not loaded & set(HEAVY)


@pytest.mark.parametrize(("module", "unneeded"), [
    # gather-gwas and gwas-summary read loci's thresholds and relatives_kept only; gwas-summary
    # imports SciPy stats and optimize when it computes power, gather-gwas never
    ("cohortgen.assoc.gather", {"numba", "scipy.stats", "scipy.optimize"}),
    ("cohortgen.qc.relatedness", {"numba"}),
    # fold, fold-assignment, published-score and WGR jobs never evaluate a score
    ("cohortgen.prs.incohort", {"scipy.stats", "scipy.optimize"}),
    ("cohortgen.prs.stage", {"scipy.stats", "scipy.optimize"}),
    ("cohortgen.wgr.stage", {"scipy.stats", "scipy.optimize"}),
])
def test_stage_module__does_not_import_what_its_jobs_do_not_use(module, unneeded):
    assert not modules_after(f"import {module}") & unneeded


def test_config_schema__libyaml_gives_the_pure_python_parse():
    from importlib import resources

    text = resources.files("cohortgen").joinpath("schemas/config.schema.yaml").read_text()
    assert config_schema() == yaml.safe_load(text)


@pytest.mark.slow
def test_run_fold__one_and_two_threads_write_the_same_arrays(inputs, tmp_path):  # noqa: F811
    """A fold and the refit hold the same arrays on one and two threads (so that a fold job
    could run on one thread, letting two folds share two cores)."""
    cohort, work, prefixes = inputs
    qc = [prefix.with_name(f"{prefix.name}.variant_qc.tsv") for prefix in prefixes]
    data = load_cohort(prefixes[0], work / "keep.txt", cohort / "phenotypes.tsv", DISEASES,
                       ["age", "sex"], work / "pcs.tsv")
    assign_folds(data, OPTIONS["folds"], 42, tmp_path / "folds.tsv")
    before = numba.get_num_threads()
    try:
        for fold in (1, 0):
            written = {}
            for threads in (1, 2):
                out = tmp_path / f"fold{fold}_t{threads}.npz"
                run_fold(fold, prefixes, qc, data, tmp_path / "folds.tsv", 10, 42,
                         {**OPTIONS, "threads": threads}, out)
                with np.load(out) as arrays:
                    written[threads] = {name: arrays[name] for name in arrays.files}
            assert written[1].keys() == written[2].keys()
            for name, array in written[1].items():
                np.testing.assert_array_equal(array, written[2][name], err_msg=name)
    finally:
        numba.set_num_threads(before)
