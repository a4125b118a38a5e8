"""What the real-editor tests share: the documented workspace page, the docs/EDITORS.md the
snippets come from, an isolated editor environment, and the marker parsing of editor output.
Test modules get them through the ``editor`` fixture (importlib import mode cannot import conftest)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

EDITORS_DOC = Path(__file__).resolve().parents[2] / "docs" / "EDITORS.md"

RETRY_DOC = """\
# Retries

Some intro text about the client library.

## Retry policy

The `retry_policy` decides how often a failed request is sent again.
A retry_policy has a maximum number of attempts and a backoff factor.
"""
# The line every answer about retry_policy should cite (1-based).
CITED_LINE = next(n for n, text in enumerate(RETRY_DOC.splitlines(), 1) if "decides how often" in text)
QUESTION = "How often is a failed request sent again?"


def between(text: str, begin: str, end: str) -> str:
    """The editor output between a ``begin`` line and an ``end`` line."""
    return text.split(begin + "\n", 1)[1].split("\n" + end, 1)[0]


def isolated_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The editor with an empty home (no user config), ``ragls`` of this Python first on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),  # the index of a server started without indexDir
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **variables,
    }


def hover_env(tmp_path: Path, root: Path, file: Path, line: int, word: str, **variables: str) -> dict[str, str]:
    """``isolated_env`` plus where the editor scripts hover: ``file`` of workspace ``root``, 1-based
    ``line``, a 1-based column inside ``word`` (its first occurrence on that line)."""
    column = file.read_text().splitlines()[line - 1].index(word) + 2
    return isolated_env(
        tmp_path,
        RAGLS_TEST_ROOT=str(root),
        RAGLS_TEST_FILE=str(file),
        RAGLS_TEST_LINE=str(line),
        RAGLS_TEST_COL=str(column),
        **variables,
    )


@pytest.fixture
def editor() -> SimpleNamespace:
    return SimpleNamespace(
        EDITORS_DOC=EDITORS_DOC, RETRY_DOC=RETRY_DOC, CITED_LINE=CITED_LINE, QUESTION=QUESTION,
        between=between, isolated_env=isolated_env, hover_env=hover_env,
    )
