"""``ragls eval --answers``: what users read, measured per configuration (extractive, a model, a
model with each adapter set).

Question files are JSON lines, either answerable
``{"id", "question", "gold": [paths or {"path", "start", "end"}], "facts": ["40 seconds", ...]}``
or not ``{"id", "question", "unanswerable": true}``; an optional ``"split": "tune"|"test"``
(otherwise the id's parity decides, as in ``ragls eval --split``).

Every configuration answers through ``ragls.answering.Answerer.ask`` over the same
``WorkspaceIndex``: the server's own path. Latency is the whole ``ask`` call; time to first token is
the first ``on_delta`` call (for an extractive answer, the whole answer arrives at once).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ragls.core.types import Answer
from ragls.evaluation.answer_scoring import AnswerScore, score_answer
from ragls.evaluation.beir import DatasetError, _jsonl
from ragls.evaluation.metrics import percentile
from ragls.evaluation.workspace_eval import _gold_path, in_split


@dataclass(frozen=True, slots=True)
class AnswerQuestion:
    id: str
    text: str
    gold: tuple[str, ...] = ()  # workspace-relative paths
    facts: tuple[str, ...] = ()
    unanswerable: bool = False
    split: str = ""


def load_answer_questions(path: str | Path, split: str = "all") -> list[AnswerQuestion]:
    questions: list[AnswerQuestion] = []
    for number, row in _jsonl(Path(path)):
        where = f"{path}:{number}"
        text = row.get("question")
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f"{where}: a question needs a non-empty 'question'")
        qid = str(row.get("id", f"line{number}"))
        row_split = row.get("split")
        if row_split not in (None, "tune", "test"):
            raise DatasetError(f"{where}: 'split' must be 'tune' or 'test', not {row_split!r}")
        if row_split is None:
            row_split = "tune" if in_split(qid, "tune") else "test"
        if split != "all" and row_split != split:
            continue
        if row.get("unanswerable") is True:
            questions.append(AnswerQuestion(qid, text, unanswerable=True, split=row_split))
            continue
        gold, facts = row.get("gold"), row.get("facts")
        if not isinstance(gold, list) or not gold:
            raise DatasetError(f"{where}: an answerable question needs a non-empty 'gold' list (or \"unanswerable\": true)")
        if not isinstance(facts, list) or not facts or not all(isinstance(f, str) and f.strip() for f in facts):
            raise DatasetError(f"{where}: an answerable question needs 'facts': a non-empty list of strings")
        paths = tuple(_gold_path(g) for g in gold)
        if any(p is None for p in paths):
            raise DatasetError(f"{where}: gold entries are paths or {{'path', 'start', 'end'}} objects")
        questions.append(AnswerQuestion(qid, text, tuple(p for p in paths if p), tuple(facts), split=row_split))
    if not questions:
        raise DatasetError(f"{path}: no questions{'' if split == 'all' else f' in split {split!r}'}")
    return questions


@dataclass(slots=True)
class Outcome:
    question: AnswerQuestion
    answer: Answer
    score: AnswerScore
    ms: float
    first_token_ms: float | None


@dataclass(slots=True)
class ConfigSummary:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    note: str = ""  # e.g. why a model configuration could not run

    def model_ran(self) -> bool:
        """Whether a model answered any question here (the guard rows mean nothing otherwise)."""
        return any(o.answer.source != "extractive" or o.answer.removed_sentences for o in self.outcomes)

    def rows(self) -> dict[str, float | None]:
        """The table's rows; None where no question of that kind was asked (or no configuration ran)."""
        answerable = [o for o in self.outcomes if not o.question.unanswerable]
        unanswerable = [o for o in self.outcomes if o.question.unanswerable]
        answered = [o for o in self.outcomes if o.score.answered]
        scores = [o.score for o in self.outcomes]
        facts = sum(o.score.facts_total for o in answerable)
        citations = sum(s.citations for s in scores)
        sentences = sum(s.sentences for s in scores)
        latencies = [o.ms for o in self.outcomes]
        firsts = [o.first_token_ms for o in self.outcomes if o.first_token_ms is not None]
        removed = sum(o.answer.removed_sentences for o in self.outcomes)

        def share(part: float, whole: float) -> float | None:
            return part / whole if whole else None

        return {
            "answered": share(sum(o.score.answered for o in answerable), len(answerable)),
            "declined": share(sum(not o.score.answered for o in unanswerable), len(unanswerable)),
            "fact_recall": share(sum(o.score.facts_found for o in answerable), facts),
            "exact": share(sum(o.score.exact for o in answerable), len(answerable)),
            "gold_cited": share(sum(o.score.gold_cited for o in answerable), len(answerable)),
            "citation_validity": share(sum(s.citations_valid for s in scores), citations),
            "citation_support": share(sum(s.sentences_supported for s in scores), sentences),
            "repeated": share(sum(s.sentences_repeated for s in scores), sentences),
            "unrelated": share(sum(s.sentences_unrelated for s in scores), sentences),
            # of the model's sentences, the share the grounded guard removed (before the user saw them)
            "guard_removed": share(removed, removed + sum(o.score.sentences for o in self.outcomes if o.answer.source != "extractive"))
            if self.model_ran()
            else None,
            "guard_fallbacks": share(sum(o.answer.removed_sentences > 0 and o.answer.source == "extractive" for o in self.outcomes), len(self.outcomes))
            if self.model_ran()
            else None,
            "sentences": share(sentences, len(answered)),
            "sentences_max": float(max((o.score.sentences for o in answered), default=0)) if answered else None,
            "words": share(sum(o.score.words for o in answered), len(answered)),
            "latency_p50_ms": percentile(latencies, 50) if latencies else None,
            "latency_p95_ms": percentile(latencies, 95) if latencies else None,
            "first_token_p50_ms": percentile(firsts, 50) if firsts else None,
            "first_token_p95_ms": percentile(firsts, 95) if firsts else None,
        }


