"""The length floor of ``Retriever.rank``: short chunks lose BM25's short-text bonus, others keep their score.

A real Tantivy index (through :class:`BeirIndex`), so the correction is checked against Tantivy's own scores.
"""

import dataclasses

from ragls.evaluation.beir import BeirDataset, BeirIndex
from ragls.index.retrieval import RetrievalParams

FILLER = "the cluster schedules workloads onto nodes and reports their status to the control plane " * 2
CORPUS = {
    "short": ("", "quota limits"),
    "long": ("", FILLER + "a resource quota caps what one namespace may consume " + FILLER),
    **{f"f{i}": ("", FILLER + f" note {i}") for i in range(6)},
}
# Only the body signal, so the scores are Tantivy's body BM25 (plus the correction).
BODY_ONLY = RetrievalParams(title=0, ident=0, symbol=0, phrase=0, file_evidence=0, length_floor=0)


def scores(index: BeirIndex, params: RetrievalParams) -> dict[str, float]:
    index.retriever.params = params
    ranking = index.retriever.rank("quota", limit=10, max_per_file=1)
    return {chunk.path: score for score, chunk, _ in ranking.hits}


def test_floor_lowers_only_chunks_shorter_than_the_floor():
    index = BeirIndex(BeirDataset(corpus=CORPUS, queries={}, qrels={}))
    try:
        plain = scores(index, BODY_ONLY)
        assert plain["short"] > plain["long"]  # BM25 rewards the 2-word text
        floored = scores(index, dataclasses.replace(BODY_ONLY, length_floor=0.5))
        assert floored["long"] == plain["long"]  # longer than half the average: untouched
        assert floored["short"] < plain["short"]
        # A higher floor lowers it further (scored as if it were as long as the average text).
        strong = scores(index, dataclasses.replace(BODY_ONLY, length_floor=1.0))
        assert strong["short"] < floored["short"]
        assert list(strong) == sorted(strong, key=lambda p: -strong[p])  # still ranked by the corrected score
        # Off when the depth is 0.
        assert scores(index, dataclasses.replace(BODY_ONLY, length_floor=1.0, length_floor_depth=0)) == plain
    finally:
        index.close()
