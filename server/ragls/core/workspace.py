"""Which files of a workspace get indexed, and reading them as text.

Filesystem I/O only (no index, no LSP). The walk prunes whole directories (VCS folders,
dependencies, virtualenvs, build output) without descending, honours ``.gitignore`` files at every
level, ``.git/info/exclude``, ``.raglsignore`` files and the ``include``/``exclude`` settings, and
never raises for races (a file deleted mid-walk), loops or unreadable entries: every file that is
left out is counted under a reason, with a few example paths, so the user can see why.

Policies worth knowing:

* Secrets are never indexed, whatever the ignore files say: ``.env`` and ``.env.*`` (templates
  ``.env.example``/``.sample``/``.template``/``.dist`` are allowed: they are committed on purpose
  and document configuration), private keys and keystores, credential files of common tools, and
  data/config files whose name contains "secret", "credential" or "password". Prose and source
  files are not judged by name: Kubernetes' ``secret.md`` documents Secrets, it holds none.
* Symlinks are not followed: a link pointing outside the root is ``symlink-outside``; one pointing
  inside is ``symlink-inside`` (its target is indexed under its real path, so following it would
  duplicate every hit and could loop).
* Generic output folder names (``build``, ``dist``, ``target``, ``out``, ``venv``) are pruned
  unless they hold an ``__init__.py`` (a Python package that happens to be called ``build``).
"""

from __future__ import annotations

import collections
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from pathspec import GitIgnoreSpec

from ragls.core.chunking import language_for
from ragls.settings import IndexSettings

__all__ = [
    "WorkspaceFile", "DiscoveryReport", "IgnoreRules", "discover", "check_file",
    "looks_binary", "is_secret", "IGNORE_FILE_NAMES",
]

BINARY_SNIFF_BYTES = 8192
EXAMPLES_PER_REASON = 5
IGNORE_FILE_NAMES = (".gitignore", ".raglsignore")

# Directories never worth indexing: VCS data, dependencies, virtualenvs, caches, build output.
PRUNED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".ragls",
    "node_modules", "bower_components", "jspm_packages", ".pnpm-store", ".yarn", "vendor",
    "site-packages", "dist-packages", ".venv", ".virtualenv", "virtualenv", "__pypackages__", ".direnv", ".conda",
    "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis",
    ".pytype", ".pyre", ".ipynb_checkpoints", ".eggs", "htmlcov", ".coverage_html",
    ".next", ".nuxt", ".svelte-kit", ".parcel-cache", ".turbo", ".angular", ".expo", ".vercel",
    ".cache", ".sass-cache", ".gradle", ".idea", ".vscode", ".vs", ".fleet", ".terraform",
    ".serverless", ".dart_tool", ".pub-cache", "Pods", "DerivedData", ".build", ".swiftpm",
    ".stack-work", ".cabal-sandbox", "_build", "elm-stuff", ".zig-cache", "zig-cache", "zig-out",
    ".bundle", ".cargo", "_site", ".docusaurus", ".history",
})
# Output/virtualenv folders with generic names: pruned unless they are a Python package
# (the standard library has a ``venv`` package; pypa/build has ``src/build``).
OUTPUT_DIRS = frozenset({"build", "dist", "target", "out", "venv"})
# A directory holding one of these is a virtualenv / tool cache, whatever its name.
MARKER_FILES = frozenset({"pyvenv.cfg", "CACHEDIR.TAG", "conda-meta"})

_SECRET_NAMES = frozenset({
    ".env", ".netrc", "_netrc", ".npmrc", ".pypirc", ".pgpass", ".git-credentials", ".htpasswd",
    ".dockercfg", ".s3cfg", ".boto", ".gem_credentials", "credentials", ".envrc", ".vault-token",
})
_SECRET_EXTENSIONS = frozenset({
    ".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".kdbx", ".kdb", ".pkcs12", ".ovpn", ".gpg", ".pgp", ".age", ".tfstate", ".tfvars",
})
_SECRET_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".env.")
_ENV_TEMPLATES = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults"})
_SECRET_WORDS = ("secret", "credential", "password", "passwd")
_DATA_EXTENSIONS = frozenset({
    "", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".properties", ".env", ".txt",
    ".xml", ".jsonc", ".json5",
})


