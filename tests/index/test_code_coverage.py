"""Abstention on code, on a real index: a question in words is covered by code only when its words
sit together (a comment, a docstring, a few lines), and a passage that merely quotes the question
does not cover it."""

from __future__ import annotations

from pathlib import Path

from ragls.index.retrieval import RetrievalParams, Retriever, without_quotes_of
from ragls.index.workspace_index import WorkspaceIndex

# Every word of the question occurs in this function, but far apart and about other things.
SCATTERED = '''def sync_folder(folder, budget):
    """Walk a folder and hand its files to the indexer."""
    for name in folder.names():
        if name.endswith(".lock"):
            continue
        handle = open_handle(name)
        pending.append(handle)
    report(len(pending))
    flush(pending)
    retry = 3
    while retry:
        retry -= 1
        wait_a_moment()
    close_handles(pending)
    pending.clear()
    log_summary(folder)
    notify_watchers(folder)
    certificate = load_chain()
    return certificate.rotation
'''

# The same words, together in one docstring: this answers the question.
TOGETHER = '''def renew_certificate(chain):
    """Certificates are renewed by the rotation task one day before they expire; the retry budget
    applies to every renewal attempt."""
    return chain.renew()
'''


def _index(tmp_path: Path, files: dict[str, str]) -> WorkspaceIndex:
    root = tmp_path / "ws"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    return index


QUESTION = "When does the rotation task renew a certificate, and what retry budget applies?"


def test_code_whose_words_are_scattered_does_not_cover_a_question(tmp_path: Path):
    index = _index(tmp_path, {"src/sync.py": SCATTERED})
    ranking = index.retriever.rank(QUESTION, limit=3)
    assert ranking.hits and ranking.hits[0].chunk.kind == "code"
    assert not ranking.covered
    # the whole-chunk share alone would have answered
    loose = Retriever(index.retriever._index, RetrievalParams(code_window_lines=0)).rank(QUESTION, limit=3)
    assert loose.covered and loose.confidence > ranking.confidence
    index.close()


def test_code_whose_words_are_together_covers_it(tmp_path: Path):
    index = _index(tmp_path, {"src/certs.py": TOGETHER})
    ranking = index.retriever.rank(QUESTION, limit=3)
    assert ranking.covered, ranking.confidence
    index.close()


def test_a_name_the_code_defines_is_covered_however_its_words_lie(tmp_path: Path):
    index = _index(tmp_path, {"src/sync.py": SCATTERED})
    assert index.retriever.rank("sync_folder", limit=3).covered
    index.close()


def test_a_quote_of_the_question_is_not_a_match():
    question = "How many times are uploads retried by default?"
    quoting = 'def test_answers():\n    ask("How many times are uploads retried by default?")\n'
    assert "uploads" not in without_quotes_of(question, quoting)
    # punctuation and case aside
    assert "uploads" not in without_quotes_of(question, "# how many times, are Uploads retried by default")
    # an answer that repeats some words is not a quote
    answer = "Uploads are retried 3 times by default."
    assert without_quotes_of(question, answer) == answer
    # short questions are never treated as quoted
    assert without_quotes_of("uploads retried?", "uploads retried?") == "uploads retried?"


def test_a_test_that_quotes_a_question_does_not_cover_it(tmp_path: Path):
    index = _index(tmp_path, {"tests/test_faq.py": 'def test_faq(ask):\n    assert ask("How many times are uploads retried by default?")\n'})
    ranking = index.retriever.rank("How many times are uploads retried by default?", limit=3)
    assert not ranking.covered, ranking.confidence
    index.close()
