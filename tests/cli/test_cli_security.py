"""Issue 13 items 10, 11 and the CLI's smaller items, as a user runs ragls: a real process, a real
index on disk, a workspace that a hostile or careless repository could be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GITHUB = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9q8sKx2Lm"
PEM_BODY = "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB"
SECRETS = {
    "config.py": (f'"""Deployment configuration for the orchard service."""\n\nAWS_SECRET_ACCESS_KEY = "{AWS_SECRET}"\nORCHARD_REGION = "eu-west-1"\n', AWS_SECRET),
    "deploy.sh": (f"#!/bin/sh\n# Deploy the orchard service\nexport GITHUB_TOKEN={GITHUB}\ngit push origin main\n", GITHUB),
    "notes.md": (f"# Orchard notes\n\nThe orchard deploy key:\n\n-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n{PEM_BODY[::-1]}\n-----END OPENSSH PRIVATE KEY-----\n", PEM_BODY),
    "settings.yaml": ("orchard:\n  database:\n    user: orchard\n    password: Pe4r-Tr33-Gr0ve\n", "Pe4r-Tr33-Gr0ve"),
    "docker-compose.yml": ("services:\n  orchard-db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: appleblossom77\n", "appleblossom77"),
    "app.properties": ("orchard.datasource.url=jdbc:postgresql://db/orchard\norchard.datasource.password=quince-jelly-99\n", "quince-jelly-99"),
}


def ragls(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ragls", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def secret_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    for name, (text, _secret) in SECRETS.items():
        (root / name).write_text(text)
    (root / ".env").write_text("ORCHARD_API_TOKEN=plum-orchard-token-314159\n")
    os.link(root / ".env", root / "orchard-defaults.txt")  # a hard link to .env under an innocent name
    return root


def test_secret_values_never_reach_the_index_or_any_output(secret_workspace, tmp_path):
    index_dir = str(tmp_path / "idx")
    indexed = ragls("index", str(secret_workspace), "--index-dir", index_dir, "--json")
    assert indexed.returncode == 0, indexed.stderr
    report = json.loads(indexed.stdout)
    assert report["files"] == 7 and report["redactedSecrets"] >= 7
    secrets = [secret for _text, secret in SECRETS.values()] + ["plum-orchard-token-314159"]
    outputs = [indexed.stdout]
    for query in ("orchard deploy key", "orchard database password", "orchard service token", "orchard api token", "POSTGRES_PASSWORD"):
        for command in ("search", "ask"):
            for json_flag in ((), ("--json",)):
                done = ragls(command, str(secret_workspace), query, "--index-dir", index_dir, "-k", "10", *json_flag)
                assert done.returncode == 0, done.stderr
                outputs.append(done.stdout)
    everything = "\n".join(outputs)
    assert "[REDACTED]" in everything  # the passages were found, with their values redacted
    for secret in secrets:
        assert secret not in everything, secret
    # nor in the index files themselves
    stored = b"".join(p.read_bytes() for p in Path(index_dir).iterdir() if p.is_file())
    for secret in secrets:
        assert secret.encode() not in stored, secret
    text_report = ragls("index", str(secret_workspace), "--index-dir", index_dir)
    assert "redacted:" in text_report.stdout


# --- item 11: terminal control characters --------------------------------------------------------

ESCAPES = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b]0;pwned\x07\x9b31m"


def test_terminal_control_characters_in_file_text_are_neutralised_in_text_output_only(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "evil.md").write_text(f"# Marmalade\n\nThe marmalade recipe {ESCAPES} needs bitter oranges.\n")
    index_dir = str(tmp_path / "idx")
    for command in ("search", "ask"):
        done = ragls(command, str(root), "marmalade recipe bitter oranges", "--index-dir", index_dir)
        assert done.returncode == 0, done.stderr
        assert "marmalade" in done.stdout.lower()
        assert not any(c in done.stdout for c in "\x1b\x07\x9b"), repr(done.stdout)
        assert "\\x1b" in done.stdout  # shown, harmlessly, so nothing is hidden from the reader
        as_json = ragls(command, str(root), "marmalade recipe bitter oranges", "--index-dir", index_dir, "--json")
        assert "\x1b]52" in as_json.stdout or "\\u001b]52" in as_json.stdout  # --json keeps the text exact


# --- smaller items: nonsense arguments, a closed pipe ----------------------------------------------

@pytest.mark.parametrize("args", [
    ("search", "q", "-k", "0"), ("search", "q", "-k", "many"), ("search", "q", "--max-per-file", "-1"),
    ("index", "--max-file-size-kb", "0"), ("index", "--max-file-size-kb", "-5"), ("ask", "q?", "-k", "100000"),
])
def test_nonsense_numbers_are_refused_with_a_message(tmp_path, args):
    command, *rest = args
    done = ragls(command, str(tmp_path), *rest)
    assert done.returncode == 2 and "expected" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    for n in range(300):
        (root / f"note{n}.md").write_text(f"# Note {n}\n\nThe lighthouse keeper logs the lamp, the fog horn and the tide, entry {n}.\n")
    index_dir = str(tmp_path / "idx")
    assert ragls("index", str(root), "--index-dir", index_dir).returncode == 0
    errors = tmp_path / "stderr.txt"
    command = (f"{sys.executable} -m ragls search {root} 'lighthouse keeper lamp fog horn tide' -k 1000 --max-per-file 5 "
               f"--index-dir {index_dir} 2>{errors} | head -c 10")
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert len(done.stdout) == 10
    assert "Traceback" not in errors.read_text() and "BrokenPipe" not in errors.read_text(), errors.read_text()