def is_secret(rel_path: str) -> bool:
    """True for files that commonly hold credentials (see the module docstring)."""
    name = rel_path.rsplit("/", 1)[-1].lower()
    if name in _ENV_TEMPLATES:
        return False
    if name in _SECRET_NAMES or name.startswith(_SECRET_PREFIXES):
        return True
    dot = name.rfind(".")
    ext = name[dot:] if dot > 0 else ""
    if ext in _SECRET_EXTENSIONS:
        return True
    if rel_path.lower().endswith((".aws/credentials", ".aws/config", ".docker/config.json", ".kube/config")):
        return True
    return ext in _DATA_EXTENSIONS and any(word in name for word in _SECRET_WORDS)


# --- results ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WorkspaceFile:
    path: str  # workspace-relative, POSIX separators
    abs_path: Path
    size: int
    mtime_ns: int


@dataclass(slots=True)
class DiscoveryReport:
    files: list[WorkspaceFile] = field(default_factory=list)
    skipped: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> a few relative paths

    def skip(self, reason: str, rel_path: str) -> None:
        self.skipped[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(rel_path)


# --- ignore rules ----------------------------------------------------------------------------

def _compile(lines: list[str], where: str, warnings: list[str]) -> GitIgnoreSpec:
    """A spec of ``lines``; a pattern git would reject (``!`` alone, a trailing ``\\``) is left
    out with a warning, so one bad line in a cloned repository's .gitignore (or in the
    ``exclude`` setting) costs that line, not the whole workspace."""
    try:
        return GitIgnoreSpec.from_lines(lines)
    except Exception:  # pathspec's GitIgnorePatternError, and whatever a future version raises
        pass
    kept = []
    for line in lines:
        try:
            GitIgnoreSpec.from_lines([line])
        except Exception:
            warnings.append(f"ignoring the invalid pattern {line!r} in {where}")
        else:
            kept.append(line)
    return GitIgnoreSpec.from_lines(kept)


def _read_patterns(path: Path) -> list[str]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(1 << 20)
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()


class IgnoreRules:
    """Ignore decisions for one workspace root.

    Precedence follows git: ``.git/info/exclude`` lowest, then ``.gitignore`` files from the root
    down (a deeper file overrides a shallower one, the last matching pattern wins, ``!`` re-includes);
    ``.raglsignore`` in the same folder overrides its ``.gitignore``. The ``exclude`` setting wins
    over everything; when ``include`` is set, only matching files are kept. A file inside an
    ignored directory stays ignored (as in git, a negation cannot re-include it).

    Ignore files are read lazily, once per directory: when one changes (:meth:`is_ignore_file`),
    build a new ``IgnoreRules``.
    """

    def __init__(self, root: Path, settings: IndexSettings, *, excluded_dirs: tuple[str, ...] = ()) -> None:
        self.root = root
        self.respect_gitignore = settings.respect_gitignore
        self.warnings: list[str] = []  # invalid patterns left out (shown to the user once)
        self._include = _compile(list(settings.include), "the include setting", self.warnings) if settings.include else None
        self._exclude = _compile(list(settings.exclude), "the exclude setting", self.warnings) if settings.exclude else None
        # Folders that are never part of the workspace, whatever the patterns say: the index
        # itself when it lives inside the workspace (indexing it would re-index after every commit).
        self._excluded_dirs = frozenset(excluded_dirs)
        self._info_exclude: GitIgnoreSpec | None = None
        if self.respect_gitignore:
            lines = _read_patterns(root / ".git" / "info" / "exclude")
            spec = _compile(lines, ".git/info/exclude", self.warnings)
            self._info_exclude = spec if len(spec.patterns) else None
        self._dir_specs: dict[str, list[GitIgnoreSpec]] = {}  # rel dir ("" = root) -> specs, low to high
        self._dir_ignored: dict[str, bool] = {"": False}

    @staticmethod
    def is_ignore_file(rel_path: str) -> bool:
        """True when a change to ``rel_path`` (workspace-relative) changes ignore decisions."""
        name = rel_path.rsplit("/", 1)[-1]
        return name in IGNORE_FILE_NAMES or rel_path == ".git/info/exclude"

    def _specs(self, rel_dir: str) -> list[GitIgnoreSpec]:
        specs = self._dir_specs.get(rel_dir)
        if specs is None:
            specs = []
            base = self.root / rel_dir if rel_dir else self.root
            names = IGNORE_FILE_NAMES if self.respect_gitignore else (".raglsignore",)
            for name in names:
                lines = _read_patterns(base / name)
                if lines:
                    spec = _compile(lines, f"{rel_dir}/{name}" if rel_dir else name, self.warnings)
                    if len(spec.patterns):
                        specs.append(spec)
            self._dir_specs[rel_dir] = specs
        return specs

    def _decide(self, rel_path: str, is_dir: bool) -> bool:
        """Ignore decision for ``rel_path`` alone, assuming its parent directories are kept."""
        probe = rel_path + "/" if is_dir else rel_path
        if is_dir and rel_path in self._excluded_dirs:
            return True
        if self._exclude is not None and self._exclude.match_file(probe):
            return True
        parts = rel_path.split("/")
        # Deepest ignore file first: the first definite answer wins.
        for depth in range(len(parts) - 1, -1, -1):
            rel_dir = "/".join(parts[:depth])
            specs = self._specs(rel_dir)
            if not specs:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            for spec in reversed(specs):
                result = spec.check_file(sub)
                if result.include is not None:
                    return bool(result.include)
        if self._info_exclude is not None:
            result = self._info_exclude.check_file(probe)
            if result.include is not None:
                return bool(result.include)
        if not is_dir and self._include is not None and not self._include.match_file(rel_path):
            return True
        return False

    def is_ignored(self, rel_path: str, is_dir: bool = False) -> bool:
        """True when ``rel_path`` (relative, POSIX) or one of its parent directories is ignored."""
        rel_path = rel_path.strip("/")
        if not rel_path:
            return False
        parent = rel_path.rpartition("/")[0]
        if self._parent_ignored(parent):
            return True
        return self._decide(rel_path, is_dir)

    def _parent_ignored(self, rel_dir: str) -> bool:
        known = self._dir_ignored.get(rel_dir)
        if known is None:
            name = rel_dir.rpartition("/")[2]
            known = (name in PRUNED_DIRS or self._parent_ignored(rel_dir.rpartition("/")[0])
                     or self._decide(rel_dir, True))
            self._dir_ignored[rel_dir] = known
        return known


# --- discovery -------------------------------------------------------------------------------

def looks_binary(sample: bytes) -> bool:
    """Git's heuristic: a NUL byte in the first 8 KB means binary."""
    return b"\0" in sample[:BINARY_SNIFF_BYTES]


def _is_inside(root_real: str, target: str) -> bool:
    return target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep)


