"""Question sets against a real workspace, indexed exactly as the server indexes it.

The workspace goes through :class:`WorkspaceIndex` (discovery, ignore rules, chunking, schema) and
questions through ``WorkspaceIndex.search`` — the server's own path. Files are ranked by their
best chunk: the search returns one chunk per file (``max_per_file=1``), best first.

Question files are JSON lines: ``{"id", "question", "gold": ["docs/page.md", ...]}``. A gold entry
may carry a line range (``"docs/page.md:12-30"`` or ``{"path": ..., "start": 12, "end": 30}``);
file-level metrics use only the path.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ragls.evaluation.beir import DatasetError, _jsonl
from ragls.evaluation.runs import Question, Ranked
from ragls.settings import IndexSettings

_RANGE_SUFFIX = re.compile(r":\d+(?:-\d+)?$")

SPLITS = ("all", "tune", "test")


def _gold_path(entry: object) -> str | None:
    if isinstance(entry, str):
        return _RANGE_SUFFIX.sub("", entry).removeprefix("./")
    if isinstance(entry, dict) and isinstance(entry.get("path"), str):
        return entry["path"]
    return None


def in_split(question_id: str, split: str) -> bool:
    """The documented tuning split: questions whose id ends in an even number tune, odd ones test.

    Ids without a trailing number are assigned by position parity by the caller (see
    :func:`load_questions`), so every question lands in exactly one half.
    """
    if split == "all":
        return True
    match = re.search(r"(\d+)$", question_id)
    even = match is not None and int(match.group(1)) % 2 == 0
    return even if split == "tune" else not even


def load_questions(path: str | Path, split: str = "all") -> list[Question]:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    questions: list[Question] = []
    for number, row in _jsonl(Path(path)):
        text = row.get("question", row.get("text"))
        gold = row.get("gold")
        if not isinstance(text, str) or not isinstance(gold, list) or not gold:
            raise DatasetError(f"{path}:{number}: a question needs 'question' and a non-empty 'gold' list")
        paths = [_gold_path(entry) for entry in gold]
        if any(p is None for p in paths):
            raise DatasetError(f"{path}:{number}: gold entries are paths or {{'path', 'start', 'end'}} objects")
        qid = str(row.get("id", f"line{number}"))
        if in_split(qid, split):
            questions.append(Question(qid, text, {p: 1.0 for p in paths}))
    return questions


class WorkspaceEval:
    """A workspace indexed by :class:`WorkspaceIndex` into ``index_dir`` (a temporary one by default)."""

    def __init__(self, root: str | Path, index_dir: str | Path | None = None, settings: IndexSettings = IndexSettings(), params=None) -> None:
        from ragls.index.workspace_index import WorkspaceIndex

        self._tmp = None
        if index_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ragls-eval-")
            index_dir = self._tmp.name
        self.index = WorkspaceIndex(root, settings, index_path=Path(index_dir))
        self.report = self.index.sync()
        if params is not None:  # tuning experiments only; the server uses the defaults
            from ragls.index.retrieval import Retriever

            self.index.retriever = Retriever(self.index.retriever._index, params)

    def rank(self, question: str, depth: int = 100) -> Ranked:
        # The server's retriever, without snippets (presentation is not retrieval latency).
        ranking = self.index.retriever.rank(question, limit=depth, max_per_file=1)
        return Ranked(tuple(ranked.chunk.path for ranked in ranking.hits), ranking.covered, ranking.confidence)

    def close(self) -> None:
        self.index.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
