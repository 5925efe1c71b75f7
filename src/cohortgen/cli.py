"""``cohortgen <stage> ...``: one subcommand per workflow stage (what each Snakemake rule calls).

Each stage package registers its own subcommands (``<stage>/commands.py``, ``register(sub)``).
Errors the user can fix (:class:`InputError`) are printed as one message, without a traceback,
and the exit status is 2.
"""

import argparse
import errno
import gc
import importlib
import sys

from cohortgen import __version__
from cohortgen.errors import InputError

STAGE_COMMANDS = (
    "cohortgen.ingest.commands",
    "cohortgen.ingest.dosage_commands",
    "cohortgen.qc.commands",
    "cohortgen.assoc.commands",
    "cohortgen.prs.commands",
    "cohortgen.report.commands",
    "cohortgen.wgr.commands",
)


def add_command(sub, name, func, help_text, *arguments) -> None:
    """Add subcommand ``name`` running ``func(args)``; ``arguments`` are (flags, options) pairs.
    argparse %-formats help strings, so a literal % in ``help_text`` is escaped."""
    parser = sub.add_parser(name, help=help_text.replace("%", "%%"), description=help_text)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    parser.set_defaults(func=func)


def req(flag, **options):
    """A required option."""
    return (flag,), {"required": True, **options}


def many(flag):
    """A required option taking one or more values."""
    return req(flag, nargs="+")


def options(step):
    """``--options``: the config keys of ``step`` (:data:`cohortgen.options.STEP_OPTIONS`), as a
    JSON object or a YAML/JSON file holding (part of) a config; keys not given take the schema's
    defaults."""
    from cohortgen.options import STEP_OPTIONS, key_paths

    names = ", ".join(".".join(path) for path in key_paths(STEP_OPTIONS[step]).values())
    return ("--options",), {"default": "{}", "metavar": "JSON|FILE",
                            "help": f"config keys (JSON or a YAML/JSON config file; schema "
                                    f"defaults for keys not given): {names}"}


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser with every stage's subcommands."""
    parser = argparse.ArgumentParser(prog="cohortgen", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cohortgen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in STAGE_COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cohortgen`` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except InputError as exc:
        print(f"cohortgen {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        print(f"cohortgen {args.command}: error: no space left on the disk{where} (disk full "
              "or quota reached); no partial output was kept: free space, then rerun",
              file=sys.stderr)
        return 3
    return 0


GC_THRESHOLDS = (100_000, 50, 50)
"""Cyclic-garbage collector thresholds of a ``cohortgen`` process (Python's default: 700, 10,
10). Importing Numba, pandas and SciPy and loading cached kernels builds about 400,000 container
objects; at the default thresholds the collector traverses them all several times during
start-up (about 0.1 s per job)."""


def run() -> None:
    """The ``cohortgen`` console script: :func:`main` in a process that exits when it returns.

    Garbage is collected at :data:`GC_THRESHOLDS`, and every object left is frozen before exit,
    so interpreter shutdown frees them without another full traversal (0.15-0.2 s per job).
    Output files are closed by then (every writer closes its file before returning).
    """
    gc.set_threshold(*GC_THRESHOLDS)
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
