"""BEIR-format data sets through ragls's own index and retriever.

Each corpus document becomes one :class:`Chunk` (title -> heading, text -> body) and goes into a
temporary Tantivy index through :func:`chunk_to_document` — the same fields and analyzers as
workspace chunks — and queries go through :class:`Retriever`, the same query pipeline the server
uses. So a change to the schema or the retriever shows up here exactly as users would see it.

Layout (as distributed by BEIR): ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``), ``qrels/<split>.tsv`` (header, then ``query-id  corpus-id  score``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import tantivy

from ragls.core.types import Chunk
from ragls.evaluation.runs import Question, Ranked
from ragls.index.retrieval import RetrievalParams, Retriever
from ragls.core.letters import fold_letters
from ragls.index.schema import build_schema, prepare_chunk, prepared_to_document


class DatasetError(ValueError):
    """A data set file is missing or malformed (the message names the file and line)."""


@dataclass(frozen=True, slots=True)
class BeirDataset:
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, float]]  # query id -> {doc id: relevance}

    def questions(self) -> list[Question]:
        """Judged queries only, in qrels order (unjudged queries cannot be scored)."""
        return [Question(qid, self.queries[qid], rels) for qid, rels in self.qrels.items() if qid in self.queries]


def _jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise DatasetError(f"missing file: {path}")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object")
            yield number, row


def load_queries(path: Path) -> dict[str, str]:
    """``{"_id", "text"}`` lines (``id``/``question`` are accepted too)."""
    queries: dict[str, str] = {}
    for number, row in _jsonl(path):
        qid = row.get("_id", row.get("id"))
        text = row.get("text", row.get("question"))
        if qid is None or not isinstance(text, str):
            raise DatasetError(f"{path}:{number}: a query needs '_id' and 'text'")
        queries[str(qid)] = text
    return queries


def load_beir(directory: str | Path, split: str = "test") -> BeirDataset:
    root = Path(directory)
    corpus: dict[str, tuple[str, str]] = {}
    for number, row in _jsonl(root / "corpus.jsonl"):
        if "_id" not in row or not isinstance(row.get("text", ""), str):
            raise DatasetError(f"{root / 'corpus.jsonl'}:{number}: a document needs '_id' and 'text'")
        corpus[str(row["_id"])] = (str(row.get("title") or ""), row.get("text") or "")
    queries = load_queries(root / "queries.jsonl")
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise DatasetError(f"missing file: {qrels_path}")
    qrels: dict[str, dict[str, float]] = {}
    for number, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("\t") if "\t" in line else line.split()
        if not fields or not line.strip():
            continue
        if number == 1 and fields[0] == "query-id":
            continue
        if len(fields) < 3:
            raise DatasetError(f"{qrels_path}:{number}: expected 'query-id corpus-id score'")
        try:
            score = float(fields[2])
        except ValueError:
            raise DatasetError(f"{qrels_path}:{number}: score is not a number: {fields[2]!r}") from None
        qrels.setdefault(fields[0], {})[fields[1]] = score
    return BeirDataset(corpus=corpus, queries=queries, qrels=qrels)


def document_chunk(doc_id: str, title: str, text: str) -> Chunk:
    """A BEIR document as a workspace chunk would look: the title is its one heading."""
    return Chunk(
        path=doc_id,
        start_line=1,
        end_line=text.count("\n") + 1,
        text=text,
        kind="text",
        heading=(title,) if title.strip() else (),
    )


def _beir_document(chunk: Chunk) -> tantivy.Document:
    """The workspace document of ``chunk`` with the title field holding the BEIR title only.

    A workspace chunk's title field also gets the words of its file name (``retry-policy.md`` ->
    "retry policy"); here the "file name" is a corpus id (``4983``), not content: left in, a number
    in a query ("1/2000 in UK") matches the document whose id it happens to be.
    """
    start, end, body, _title, ident, symbols, meta, text = prepare_chunk(chunk)
    title = fold_letters(" ".join(chunk.heading))
    return prepared_to_document(chunk.path, (start, end, body, title, ident, symbols, meta, text))


class BeirIndex:
    """A temporary index of a BEIR corpus, searched with :class:`Retriever`."""

    def __init__(self, dataset: BeirDataset, params: RetrievalParams = RetrievalParams(), index_dir: str | Path | None = None) -> None:
        self._tmp = None
        if index_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ragls-beir-")
            index_dir = self._tmp.name
        Path(index_dir).mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(build_schema(), path=str(index_dir), reuse=False)
        writer = self.index.writer(heap_size=128_000_000, num_threads=1)
        for doc_id, (title, text) in dataset.corpus.items():
            writer.add_document(_beir_document(document_chunk(doc_id, title, text)))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.retriever = Retriever(self.index, params)

    def rank(self, question: str, depth: int = 100) -> Ranked:
        # rank(): the retrieval pipeline without snippets (presentation is not retrieval latency)
        ranking = self.retriever.rank(question, limit=depth, max_per_file=1)
        return Ranked(tuple(ranked.chunk.path for ranked in ranking.hits), ranking.covered, ranking.confidence)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
