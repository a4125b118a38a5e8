"""File discovery on real temporary trees: ignore files, pruning, secrets, content checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragls.core.workspace import (
    IgnoreRules, WorkspaceFile, check_file, discover, is_secret, looks_binary,
)
from ragls.settings import IndexSettings


def make_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def found(root: Path, settings: IndexSettings | None = None) -> list[str]:
    return [f.path for f in discover(root, settings or IndexSettings()).files]


def test_nested_gitignore_with_negation(tmp_path):
    make_tree(tmp_path, {
        ".gitignore": "*.log.md\nsecret_dir/\ngenerated/\n",
        "keep.md": "k",
        "drop.log.md": "d",
        "sub/.gitignore": "!important.log.md\n*.py\n",
        "sub/important.log.md": "i",
        "sub/other.log.md": "o",
        "sub/code.py": "x = 1",
        "sub/deeper/more.py": "y = 2",
        "generated/a.md": "g",
        "other/code.py": "z = 3",
    })
    assert found(tmp_path) == ["keep.md", "other/code.py", "sub/important.log.md"]


def test_info_exclude_raglsignore_and_respect_gitignore_off(tmp_path):
    make_tree(tmp_path, {
        ".git/info/exclude": "local.md\n",
        ".gitignore": "ignored.md\n",
        "docs/.raglsignore": "draft*.md\n",
        "local.md": "l", "ignored.md": "i", "docs/draft1.md": "d", "docs/final.md": "f",
    })
    assert found(tmp_path) == ["docs/final.md"]
    # .raglsignore still applies when .gitignore and .git/info/exclude are switched off.
    assert found(tmp_path, IndexSettings(respect_gitignore=False)) == ["docs/final.md", "ignored.md", "local.md"]


def test_raglsignore_overrides_gitignore_in_the_same_folder(tmp_path):
    make_tree(tmp_path, {".gitignore": "*.txt\n", ".raglsignore": "!notes.txt\n", "notes.txt": "n", "x.txt": "x"})
    assert found(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("include, exclude, expected", [
    ((), (), ["a.md", "docs/b.md", "docs/c.py", "src/d.py"]),
    (("*.md",), (), ["a.md", "docs/b.md"]),
    (("docs/",), (), ["docs/b.md", "docs/c.py"]),
    ((), ("docs/",), ["a.md", "src/d.py"]),
    (("*.py",), ("src/",), ["docs/c.py"]),
    ((), ("*.py", "!src/d.py"), ["a.md", "docs/b.md", "src/d.py"]),
])
def test_include_exclude_settings(tmp_path, include, exclude, expected):
    make_tree(tmp_path, {"a.md": "a", "docs/b.md": "b", "docs/c.py": "c = 1", "src/d.py": "d = 1"})
    assert found(tmp_path, IndexSettings(include=include, exclude=exclude)) == expected


def test_dependency_and_output_dirs_are_pruned(tmp_path):
    make_tree(tmp_path, {
        "app.py": "a = 1",
        "node_modules/lib/index.js": "x",
        ".git/config.md": "x",
        ".venv/lib/x.py": "x",
        "myenv/pyvenv.cfg": "home = /usr",
        "myenv/lib/y.py": "x",
        "__pycache__/m.py": "x",
        "build/out.py": "x",
        "src/build/__init__.py": "# a package called build",
        "target/debug/t.rs": "x",
        "pkg.egg-info/PKG-INFO.txt": "x",
    })
    report = discover(tmp_path, IndexSettings())
    assert [f.path for f in report.files] == ["app.py", "src/build/__init__.py"]
    assert report.skipped["ignored-dir"] == 8
    assert "node_modules" in report.examples["ignored-dir"] or len(report.examples["ignored-dir"]) == 5


@pytest.mark.parametrize("rel, secret", [
    (".env", True), (".env.local", True), (".env.production", True), (".env.example", False),
    ("deploy/server.pem", True), ("tls.key", True), ("cert.p12", True), ("store.pfx", True),
    ("home/.ssh/id_rsa", True), ("id_ed25519.pub", True), ("id_dsa", True), ("vault.kdbx", True),
    (".netrc", True), (".npmrc", True), (".pypirc", True), ("credentials.json", True),
    ("gcp-credentials-prod.json", True), ("client_secret.json", True), ("secrets.yaml", True),
    ("config/secret.toml", True), (".aws/credentials", True), ("passwords.txt", True),
    # Documentation and source about secrets is not a secret.
    ("docs/concepts_configuration_secret.md", False), ("auth/credentials.py", False),
    ("secret_santa.go", False), ("tokenizer.json", False), ("README.md", False),
])
def test_secret_table(tmp_path, rel, secret):
    assert is_secret(rel) is secret
    make_tree(tmp_path, {rel: "value = 1"})
    report = discover(tmp_path, IndexSettings())
    if secret:
        assert report.skipped["secret"] == 1 and report.files == []
    else:
        assert report.skipped["secret"] == 0


def test_content_checks(tmp_path):
    make_tree(tmp_path, {
        "ok.md": "hello",
        "blob.txt": b"abc\x00def",
        "huge.md": "x" * (3 * 1024),
        "empty.md": "",
        "blank.md": "   \n\n",
        "image.png": b"\x89PNG",
    })
    report = discover(tmp_path, IndexSettings(max_file_size_kb=2))
    assert [f.path for f in report.files] == ["ok.md"]
    assert report.skipped == {"binary": 1, "too-large": 1, "empty": 2, "unsupported": 1}
    assert report.examples["binary"] == ["blob.txt"]
    f = report.files[0]
    assert f.size == 5 and f.abs_path == tmp_path / "ok.md" and f.mtime_ns > 0


def test_symlinks_are_not_followed(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    make_tree(root, {"real.md": "r", "dir/a.md": "a"})
    make_tree(outside, {"leak.md": "secret stuff"})
    os.symlink(outside / "leak.md", root / "leak.md")
    os.symlink(outside, root / "outdir")
    os.symlink(root / "dir", root / "loop")  # inside: would duplicate and could loop
    os.symlink(root, root / "dir" / "up")
    report = discover(root, IndexSettings())
    assert [f.path for f in report.files] == ["dir/a.md", "real.md"]
    assert report.skipped["symlink-outside"] == 2
    assert report.skipped["symlink-inside"] == 2
    assert check_file(root, "leak.md", IndexSettings(), IgnoreRules(root, IndexSettings())) == "symlink-outside"
    assert check_file(root, "outdir/leak.md", IndexSettings(), IgnoreRules(root, IndexSettings())) == "symlink-outside"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    make_tree(tmp_path, {"locked.md": "x"})
    (tmp_path / "locked.md").chmod(0)
    try:
        assert discover(tmp_path, IndexSettings()).skipped["unreadable"] == 1
    finally:
        (tmp_path / "locked.md").chmod(0o644)


def test_reading_replaces_invalid_utf8_and_strips_bom(tmp_path):
    from ragls.index.preparation import decode_text, prepare_file

    data = b"\xef\xbb\xbfcaf\xc3\xa9 \xff\xfe end\n"
    assert decode_text(data) == "café \ufffd\ufffd end\n"
    (tmp_path / "x.md").write_bytes(data)
    prepared = prepare_file("x.md", str(tmp_path / "x.md"), None)
    assert prepared.error is None and prepared.chunks[0][2] == "café \ufffd\ufffd end"
    missing = prepare_file("missing.md", str(tmp_path / "missing.md"), None)
    assert missing.error and missing.chunks is None  # a file gone mid-run: reported, not raised


@pytest.mark.parametrize("sample, binary", [(b"plain text", False), (b"a\x00b", True), (b"", False),
                                            (b"x" * 9000 + b"\x00", False)])
def test_looks_binary(sample, binary):
    assert looks_binary(sample) is binary


def test_check_file_matches_discover(tmp_path):
    make_tree(tmp_path, {
        ".gitignore": "gen/\n*.tmp.md\n", "a.md": "a", "gen/b.md": "b", "c.tmp.md": "c",
        "node_modules/d.js": "d", ".env": "K=V", "e.bin": b"\x00", "f.md": b"\x00\x01",
        "venv/pyvenv.cfg": "x", "venv/g.py": "g = 1", "env/conda-meta/history": "x", "env/h.py": "h = 1",
    })
    settings = IndexSettings()
    rules = IgnoreRules(tmp_path, settings)
    result = check_file(tmp_path, "a.md", settings, rules)
    assert isinstance(result, WorkspaceFile) and result.path == "a.md" and result.size == 1
    assert [check_file(tmp_path, rel, settings, rules) for rel in (
        "gen/b.md", "c.tmp.md", "node_modules/d.js", ".env", "e.bin", "f.md", "venv/g.py", "env/h.py", "gone.md", "../x.md",
    )] == ["ignored", "ignored", "ignored-dir", "secret", "unsupported", "binary", "ignored-dir", "ignored-dir", "missing", "outside"]
    found = {f.path for f in discover(tmp_path, settings).files}
    assert "a.md" in found and "env/h.py" not in found and "venv/g.py" not in found  # discover agrees


def test_new_rules_after_an_ignore_file_changes(tmp_path):
    # What WorkspaceIndex.sync does: a change to an ignore file means fresh rules.
    make_tree(tmp_path, {"docs/a.md": "a", "docs/b.md": "b"})
    settings = IndexSettings()
    assert not IgnoreRules(tmp_path, settings).is_ignored("docs/a.md")
    (tmp_path / "docs" / ".gitignore").write_text("a.md\n")
    assert IgnoreRules.is_ignore_file("docs/.gitignore") and IgnoreRules.is_ignore_file(".git/info/exclude")
    assert not IgnoreRules.is_ignore_file("docs/a.md") and not IgnoreRules.is_ignore_file(".git/config")
    rules = IgnoreRules(tmp_path, settings)
    assert rules.is_ignored("docs/a.md") and not rules.is_ignored("docs/b.md")
    (tmp_path / ".gitignore").write_text("docs/\n")
    assert IgnoreRules(tmp_path, settings).is_ignored("docs/b.md")  # inside an ignored directory


def test_deep_tree_and_files_vanishing_mid_walk(tmp_path, monkeypatch):
    deep = tmp_path
    for k in range(60):
        deep = deep / f"d{k}"
    make_tree(deep, {"leaf.md": "leaf"})
    make_tree(tmp_path, {"gone.md": "g"})
    real_scandir = os.scandir

    def scandir_then_delete(path):  # the file is listed, then removed before it is read
        it = real_scandir(path)
        if Path(path) == tmp_path and (tmp_path / "gone.md").exists():
            (tmp_path / "gone.md").unlink()
        return it

    monkeypatch.setattr(os, "scandir", scandir_then_delete)
    report = discover(tmp_path, IndexSettings())
    assert [f.path.rsplit("/", 1)[-1] for f in report.files] == ["leaf.md"]
    assert report.files[0].path.count("/") == 60
