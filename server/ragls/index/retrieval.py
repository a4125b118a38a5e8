"""Hybrid lexical retrieval: several BM25 signals fused into one ranking.

Signals (each a Tantivy query over one field, see ``schema.py``):

- ``body``   BM25 over stemmed chunk text (prose and code)
- ``title``  BM25 over the heading path and file-name words
- ``ident``  BM25 over identifier sub-words (``HTTPResponse`` matches "http response")
- ``symbol`` exact match of a query identifier with a name the chunk defines
- ``phrase`` adjacent query words found near each other (slop 1) in the body

Fusion is a weighted sum of the signal scores, done inside Tantivy as one boolean query of boosted
sub-queries (one pass over the postings; BM25 statistics stay per field). ``explain=True`` recomputes
each component for the returned hits. User text never reaches a query parser: ``core.query``
extracts words and we build term/phrase queries from their analysed forms.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import tantivy

from ragls.core.identifiers import camel_subwords
from ragls.core.query import QueryParts, analyze_query
from ragls.core.snippets import make_snippet, matched_lines
from ragls.core.types import Hit, SearchResult
from ragls.index.schema import STEM_ANALYZER, document_to_chunk

SIGNALS = ("body", "title", "ident", "symbol", "phrase")


@dataclass(frozen=True, slots=True)
class RetrievalParams:
    """Weights of the fused signals and the abstention threshold (tuned with ``ragls eval``)."""

    body: float = 1.0
    title: float = 1.2
    ident: float = 0.5
    symbol: float = 4.0
    phrase: float = 0.6
    candidates: int = 50  # hits fetched before the per-file cap
    min_coverage: float = 0.45  # idf-weighted share of query terms the best hit must contain


def _stems(words: tuple[str, ...] | list[str]) -> list[str]:
    stems: list[str] = []
    for word in words:
        stems.extend(STEM_ANALYZER.analyze(word))
    return list(dict.fromkeys(stems))


class Retriever:
    def __init__(self, index: tantivy.Index, params: RetrievalParams = RetrievalParams()) -> None:
        self._index = index
        self._schema = index.schema
        self.params = params

    # --- query building ------------------------------------------------------------------------

    def _terms_query(self, field: str, terms: list[str]) -> tantivy.Query | None:
        queries = [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, field, t)) for t in terms]
        if not queries:
            return None
        return queries[0][1] if len(queries) == 1 else tantivy.Query.boolean_query(queries)

    def signal_queries(self, parts: QueryParts) -> dict[str, tantivy.Query]:
        stems = _stems(parts.words)
        signals: dict[str, tantivy.Query | None] = {
            "body": self._terms_query("body", stems),
            "title": self._terms_query("title", stems),
            # every query word may be part of a camelCase identifier ("http response" ~ HTTPResponse)
            "ident": self._terms_query("ident", list(dict.fromkeys(stems + _stems(parts.subwords)))),
            "symbol": self._terms_query("symbols", list(parts.symbols)),
        }
        phrases = []
        for a, b in parts.pairs:
            pair = STEM_ANALYZER.analyze(a)[:1] + STEM_ANALYZER.analyze(b)[:1]
            if len(pair) == 2:
                phrases.append((tantivy.Occur.Should, tantivy.Query.phrase_query(self._schema, "body", pair, slop=1)))
        if phrases:
            signals["phrase"] = tantivy.Query.boolean_query(phrases)
        return {name: q for name, q in signals.items() if q is not None}

    def fused_query(self, signals: dict[str, tantivy.Query]) -> tantivy.Query:
        weighted = [
            (tantivy.Occur.Should, tantivy.Query.boost_query(q, getattr(self.params, name)))
            for name, q in signals.items()
            if getattr(self.params, name) > 0
        ]
        return tantivy.Query.boolean_query(weighted)

    # --- search --------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int = 5,
        max_per_file: int = 2,
        explain: bool = False,
        root: str = "",
    ) -> SearchResult:
        started = time.perf_counter()
        parts = analyze_query(query)
        signals = self.signal_queries(parts) if not parts.empty else {}
        if not signals:
            return SearchResult(query=query, hits=(), covered=False, elapsed_ms=_ms(started))
        searcher = self._index.searcher()
        fused = self.fused_query(signals)
        candidates = searcher.search(fused, limit=max(self.params.candidates, limit * 4), count=False).hits
        hits: list[Hit] = []
        per_file: dict[str, int] = {}
        terms = [*parts.words, *parts.subwords]
        for score, address in candidates:
            chunk = document_to_chunk(searcher.doc(address))
            if per_file.get(chunk.path, 0) >= max_per_file:
                continue
            per_file[chunk.path] = per_file.get(chunk.path, 0) + 1
            components = {"fused": score}
            if explain:
                components.update(self._components(searcher, signals, address))
            hits.append(
                Hit(
                    chunk=chunk,
                    score=score,
                    components=components,
                    snippet=make_snippet(chunk.text, chunk.start_line, terms),
                    matched_lines=matched_lines(chunk.text, chunk.start_line, terms),
                    root=root,
                )
            )
            if len(hits) >= limit:
                break
        confidence = self.coverage(searcher, parts, hits[0]) if hits else 0.0
        covered = bool(hits) and (confidence >= self.params.min_coverage or self._symbol_hit(parts, hits[0]))
        return SearchResult(query=query, hits=tuple(hits), covered=covered, confidence=confidence, elapsed_ms=_ms(started))

    def _components(self, searcher: tantivy.Searcher, signals: dict[str, tantivy.Query], address) -> dict[str, float]:
        scores = {}
        for name, q in signals.items():
            try:
                value = json.loads(q.explain(searcher, address).to_json()).get("value", 0.0)
            except ValueError:  # the signal did not match this document
                value = 0.0
            scores[name] = round(float(value), 4)
            scores[f"{name}*w"] = round(float(value) * getattr(self.params, name), 4)
        return scores

    @staticmethod
    def _symbol_hit(parts: QueryParts, hit: Hit) -> bool:
        defined = {s.lower() for s in hit.chunk.symbols} | {s.lower().rsplit(".", 1)[-1] for s in hit.chunk.symbols}
        return any(s in defined for s in parts.symbols)

    def coverage(self, searcher: tantivy.Searcher, parts: QueryParts, hit: Hit) -> float:
        """IDF-weighted share of the query's content terms that occur in the hit (0..1).

        A passage that contains the rare words of a question is on topic; one that only shares
        common words ("pod", "use") is not, however high its BM25 score.
        """
        stems = _stems(parts.words)
        if not stems:
            return 0.0
        chunk = hit.chunk
        present = set(STEM_ANALYZER.analyze(" ".join((chunk.text, *chunk.heading, chunk.path.replace("/", " ")))))
        present.update(STEM_ANALYZER.analyze(" ".join(camel_subwords(chunk.text))))
        total_docs = max(1, searcher.num_docs)
        weight_all = weight_hit = 0.0
        for stem in stems:
            df = searcher.doc_freq("body", stem)
            idf = math.log(1 + (total_docs - df + 0.5) / (df + 0.5))
            weight_all += idf
            if stem in present:
                weight_hit += idf
        return weight_hit / weight_all if weight_all else 0.0


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
