"""A real editor as the client: headless Neovim hovers a symbol and shows ragls' cited answer.

Needs ``nvim`` (Debian: ``apt-get install -y neovim``, 0.7.2 works); skipped without it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NVIM = shutil.which("nvim")
SCRIPT = Path(__file__).with_name("hover_test.lua")
SNIPPET_SCRIPT = Path(__file__).with_name("nvim_snippet_test.lua")

CODE = """\
class Session:
    def __init__(self, retry_policy=None):
        self.retry_policy = retry_policy
"""


def workspace(tmp_path: Path, doc: str) -> Path:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "retry.md").write_text(doc)
    (root / "session.py").write_text(CODE)
    return root


def run_nvim(script: Path, root: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-u", "NONE", "-c", f"luafile {script}"],
        env=env, cwd=root, capture_output=True, text=True, timeout=90,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


@pytest.mark.skipif(NVIM is None, reason="nvim is not installed")
def test_neovim_hover_shows_the_citation(tmp_path: Path, editor) -> None:
    root = workspace(tmp_path, editor.RETRY_DOC)
    cited_line = editor.CITED_LINE
    env = editor.hover_env(
        tmp_path, root, root / "session.py", 3, "retry_policy",  # `        self.retry_policy = retry_policy`
        RAGLS_TEST_PYTHON=sys.executable,
        RAGLS_TEST_INDEX_DIR=str(tmp_path / "indexes"),
    )
    stdout = run_nvim(SCRIPT, root, env)
    raw = editor.between(stdout, "RAW-BEGIN", "RAW-END")
    link = f"[docs/retry.md:{cited_line}-{cited_line}]({(root / 'docs' / 'retry.md').as_uri()}#L{cited_line})"
    assert link in raw
    shown = editor.between(stdout, "FLOAT-BEGIN", "FLOAT-END")
    assert f"docs/retry.md:{cited_line}-{cited_line}" in shown
    assert "retry_policy" in shown


def neovim_07_snippet(editors_doc: Path) -> str:
    """The Lua a Neovim 0.7 user ends up with from docs/EDITORS.md: the 0.7 section, then
    ``show_answer`` and ``:RaglsAsk`` from the section above with the client lookup the doc says to
    change replaced by ``ragls_current_client()``."""
    text = editors_doc.read_text()
    newer = re.findall(r"```lua\n(.*?)```", text.split("### Neovim ≥ 0.8", 1)[1].split("### Neovim 0.7", 1)[0], re.S)
    older = re.findall(r"```lua\n(.*?)```", text.split("### Neovim 0.7", 1)[1].split("\n## ", 1)[0], re.S)
    assert len(newer) == 1 and len(older) == 1, "each Neovim section should hold one Lua block"
    ask = newer[0][newer[0].index("local function show_answer") :]
    lookup = next(line for line in ask.splitlines() if "vim.lsp.get_active_clients(" in line)
    return older[0] + "\n" + ask.replace(lookup, "  local client = ragls_current_client()")


@pytest.mark.skipif(NVIM is None, reason="nvim is not installed")
def test_neovim_07_snippet_of_the_docs_asks_and_fills_the_quickfix_list(tmp_path: Path, editor) -> None:
    root = workspace(tmp_path, editor.RETRY_DOC)
    snippet = tmp_path / "ragls.lua"
    snippet.write_text(neovim_07_snippet(editor.EDITORS_DOC))
    cited_line = editor.CITED_LINE
    env = editor.isolated_env(
        tmp_path,
        RAGLS_TEST_SNIPPET=str(snippet),
        RAGLS_TEST_FILE=str(root / "session.py"),
        RAGLS_TEST_QUESTION=editor.QUESTION,
    )
    stdout = run_nvim(SNIPPET_SCRIPT, root, env)
    quickfix = editor.between(stdout, "QF-BEGIN", "QF-END")
    assert f"docs/retry.md:{cited_line}: [1] Retries > Retry policy" in quickfix, quickfix
    shown = editor.between(stdout, "FLOAT-BEGIN", "FLOAT-END")
    assert "[1]" in shown and f"docs/retry.md:{cited_line}" in shown, shown
