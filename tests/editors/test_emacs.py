"""A real editor as the client: Emacs with eglot runs the snippet of docs/EDITORS.md verbatim.

Needs ``emacs`` with eglot (Debian bookworm: ``apt-get install -y emacs-nox elpa-eglot`` gives Emacs
28.2 and eglot 1.9; Emacs 29+ ships eglot); skipped without them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

EMACS = shutil.which("emacs")
SCRIPT = Path(__file__).with_name("eglot_test.el")
NOTES = """\
Release notes

The session now reads retry_policy from the settings file.
"""


def emacs_snippet(editors_doc: Path) -> str:
    """The elisp block of the Emacs section of docs/EDITORS.md: what users copy."""
    section = editors_doc.read_text().split("## Emacs", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```elisp\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Emacs section should hold one elisp block"
    return blocks[0]


def has_eglot() -> bool:
    if EMACS is None:
        return False
    probe = subprocess.run([EMACS, "--batch", "--eval", "(require 'eglot)"], capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.mark.skipif(not has_eglot(), reason="emacs with eglot is not installed")
def test_emacs_eglot_hover_and_ask_with_the_documented_snippet(tmp_path: Path, editor) -> None:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "retry.md").write_text(editor.RETRY_DOC)
    (root / "notes.txt").write_text(NOTES)
    snippet = tmp_path / "ragls-snippet.el"
    snippet.write_text(emacs_snippet(editor.EDITORS_DOC))
    cited_line = editor.CITED_LINE
    # the snippet runs "ragls --stdio" (the ragls of this Python, first on PATH) with no index
    # option: the index goes to the isolated home's cache
    env = editor.hover_env(
        tmp_path, root, root / "notes.txt", 3, "retry_policy",
        RAGLS_TEST_SNIPPET=str(snippet),
        RAGLS_TEST_QUESTION=editor.QUESTION,
    )
    proc = subprocess.run(
        [EMACS, "--batch", "-l", str(SCRIPT)], env=env, cwd=root, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    hover = editor.between(proc.stdout, "HOVER-BEGIN", "HOVER-END")
    assert f"docs/retry.md:{cited_line}-{cited_line}" in hover and "retry_policy" in hover
    assert "notes.txt" not in hover  # the hovered line itself is not cited
    answer = editor.between(proc.stdout, "ASK-BEGIN", "ASK-END")
    # grep-style citation lines: absolute path, 1-based line, [id], title
    assert f"{root / 'docs' / 'retry.md'}:{cited_line}: [1] Retries > Retry policy" in answer, answer
    assert "[1]" in answer.split("\n\n", 1)[0]  # the answer text cites it
    assert editor.between(proc.stdout, "ASK-MODE-BEGIN", "ASK-MODE-END") == "grep-mode"
