"""``python -m cohortgen``: the ``cohortgen`` console script, for interpreters whose ``bin/`` is
not on PATH (the workflow's rules start cohortgen this way)."""

from cohortgen.cli import run

run()
