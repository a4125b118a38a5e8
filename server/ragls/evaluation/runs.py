"""Running a question set against a ranker and summarising it (shared by the BEIR and workspace paths).

A *ranker* is any callable ``question -> Ranked``: the ids it ranks (documents or files, best
first) and whether retrieval judged the question covered. Timing wraps the whole call, so latency
includes query analysis, the Tantivy search and building the hits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from ragls.evaluation.metrics import mean_scores, percentile, score_query


@dataclass(frozen=True, slots=True)
class Ranked:
    ids: tuple[str, ...]
    covered: bool
    confidence: float = 0.0


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    text: str
    qrels: Mapping[str, float]  # judged id -> relevance (> 0: relevant)


@dataclass(frozen=True, slots=True)
class QueryOutcome:
    id: str
    text: str
    ranked: tuple[str, ...]
    relevant: tuple[str, ...]
    scores: dict[str, float]
    covered: bool
    confidence: float
    ms: float


@dataclass(slots=True)
class RunSummary:
    name: str
    queries: int
    metrics: dict[str, float]
    latency_p50_ms: float
    latency_p95_ms: float
    answered_rate: float  # share of questions retrieval judged covered
    outcomes: list[QueryOutcome] = field(default_factory=list)

    def to_json(self, per_query: bool = False) -> dict:
        data = {
            "name": self.name,
            "queries": self.queries,
            "metrics": {k: round(v, 4) for k, v in self.metrics.items()},
            "latencyMs": {"p50": round(self.latency_p50_ms, 2), "p95": round(self.latency_p95_ms, 2)},
            "answeredRate": round(self.answered_rate, 4),
        }
        if per_query:
            data["perQuery"] = [
                {
                    "id": o.id,
                    "question": o.text,
                    "scores": {k: round(v, 4) for k, v in o.scores.items()},
                    "covered": o.covered,
                    "confidence": round(o.confidence, 3),
                    "ms": round(o.ms, 2),
                    "top": list(o.ranked[:10]),
                    "relevant": list(o.relevant),
                }
                for o in self.outcomes
            ]
        return data


def run_questions(name: str, questions: Iterable[Question], rank: Callable[[str], Ranked], *, warmup: int = 3) -> RunSummary:
    questions = list(questions)
    for question in questions[:warmup]:  # first searches pay for loading segments; not what users see
        rank(question.text)
    outcomes: list[QueryOutcome] = []
    for question in questions:
        started = time.perf_counter()
        ranked = rank(question.text)
        ms = (time.perf_counter() - started) * 1000
        outcomes.append(
            QueryOutcome(
                id=question.id,
                text=question.text,
                ranked=ranked.ids,
                relevant=tuple(k for k, v in question.qrels.items() if v > 0),
                scores=score_query(ranked.ids, question.qrels),
                covered=ranked.covered,
                confidence=ranked.confidence,
                ms=ms,
            )
        )
    latencies = [o.ms for o in outcomes]
    return RunSummary(
        name=name,
        queries=len(outcomes),
        metrics=mean_scores(o.scores for o in outcomes),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        answered_rate=sum(o.covered for o in outcomes) / len(outcomes) if outcomes else 0.0,
        outcomes=outcomes,
    )


@dataclass(slots=True)
class AbstentionSummary:
    """Out-of-domain questions against an index: how many retrieval declined."""

    name: str
    queries: int
    declined_rate: float
    latency_p95_ms: float

    def to_json(self) -> dict:
        return {"name": self.name, "queries": self.queries, "declinedRate": round(self.declined_rate, 4),
                "latencyMs": {"p95": round(self.latency_p95_ms, 2)}}


def run_abstention(name: str, texts: Iterable[str], rank: Callable[[str], Ranked]) -> AbstentionSummary:
    declined = 0
    latencies = []
    count = 0
    for text in texts:
        started = time.perf_counter()
        ranked = rank(text)
        latencies.append((time.perf_counter() - started) * 1000)
        declined += not ranked.covered
        count += 1
    return AbstentionSummary(name, count, declined / count if count else 0.0, percentile(latencies, 95))
