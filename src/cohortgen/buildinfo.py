"""Which build of cohortgen is running: version, git commit, and whether the tree was dirty.

The version comes from git: setuptools-scm derives it when the package is built or installed
(``0.1.1.devN+g<commit>`` between tags, ``X.Y.Z`` on a tag ``vX.Y.Z``, ``.dYYYYMMDD`` appended
when tracked files had uncommitted changes) and writes it, with the short commit, to the
generated module ``cohortgen/scm_version.py``. Without git metadata at install time (e.g. an
unpacked source archive) the version falls back to :data:`FALLBACK_VERSION` and the commit is
unknown.

A package that runs from its git checkout (an editable install, as ``make`` makes) asks git again
at run time for the commit and the dirty flag (uncommitted changes to tracked files), so a commit
or an edit made after the install still changes the build; the version stays the installed one.
Installed elsewhere (a wheel, a conda environment), the commit and the dirty flag are those of
the install. Unknown parts are None.
"""

import functools
import importlib.metadata
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

FALLBACK_VERSION = "0.1.0"
"""The version when neither setuptools-scm's module nor the package metadata gives one (also
setuptools-scm's ``fallback_version`` in pyproject.toml)."""

PACKAGE_DIR = Path(__file__).resolve().parent

GIT_TIMEOUT_S = 10

_DIRTY_LOCAL = re.compile(r"\+(?:.*\.)?d\d{8}$")  # setuptools-scm's node-and-date local part
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class BuildInfo:
    """version: PEP 440 string; commit: git commit hash (hex; short when it comes from the
    install), None if unknown; dirty: True when tracked files differed from the commit, None if
    unknown."""

    version: str
    commit: str | None
    dirty: bool | None

    @property
    def key(self) -> str:
        """One token naming the build (version, commit, ``dirty``), safe in a file name."""
        commit = self.commit[:12] if self.commit else "nocommit"
        parts = [self.version, commit, "dirty" if self.dirty else ""]
        return _UNSAFE.sub("_", "-".join(p for p in parts if p))

    def as_dict(self) -> dict:
        """``{"version", "commit", "dirty"}`` for JSON records."""
        return {"version": self.version, "commit": self.commit, "dirty": self.dirty}


def installed_build() -> BuildInfo:
    """The build as installed: setuptools-scm's generated module, else the package metadata
    (version only), else :data:`FALLBACK_VERSION`."""
    try:
        from cohortgen.scm_version import commit_id, version
    except ImportError:
        try:
            return BuildInfo(importlib.metadata.version("cohortgen"), None, None)
        except importlib.metadata.PackageNotFoundError:
            return BuildInfo(FALLBACK_VERSION, None, None)
    if commit_id is None:
        return BuildInfo(version, None, None)
    return BuildInfo(version, str(commit_id).removeprefix("g"),
                     bool(_DIRTY_LOCAL.search(version)))


def source_checkout(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The root of the git checkout that ``package_dir`` (``<root>/src/cohortgen``) sits in, or
    None when the package is installed elsewhere."""
    root = package_dir.parent.parent
    if package_dir.parent.name == "src" and (root / ".git").exists():
        return root
    return None


def git_state(root: Path) -> tuple[str, bool] | None:
    """(HEAD commit, dirty) of the git work tree at ``root``: dirty when a tracked file differs
    from HEAD (untracked files, e.g. results, do not count). None when git is missing or fails."""
    git = ["git", "--no-optional-locks", "-C", str(root)]
    try:
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True, timeout=GIT_TIMEOUT_S).stdout.strip()
        status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, check=True,
                                timeout=GIT_TIMEOUT_S).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit, bool(status.strip())


@functools.cache
def build_info() -> BuildInfo:
    """The running build: :func:`installed_build`, with the commit and dirty flag read from git
    when the package runs from its checkout (computed once per process)."""
    installed = installed_build()
    root = source_checkout()
    state = git_state(root) if root is not None else None
    if state is None:
        return installed
    return BuildInfo(installed.version, *state)