# (key in ConfigSummary.rows(), label, kind) in table order; kind: "%" share, "f" fraction, "n" number, "ms"
ROWS: tuple[tuple[str, str, str], ...] = (
    ("answered", "answered % of answerable", "%"),
    ("declined", "declined % of unanswerable", "%"),
    ("fact_recall", "fact recall", "f"),
    ("exact", "exact answers (all facts)", "%"),
    ("gold_cited", "gold page cited", "%"),
    ("citation_validity", "citation validity", "%"),
    ("citation_support", "citation support", "%"),
    ("repeated", "repeated sentences", "%"),
    ("unrelated", "unrelated sentences", "%"),
    ("guard_removed", "model sentences removed by the guard", "%"),
    ("guard_fallbacks", "answers the guard sent to extractive", "%"),
    ("sentences", "sentences per answer", "n"),
    ("sentences_max", "sentences, most", "n"),
    ("words", "words per answer", "n"),
    ("latency_p50_ms", "latency p50 ms", "ms"),
    ("latency_p95_ms", "latency p95 ms", "ms"),
    ("first_token_p50_ms", "first token p50 ms", "ms"),
    ("first_token_p95_ms", "first token p95 ms", "ms"),
)


class Progress:
    """``answering [extractive] ████···  40/236`` on stderr (a terminal), a line every 10 s otherwise."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.tty = stream.isatty()
        self._last = 0.0

    def __call__(self, label: str, done: int) -> None:
        now = time.monotonic()
        finished = done >= self.total
        if self.tty:
            filled = 30 * done // self.total
            self.stream.write(f"\ranswering [{label}] {'█' * filled}{'·' * (30 - filled)} {done}/{self.total}")
            if finished:
                self.stream.write("\n")
            self.stream.flush()
        elif finished or now - self._last > 10:
            self._last = now
            print(f"answering [{label}]: {done}/{self.total}", file=self.stream)


# question text, on_delta -> Answer (an Answerer.ask with the configuration's options bound)
AskFn = Callable[[str, Callable[[str], None]], Answer]


def run_config(
    name: str,
    questions: Sequence[AnswerQuestion],
    ask: AskFn,
    read_lines,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> ConfigSummary:
    summary = ConfigSummary(name)
    for done, question in enumerate(questions, 1):
        first: list[float] = []
        started = time.perf_counter()

        def on_delta(_text: str) -> None:
            if not first:
                first.append(time.perf_counter())

        answer = ask(question.text, on_delta)
        ended = time.perf_counter()
        score = score_answer(question.text, answer, facts=question.facts, gold_paths=question.gold, read_lines=read_lines)
        summary.outcomes.append(
            Outcome(question, answer, score, (ended - started) * 1000, (first[0] - started) * 1000 if first else None)
        )
        if progress is not None:
            progress(name, done)
    return summary


def file_reader(root: str | Path) -> Callable[[str, str], list[str] | None]:
    """Lines of workspace files as they are on disk now (what a citation must point into), cached."""
    base = Path(root).resolve()
    cache: dict[tuple[str, str], list[str] | None] = {}

    def read(path: str, citation_root: str) -> list[str] | None:
        key = (path, citation_root)
        if key not in cache:
            folder = Path(citation_root) if citation_root else base
            try:
                cache[key] = (folder / path).read_text(encoding="utf-8", errors="replace").split("\n")
            except OSError:
                cache[key] = None
        return cache[key]

    return read


def _cell(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "%":
        return f"{value:.1%}"
    if kind == "f":
        return f"{value:.3f}"
    if kind == "ms":
        return f"{value:.1f}"
    return f"{value:.1f}"


def format_table(summaries: Iterable[ConfigSummary]) -> str:
    summaries = list(summaries)
    width = max([14, *(len(s.name) + 2 for s in summaries)])
    lines = [f"{'':<28}" + "".join(f"{s.name:>{width}}" for s in summaries)]
    all_rows = [s.rows() for s in summaries]
    for key, label, kind in ROWS:
        lines.append(f"{label:<28}" + "".join(f"{_cell(rows[key], kind):>{width}}" for rows in all_rows))
    for s in summaries:
        if s.note:
            lines.append(f"{s.name}: {s.note}")
    return "\n".join(lines)


def format_per_query(summary: ConfigSummary) -> str:
    """Every question of one configuration, failures first (wrong abstention, missing facts)."""

    def badness(o: Outcome) -> tuple:
        q, s = o.question, o.score
        wrong = s.answered if q.unanswerable else not s.answered
        return (not wrong, s.facts_found - s.facts_total, -len(s.problems), o.question.id)

    out = []
    for o in sorted(summary.outcomes, key=badness):
        q, s = o.question, o.score
        if q.unanswerable:
            status = "answered (should decline)" if s.answered else "declined"
        else:
            status = f"facts {s.facts_found}/{s.facts_total}" + ("" if s.answered else " declined")
            status += ", gold cited" if s.gold_cited else ", gold not cited"
        out.append(f"\n[{summary.name}] {q.id} {status}  {o.ms:.0f} ms")
        out.append(f"  Q: {q.text}")
        if s.missing_facts:
            out.append(f"  missing: {', '.join(s.missing_facts)}")
        out.append(f"  A: {o.answer.text[:400]}")
        out.append("  sources: " + ", ".join(c.location for c in o.answer.citations))
        for problem in s.problems:
            out.append(f"  ! {problem}")
    return "\n".join(out)


def to_json(summaries: Iterable[ConfigSummary], *, per_query: bool = False) -> dict:
    payload: dict = {"configurations": []}
    for s in summaries:
        entry: dict = {"name": s.name, "questions": len(s.outcomes), "rows": {k: (None if v is None else round(v, 4)) for k, v in s.rows().items()}}
        if s.note:
            entry["note"] = s.note
        if per_query:
            entry["perQuery"] = [
                {
                    "id": o.question.id, "question": o.question.text, "unanswerable": o.question.unanswerable,
                    "answered": o.score.answered, "facts": list(o.question.facts), "missingFacts": list(o.score.missing_facts),
                    "goldCited": o.score.gold_cited, "sentences": o.score.sentences, "problems": list(o.score.problems),
                    "ms": round(o.ms, 2), "firstTokenMs": None if o.first_token_ms is None else round(o.first_token_ms, 2),
                    "answer": o.answer.text, "citations": [c.location for c in o.answer.citations],
                }
                for o in s.outcomes
            ]
        payload["configurations"].append(entry)
    return payload


def dumps(payload: dict) -> str:
    return json.dumps(payload, indent=2)
