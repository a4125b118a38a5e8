"""A real editor as the client: Emacs with eglot runs the snippet of docs/EDITORS.md verbatim.

Needs ``emacs`` with eglot (Debian bookworm: ``apt-get install -y emacs-nox elpa-eglot`` gives Emacs
28.2 and eglot 1.9; Emacs 29+ ships eglot); skipped without them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EMACS = shutil.which("emacs")
SCRIPT = Path(__file__).with_name("eglot_test.el")
EDITORS_DOC = Path(__file__).resolve().parents[2] / "docs" / "EDITORS.md"

DOC = """\
# Retries

Some intro text about the client library.

## Retry policy

The `retry_policy` decides how often a failed request is sent again.
A retry_policy has a maximum number of attempts and a backoff factor.
"""

NOTES = """\
Release notes

The session now reads retry_policy from the settings file.
"""


def emacs_snippet() -> str:
    """The elisp block of the Emacs section of docs/EDITORS.md: what users copy."""
    section = EDITORS_DOC.read_text().split("## Emacs", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```elisp\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Emacs section should hold one elisp block"
    return blocks[0]


def has_eglot() -> bool:
    if EMACS is None:
        return False
    probe = subprocess.run([EMACS, "--batch", "--eval", "(require 'eglot)"], capture_output=True, timeout=60)
    return probe.returncode == 0


def between(text: str, begin: str, end: str) -> str:
    return text.split(begin + "\n", 1)[1].split("\n" + end, 1)[0]


@pytest.mark.skipif(not has_eglot(), reason="emacs with eglot is not installed")
def test_emacs_eglot_hover_and_ask_with_the_documented_snippet(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "retry.md").write_text(DOC)
    (root / "notes.txt").write_text(NOTES)
    snippet = tmp_path / "ragls-snippet.el"
    snippet.write_text(emacs_snippet())
    line = 3
    col = NOTES.splitlines()[line - 1].index("retry_policy") + 2
    cited_line = next(n for n, text in enumerate(DOC.splitlines(), 1) if "decides how often" in text)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # the index goes to the user cache (no index option in the snippet)
        # the snippet runs "ragls --stdio": the ragls of this Python first on PATH
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "RAGLS_TEST_ROOT": str(root),
        "RAGLS_TEST_FILE": str(root / "notes.txt"),
        "RAGLS_TEST_LINE": str(line),
        "RAGLS_TEST_COL": str(col),
        "RAGLS_TEST_SNIPPET": str(snippet),
        "RAGLS_TEST_QUESTION": "How often is a failed request sent again?",
    }
    proc = subprocess.run(
        [EMACS, "--batch", "-l", str(SCRIPT)], env=env, cwd=root, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    hover = between(proc.stdout, "HOVER-BEGIN", "HOVER-END")
    assert f"docs/retry.md:{cited_line}-{cited_line}" in hover and "retry_policy" in hover
    assert "notes.txt" not in hover  # the hovered line itself is not cited
    answer = between(proc.stdout, "ASK-BEGIN", "ASK-END")
    # grep-style citation lines: absolute path, 1-based line, [id], title
    assert f"{root / 'docs' / 'retry.md'}:{cited_line}: [1] Retries > Retry policy" in answer, answer
    assert "[1]" in answer.split("\n\n", 1)[0]  # the answer text cites it
    assert between(proc.stdout, "ASK-MODE-BEGIN", "ASK-MODE-END") == "grep-mode"