def _symlink_reason(root_real: str, abs_path: str) -> str:
    target = os.path.realpath(abs_path)
    return "symlink-inside" if _is_inside(root_real, target) else "symlink-outside"


def _file_reason(rel_path: str, rules: IgnoreRules) -> str | None:
    """Reasons decided by the path alone (cheap checks first)."""
    if is_secret(rel_path):
        return "secret"
    if language_for(rel_path) is None:
        return "unsupported"
    if rules._decide(rel_path, False):
        return "ignored"
    return None


def _content_reason(abs_path: str, size: int, max_bytes: int) -> str | None:
    if size > max_bytes:
        return "too-large"
    if size == 0:
        return "empty"
    try:
        with open(abs_path, "rb") as handle:
            sample = handle.read(BINARY_SNIFF_BYTES)
    except FileNotFoundError:
        return "vanished"
    except OSError:
        return "unreadable"
    if not sample.strip():
        return "empty"
    if looks_binary(sample):
        return "binary"
    return None


def _dir_pruned(name: str) -> bool:
    return name in PRUNED_DIRS or name.endswith(".egg-info")


def _encodable(name: str) -> bool:
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def discover(root: Path, settings: IndexSettings, rules: IgnoreRules | None = None) -> DiscoveryReport:
    """Every indexable file under ``root``, sorted by path, plus why the others were skipped."""
    root = Path(root)
    rules = rules or IgnoreRules(root, settings)
    report = DiscoveryReport()
    max_bytes = settings.max_file_size_kb * 1024
    root_real = os.path.realpath(root)
    seen_dirs: set[tuple[int, int]] = set()
    stack: list[tuple[str, str]] = [(str(root), "")]  # (absolute dir, relative dir)
    while stack:
        abs_dir, rel_dir = stack.pop()
        try:
            with os.scandir(abs_dir) as it:
                entries = list(it)
            st = os.stat(abs_dir)
        except OSError:
            report.skip("unreadable", rel_dir or ".")
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:  # bind mounts and the like: never loop
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        if rel_dir and any(e.name in MARKER_FILES for e in entries):
            report.skip("ignored-dir", rel_dir)  # a virtualenv or cache under another name
            continue
        if rel_dir and rel_dir.rpartition("/")[2] in OUTPUT_DIRS and not any(e.name == "__init__.py" for e in entries):
            report.skip("ignored-dir", rel_dir)
            continue
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if not _encodable(name):
                # A name that is not valid UTF-8 (Python keeps its bytes as surrogates) cannot be a
                # Tantivy term, a JSON manifest key or an LSP URI: skip that one entry, counted.
                report.skip("undecodable-name", os.fsencode(rel).decode("utf-8", "backslashreplace"))
                continue
            try:
                if entry.is_symlink():
                    report.skip(_symlink_reason(root_real, entry.path), rel)
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                report.skip("unreadable", rel)
                continue
            if is_dir:
                if _dir_pruned(name):
                    report.skip("ignored-dir", rel)
                elif rules._decide(rel, True):
                    report.skip("ignored", rel + "/")
                else:
                    subdirs.append((entry.path, rel))
                continue
            reason = _file_reason(rel, rules)
            if reason is None:
                try:
                    st_file = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted mid-walk
                except OSError:
                    report.skip("unreadable", rel)
                    continue
                if not stat.S_ISREG(st_file.st_mode):
                    reason = "unsupported"  # sockets, fifos, devices
                else:
                    reason = _content_reason(entry.path, st_file.st_size, max_bytes)
                if reason is None:
                    report.files.append(WorkspaceFile(rel, Path(entry.path), st_file.st_size, st_file.st_mtime_ns))
                    continue
                if reason == "vanished":
                    continue
            report.skip(reason, rel)
        stack.extend(reversed(subdirs))
    report.files.sort(key=lambda f: f.path)
    return report


