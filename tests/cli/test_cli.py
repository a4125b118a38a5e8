"""The ragls command line, run as a user runs it (a real process, a real index on disk)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def ragls(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ragls", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "retry.md").write_text(
        textwrap.dedent(
            """\
            # Retries

            The client retries failed requests automatically.
            Retries are configured with the `retry_policy` setting in `client.toml`.
            Each retry waits for the backoff interval first.

            ## Logging

            Logs are written to stderr in the JSON lines format.
            """
        )
    )
    (root / ".env").write_text("API_TOKEN=super-secret-value\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    (root / "notes.txt").write_bytes(b"caf\xe9 latin-1 bytes about the espresso machine\n")
    return root


def test_index_search_ask_json(workspace, tmp_path):
    index_dir = str(tmp_path / "idx")
    done = ragls("index", str(workspace), "--index-dir", index_dir, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["files"] == 2  # retry.md and notes.txt
    assert report["skipped"].get("secret") == 1
    assert report["chunks"] >= 2

    found = json.loads(ragls("search", str(workspace), "how are retries configured", "--index-dir", index_dir, "--json").stdout)
    top = found["hits"][0]
    assert (top["path"], top["startLine"]) == ("docs/retry.md", 1)
    assert 4 in top["matchedLines"] and "**" in top["snippet"]

    answer = json.loads(ragls("ask", str(workspace), "How do I configure retries?", "--index-dir", index_dir, "--json").stdout)
    assert not answer["abstained"]
    assert "[1]" in answer["answer"]
    cited = answer["citations"][0]
    assert cited["path"] == "docs/retry.md" and cited["startLine"] <= 4 <= cited["endLine"]

    # Invalid UTF-8 was decoded with replacement, not dropped.
    latin = json.loads(ragls("search", str(workspace), "espresso machine", "--index-dir", index_dir, "--json").stdout)
    assert latin["hits"][0]["path"] == "notes.txt"
    # The secret is not searchable.
    secret = json.loads(ragls("search", str(workspace), "API_TOKEN super secret value", "--index-dir", index_dir, "--json").stdout)
    assert all(h["path"] != ".env" for h in secret["hits"])


def test_ask_abstains_when_not_covered(workspace, tmp_path):
    out = ragls("ask", str(workspace), "What is the airspeed velocity of an unladen swallow?", "--index-dir", str(tmp_path / "i"), "--json")
    answer = json.loads(out.stdout)
    assert answer["abstained"] and answer["citations"] == []
    assert "does not" in answer["answer"]


def test_text_output_has_sources_and_explain(workspace, tmp_path):
    index_dir = str(tmp_path / "idx")
    out = ragls("ask", str(workspace), "Where are logs written?", "--index-dir", index_dir)
    assert out.returncode == 0, out.stderr
    assert "Sources:" in out.stdout and "docs/retry.md:" in out.stdout
    explained = ragls("search", str(workspace), "retry_policy", "--index-dir", index_dir, "--explain")
    assert "body=" in explained.stdout and "title=" in explained.stdout


def test_missing_workspace_is_a_clear_error(tmp_path):
    out = ragls("index", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "i"))
    assert out.returncode == 2
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_prompt_progress_on_a_terminal_only():
    import io

    from ragls.cli import PromptProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    progress = PromptProgress(terminal)
    for done in (10, 10, 50, 99):
        progress(done, 100)
    progress.clear()
    progress.clear()  # nothing shown any more: writes nothing
    assert terminal.getvalue() == (
        "\rreading the passages  10%\rreading the passages  50%\rreading the passages  99%\r\033[K"
    )
    piped = io.StringIO()
    quiet = PromptProgress(piped)
    quiet(50, 100)
    quiet.clear()
    assert piped.getvalue() == ""  # a pipe or log file gets no carriage-return noise


def test_one_mapping_of_model_flags_for_ask_and_the_server():
    from ragls.cli import build_parser, raw_model_settings

    parser = build_parser()
    for argv in (
        ["ask", ".", "q", "--model", "m.gguf", "--adapter", "/models/v1:beta/terse.gguf:0.5", "--seed", "3"],
        ["--stdio", "--model", "m.gguf", "--adapter", "/models/v1:beta/terse.gguf:0.5", "--seed", "3"],
        ["serve", "--model", "m.gguf", "--adapter", "/models/v1:beta/terse.gguf:0.5", "--seed", "3"],
    ):
        raw = raw_model_settings(parser.parse_args(argv))["model"]
        assert raw["path"] == "m.gguf" and raw["seed"] == 3
        assert raw["adapters"] == [{"name": "terse", "path": "/models/v1:beta/terse.gguf", "scale": 0.5}]
        assert raw["defaultAdapters"] == ["terse"]  # answers use the adapters given on the command line
    assert raw_model_settings(parser.parse_args(["--stdio"])) == {}


def test_a_progress_bar_that_stops_short_of_100_percent_still_ends_its_line():
    """`ragls index` on a terminal: a sync that reports no final 100% step (nothing changed, or
    it stopped early) must not leave the bar's line open for the next output to run into."""
    import io
    from types import SimpleNamespace

    from ragls.cli import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    bar = ProgressBar("indexing", stream=stream)
    bar(SimpleNamespace(done_files=3, total_files=10))
    assert not stream.getvalue().endswith("\n")
    bar.finish()
    assert stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1
    bar.finish()  # idempotent: no blank line
    assert stream.getvalue().count("\n") == 1

    done = Terminal()
    full = ProgressBar("indexing", stream=done)
    full(SimpleNamespace(done_files=2, total_files=2))
    full.finish()
    assert done.getvalue().count("\n") == 1  # the bar ended its own line at 100%
