"""The gate of pseudo-relevance feedback: expansion only when the best first-pass chunk lacks much of
the query (low idf-weighted coverage). A real Tantivy index through :class:`BeirIndex`.
"""

import dataclasses

from ragls.evaluation.beir import BeirDataset, BeirIndex
from ragls.index.retrieval import RetrievalParams

FILLER = [f"note{i} about scheduling workloads onto nodes of the cluster" for i in range(16)]
CORPUS = {
    "quota": ("Resource quotas", "a resource quota caps what one namespace may consume; admins set hardlimits per namespace"),
    **{f"f{i}": ("", text) for i, text in enumerate(FILLER)},
}


def expansion_terms(index: BeirIndex, query: str) -> int:
    ranking = index.retriever.rank(query, limit=3, max_per_file=1, explain=True)
    return ranking.hits[0][2].get("prf_terms", 0)


def test_feedback_runs_only_when_the_best_chunk_misses_the_query():
    index = BeirIndex(BeirDataset(corpus=CORPUS, queries={}, qrels={}))
    try:
        # The best chunk holds every query word: no feedback (it would only drift).
        assert expansion_terms(index, "resource quota namespace") == 0
        # Two rare query words no chunk contains: coverage is low, feedback adds the best chunk's words.
        assert expansion_terms(index, "quota zygomorphic xerophyte") > 0
        # Gate above 1: always; prf_docs 0: never.
        index.retriever.params = dataclasses.replace(RetrievalParams(), prf_gate=1.01)
        assert expansion_terms(index, "resource quota namespace") > 0
        index.retriever.params = dataclasses.replace(RetrievalParams(), prf_docs=0)
        assert expansion_terms(index, "quota zygomorphic xerophyte") == 0
    finally:
        index.close()


def test_beir_title_field_holds_the_title_not_the_document_id():
    # A number in a query must not match the document whose corpus id it happens to be.
    corpus = {"2000": ("", "unrelated text about cells"), "7": ("", "prevalence of 2000 cases in the UK")}
    index = BeirIndex(BeirDataset(corpus=corpus, queries={}, qrels={}))
    try:
        ranking = index.retriever.rank("2000", limit=5, max_per_file=1)
        assert [chunk.path for _, chunk, _ in ranking.hits] == ["7"]
    finally:
        index.close()