def check_file(root: Path, rel_path: str, settings: IndexSettings, rules: IgnoreRules) -> WorkspaceFile | str:
    """Would ``rel_path`` be indexed now? The file, or the reason it is skipped (for the watcher).

    A file that does not exist (any more) gives ``"missing"``.
    """
    rel_path = rel_path.replace("\\", "/").strip("/")
    root = Path(root)
    parts = rel_path.split("/")
    if not rel_path or ".." in parts:
        return "outside"
    if not _encodable(rel_path):
        return "undecodable-name"
    for k, part in enumerate(parts[:-1]):
        if _dir_pruned(part) or (part in OUTPUT_DIRS and not (root.joinpath(*parts[:k + 1]) / "__init__.py").exists()):
            return "ignored-dir"
    if rules.is_ignored(rel_path.rpartition("/")[0], True) if "/" in rel_path else False:
        return "ignored"
    abs_path = root.joinpath(*parts)
    root_real = os.path.realpath(root)
    # A symlinked parent directory is not followed by discover either.
    parent_real = os.path.realpath(abs_path.parent)
    if parent_real != os.path.join(root_real, *parts[:-1]).rstrip(os.sep):
        return "symlink-outside" if not _is_inside(root_real, parent_real) else "symlink-inside"
    for k in range(1, len(parts)):
        if any((root.joinpath(*parts[:k]) / marker).exists() for marker in MARKER_FILES):
            return "ignored-dir"
    try:
        st = os.lstat(abs_path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
    if stat.S_ISLNK(st.st_mode):
        return _symlink_reason(root_real, str(abs_path))
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    reason = _file_reason(rel_path, rules)
    if reason is None:
        reason = "unsupported" if not stat.S_ISREG(st.st_mode) else _content_reason(str(abs_path), st.st_size, settings.max_file_size_kb * 1024)
    if reason == "vanished":
        return "missing"
    if reason is not None:
        return reason
    return WorkspaceFile(rel_path, abs_path, st.st_size, st.st_mtime_ns)
