"""Ranking metrics (pure): nDCG@k, MRR@k, Recall@k, latency percentiles.

Conventions follow ``trec_eval``/``pytrec_eval`` as used by BEIR, so numbers compare with
published tables: gain is the graded relevance itself (not 2^rel - 1), the discount is
log2(rank + 1), the ideal ranking is built from *all* judged relevant items of the query (not only
the retrieved ones), and items with relevance <= 0 count as not relevant. A ranking may contain an
item only once; later repeats are ignored (a file retrieved through two chunks counts once).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence


def _dedup(ranking: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ranking))


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def ndcg_at_k(ranking: Sequence[str], qrels: Mapping[str, float], k: int) -> float:
    """Normalised discounted cumulative gain of the first ``k`` items (0 when nothing is relevant)."""
    ideal = sorted((r for r in qrels.values() if r > 0), reverse=True)[:k]
    best = dcg(ideal)
    if best <= 0:
        return 0.0
    gains = [max(0.0, float(qrels.get(item, 0))) for item in _dedup(ranking)[:k]]
    return dcg(gains) / best


def mrr_at_k(ranking: Sequence[str], qrels: Mapping[str, float], k: int) -> float:
    """Reciprocal rank of the first relevant item within the first ``k`` (0 if none)."""
    for rank, item in enumerate(_dedup(ranking)[:k], 1):
        if qrels.get(item, 0) > 0:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranking: Sequence[str], qrels: Mapping[str, float], k: int) -> float:
    """Share of the relevant items found in the first ``k`` (0 when nothing is relevant)."""
    relevant = {item for item, r in qrels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_dedup(ranking)[:k])) / len(relevant)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# The metric set ``ragls eval`` reports, as (name, function, k).
METRICS = (
    ("nDCG@10", ndcg_at_k, 10),
    ("MRR@10", mrr_at_k, 10),
    ("Recall@5", recall_at_k, 5),
    ("Recall@10", recall_at_k, 10),
    ("Recall@100", recall_at_k, 100),
)


def score_query(ranking: Sequence[str], qrels: Mapping[str, float]) -> dict[str, float]:
    return {name: fn(ranking, qrels, k) for name, fn, k in METRICS}


def mean_scores(per_query: Iterable[Mapping[str, float]]) -> dict[str, float]:
    rows = list(per_query)
    if not rows:
        return {name: 0.0 for name, _, _ in METRICS}
    return {name: sum(row[name] for row in rows) / len(rows) for name, _, _ in METRICS}
