"""An answer without a model reads the other sections of the pages retrieval ranked best (a real
Tantivy index on disk, the server's own ``Answerer``): the right page is found more often than the
right passage of it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ragls.answering import Answerer
from ragls.core.requests import AnswerRequest
from ragls.index.workspace_index import WorkspaceIndex
from ragls.settings import RetrievalSettings, Settings

# The question's words are all over "Overview" and "Tuning"; the answer is in "Schedule", which
# shares only two of them (and says how often): retrieval (two passages per page) hands the first two
# sections over.
BACKUPS = textwrap.dedent(
    """\
    # Backup agent

    ## Overview

    The backup agent uploads snapshots of every volume and prunes old ones.
    Each upload of the snapshots compares the volume with the last snapshot the agent kept.
    A backup agent upload that finds no changed snapshots leaves the bucket alone.

    ## Tuning

    You can tune how the backup agent uploads snapshots with a bandwidth limit.
    An upload of the snapshots within the limit never uses more than the configured share.

    ## Schedule

    The backup agent runs as a timer inside the node supervisor.
    By default the backup agent timer fires every 15 minutes; set `--every` to change it.
    """
)
OTHER = "# Storage\n\nVolumes keep data beyond the life of a process.\nA claim requests storage from a class.\n"
QUESTION = "How often does the backup agent upload snapshots by default?"
FACT_LINE = "By default the backup agent timer fires every 15 minutes; set `--every` to change it."


@pytest.fixture
def index(tmp_path: Path):
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "backups.md").write_text(BACKUPS)
    (root / "docs" / "storage.md").write_text(OTHER)
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    index.sync()
    yield index
    index.close()


def _answer(index: WorkspaceIndex, context_pages: int):
    settings = Settings(retrieval=RetrievalSettings(passages=2, context_pages=context_pages))
    answerer = Answerer(lambda: [index], settings)
    result = answerer.retrieve(QUESTION)
    return result, answerer.ask(AnswerRequest(QUESTION), retrieved=result)


def test_the_answer_comes_from_a_section_retrieval_did_not_hand_over(index):
    result, answer = _answer(index, context_pages=2)
    assert "Schedule" not in {h.chunk.heading[-1] for h in result.hits if h.chunk.heading}, "the test needs retrieval to miss the section"
    assert "15 minutes" in answer.text
    line = BACKUPS.split("\n").index(FACT_LINE) + 1
    cited = [c for c in answer.citations if c.start_line <= line <= c.end_line]
    assert cited and cited[0].path == "docs/backups.md" and cited[0].root == str(index.root)
    # the cited lines hold the sentence, and no more than the sentence
    assert (cited[0].start_line, cited[0].end_line) == (line, line)


def test_without_page_context_only_the_retrieved_passages_answer(index):
    _, answer = _answer(index, context_pages=0)
    assert "15 minutes" not in answer.text


def test_page_hits_follow_an_unsaved_buffer(index):
    index.set_overlay("docs/backups.md", BACKUPS.replace("15 minutes", "40 minutes"))
    hits = index.page_hits("docs/backups.md")
    assert [h.chunk.start_line for h in hits] == sorted(h.chunk.start_line for h in hits)
    assert any("40 minutes" in h.chunk.text for h in hits)
    assert not any("15 minutes" in h.chunk.text for h in hits)
    assert index.page_hits("docs/missing.md") == ()


class _RecordingModel:
    """Stands in for ``ModelHost`` (ready; records the passages it is given). The real model reads
    the same passages in tests/model/test_real_models.py; this only checks which ones it gets."""

    def __init__(self) -> None:
        self.passages = None

    def status(self):
        from types import SimpleNamespace

        return SimpleNamespace(state="ready", detail="")

    def answer(self, request, hits, hooks=None, **_):
        from ragls.core.types import Answer

        self.passages = tuple(hits)
        return Answer(text="", citations=(), abstained=False)  # nothing usable: the extractive answer follows


def test_the_model_is_handed_the_section_that_holds_the_extractive_answer(index):
    model = _RecordingModel()
    settings = Settings(retrieval=RetrievalSettings(passages=2, context_pages=2))
    answerer = Answerer(lambda: [index], settings, model=model)
    result = answerer.retrieve(QUESTION)
    answer = answerer.ask(AnswerRequest(QUESTION), retrieved=result)
    assert model.passages is not None and len(model.passages) == len(result.hits)
    # the Schedule section, which retrieval did not rank, is among them (after the retrieved one it quotes)
    assert any("15 minutes" in h.chunk.text for h in model.passages)
    assert model.passages[0] in result.hits
    assert all("15 minutes" not in h.chunk.text for h in result.hits)
    # the model gave nothing usable: the user gets the extractive answer, and is told why
    assert "15 minutes" in answer.text and any("answered from the passages" in w for w in answer.warnings)
