"""Source priors on a real index: a question in words prefers docs to code, and code to its tests."""

from __future__ import annotations

from pathlib import Path

from ragls.index.retrieval import _TEST_PATH
from ragls.index.workspace_index import WorkspaceIndex

import pytest


@pytest.mark.parametrize(
    "path, is_test",
    [
        ("tests/test_api.py", True), ("pkg/test/helpers.go", True), ("src/__tests__/a.js", True),
        ("src/a.test.ts", True), ("src/a.spec.js", True), ("x_test.go", True), ("test_x.py", True),
        ("src/attestation.py", False), ("docs/testing.md", False), ("src/contest/main.py", False),
    ],
)
def test_test_paths(path, is_test):
    assert bool(_TEST_PATH.search(path)) is is_test


def test_a_question_in_words_prefers_the_doc_over_code_and_tests(tmp_path: Path):
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "tests").mkdir()
    (root / "docs" / "secrets.md").write_text("# Secrets\n\nSecret files are never indexed: keys and .env files are skipped.\n")
    code = "def skip_secret_files(index, files):\n    # secret files index skipped\n    return [f for f in files if not index.secret(f)]\n"
    (root / "src" / "secrets_filter.py").write_text(code)
    (root / "tests" / "test_secrets.py").write_text("def test_secret_files_skipped(index):\n    assert index.secret('.env')  # secret files index\n")
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    ranked = [h.chunk.path for h in index.search("How are secret files kept out of the index?").hits]
    assert ranked[0] == "docs/secrets.md"
    assert ranked.index("src/secrets_filter.py") < ranked.index("tests/test_secrets.py")
    # a code lookup is left alone: the definition wins
    assert index.search("skip_secret_files").hits[0].chunk.path == "src/secrets_filter.py"


def test_a_snake_case_definition_named_in_words_counts_as_covered():
    # "send request" matches send_request through the symbol signal's underscore-free term; the
    # coverage rescue must agree with that signal.
    from ragls.core.query import analyze_query
    from ragls.core.types import Chunk
    from ragls.index.retrieval import Retriever

    chunk = Chunk("src/c.py", 1, 2, "def send_request(r):\n    pass", "code", "python", symbols=("Client.send_request",))
    assert Retriever._symbol_hit(analyze_query("send request"), chunk)
    assert Retriever._symbol_hit(analyze_query("Client.send_request"), chunk)
    assert not Retriever._symbol_hit(analyze_query("receive request"), chunk)
