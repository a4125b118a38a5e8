"""Hybrid lexical retrieval: several BM25 signals fused into one ranking.

Signals (each a Tantivy query over one field, see ``schema.py``):

- ``body``   BM25 over stemmed chunk text (prose and code)
- ``title``  BM25 over the heading path and file-name words
- ``ident``  BM25 over identifier sub-words (``HTTPResponse`` matches "http response")
- ``symbol`` exact match of a query identifier with a name the chunk defines
- ``phrase`` adjacent query words found near each other (slop 2) in the body

then, in Python over the best candidates: feedback terms when the best chunk misses much of the
query (gated pseudo-relevance feedback), a floor on the body length (short chunks lose BM25's
short-text bonus) and file evidence (a page that matches in several chunks gains).

Fusion is a weighted sum of the signal scores, done inside Tantivy as one boolean query of boosted
sub-queries (one pass over the postings; BM25 statistics stay per field). ``explain=True`` recomputes
each component for the returned hits. User text never reaches a query parser: ``core.query``
extracts words and we build term/phrase queries from their analysed forms.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import tantivy

from ragls.core.identifiers import camel_subwords
from ragls.core.query import LIGHT_VERB_WEIGHT, LIGHT_VERBS, STOPWORDS, QueryParts, analyze_query, definition_subject, synonyms_of
from ragls.core.snippets import question_matcher, snippet_and_lines
from ragls.core.types import Chunk, Hit, SearchResult
from ragls.index.preparation import symbol_terms
from ragls.index.schema import analyze_as_indexed, document_to_chunk

# tests/, test/, spec/, __tests__/ folders and test_x.py, x_test.go, x.test.ts, x.spec.js files
_TEST_PATH = re.compile(r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]*$|_test\.[^/.]+$|\.(test|spec)\.[^/.]+$")



@dataclass(frozen=True, slots=True)
class RetrievalParams:
    """Weights of the fused signals and the abstention threshold (tuned with ``ragls eval``)."""

    body: float = 1.0
    # Tuned with ``ragls eval`` (docs/EVALUATION.md): title 1.2 -> 0.5 and phrase 0.6 -> 0.3 gained
    # on both SciFact and the k8s tuning half; larger title weights let heading words drown the body.
    title: float = 0.5
    # ident 0.5 -> 0.25: in prose the identifier field repeats body words, so a high weight counts
    # them twice (k8s tune +0.004, test +0.017; SciFact +0.002).
    ident: float = 0.25
    symbol: float = 4.0
    phrase: float = 0.3
    # Adjacent query words up to 2 tokens apart ("pod *the* security" or "pod security *admission*"
    # phrasing varies): slop 1 -> 2 gained on k8s tune, lost 0.002-0.004 on SciFact.
    phrase_slop: int = 2
    candidates: int = 50  # chunks fetched before file evidence and the per-file cap
    file_evidence: float = 0.2  # share of the best *other* candidate chunk of the same file added to a chunk
    # Pseudo-relevance feedback (RM3-style) from this many top chunks (0: off), *gated*: it runs only
    # when the first pass's best chunk covers less than ``prf_gate`` of the query's idf-weighted
    # content terms. Low coverage means the documents word the topic differently from the query
    # (vocabulary mismatch), which feedback terms can bridge; when the best chunk already holds the
    # query's rare words, feedback mostly drifts off topic (always-on PRF: SciFact +0.004, k8s -0.02).
    # The gate is the abstention threshold (``min_coverage``), not a separately tuned number: feedback
    # exactly where retrieval would otherwise decline. ``prf_gate`` > 1: always (the old opt-in PRF).
    prf_docs: int = 5
    prf_gate: float = 0.45
    prf_terms: int = 10  # expansion terms added to the query
    prf_weight: float = 0.5  # boost of the strongest expansion term (others proportionally less)
    prf_max_df: float = 0.1  # expansion terms must occur in at most this share of chunks
    # Abstention: the weighted share of query terms the best hit must contain (``Retriever.coverage``).
    # Chosen with benchmarks/abstention_by_size.py on the tuning half of benchmarks/data/k8s-answers.jsonl
    # over workspaces of 1, 10, 100 and 1,569 pages and this repository (docs/EVALUATION.md): the
    # prior below makes the share mean the same at every size; 0.45 with plain idf answered 66% of
    # answerable questions in a one-page workspace.
    min_coverage: float = 0.4
    coverage_prior: float = 0.1  # a term's prior share of chunks ...
    coverage_prior_chunks: float = 100.0  # ... weighted as this many chunks
    unseen_name_weight: float = 3.0  # weight factor of a name in the query the workspace never uses ...
    # ... or that the passage does not mention, when the name weighs at least this
    # (``_term_weight``): rare in a workspace large enough to tell (5.0: at most ~0.7% of chunks,
    # and more than ~1,400 chunks even for a name it never uses). A common name ("Pod" in the
    # Kubernetes docs) is often left out of the sentence that answers; and in a small workspace
    # every name is "rare": paraphrased questions name things as their page does not ("Pod
    # Security Standards"), and there coverage already tells. 0: only names the workspace never uses.
    absent_name_min_weight: float = 5.0
    # Source priors for mixed code + docs workspaces (tuned on docs/eval/ragls-questions.jsonl; no
    # effect on all-prose sets like k8s-docs and SciFact): a question in words multiplies prose
    # chunks by 1 + prose_boost; chunks of test files get 1 - test_penalty unless the query is about tests.
    prose_boost: float = 0.5
    test_penalty: float = 0.5
    # Length floor (docs/EVALUATION.md): the best ``length_floor_depth`` candidates get their body
    # BM25 recomputed as if a chunk were at least ``length_floor`` x the average body length. BM25's
    # length normalisation (b=0.75, fixed in Tantivy) rewards short texts; a 3-line section or one
    # API field description then beats the page that explains the topic. 0 turns it off.
    length_floor: float = 0.5
    length_floor_depth: int = 30
    # A definition question ("What is a work pool for?") is answered by the opening of the page about
    # it: a page's introduction (the chunk its first line opens) among the candidates is kept as one
    # of the page's ``max_per_file`` chunks, right after the page's best one. Off: False.
    definition_intro: bool = True
    # A question whose best passage is code is covered only when some
    # ``code_window_lines`` consecutive lines hold ``code_window_coverage`` of it (the coverage
    # above, over those lines): docs/EVALUATION.md, "Abstention by workspace size". 0: off.
    code_window_lines: int = 6
    code_window_coverage: float = 0.5


def _synonym_stems(words: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The stem of each synonym of the question's ``words`` -> the stem of the word it stands for."""
    aliases: dict[str, str] = {}
    for word in words:
        own = analyze_as_indexed(word)
        if not own:
            continue
        for synonym in synonyms_of(word):
            for stem in analyze_as_indexed(synonym):
                if stem != own[0]:
                    aliases.setdefault(stem, own[0])
    return aliases


@functools.lru_cache(maxsize=1)
def _light_stems() -> frozenset[str]:
    """The light verbs as the index stems them ("takes" -> "take")."""
    return frozenset(_stems(sorted(LIGHT_VERBS)))


def _stems(words: tuple[str, ...] | list[str]) -> list[str]:
    stems: list[str] = []
    for word in words:
        stems.extend(analyze_as_indexed(word))
    return list(dict.fromkeys(stems))


class Retriever:
    def __init__(self, index: tantivy.Index, params: RetrievalParams = RetrievalParams()) -> None:
        self._index = index
        self._schema = index.schema
        self.params = params
        self._avgdl: dict[tuple[int, str], float] = {}  # (num_docs, field) -> average length

    # --- query building ------------------------------------------------------------------------

    def _terms_query(self, field: str, terms: list[str]) -> tantivy.Query | None:
        queries = [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, field, t)) for t in terms]
        if not queries:
            return None
        return queries[0][1] if len(queries) == 1 else tantivy.Query.boolean_query(queries)

    def signal_queries(self, parts: QueryParts) -> dict[str, tantivy.Query]:
        stems = _stems(parts.words)
        stems += [alias for alias in _synonym_stems(parts.words) if alias not in stems]
        signals: dict[str, tantivy.Query | None] = {
            "body": self._terms_query("body", stems),
            "title": self._terms_query("title", stems),
            # every query word may be part of a camelCase identifier ("http response" ~ HTTPResponse)
            "ident": self._terms_query("ident", list(dict.fromkeys(stems + _stems(parts.subwords)))),
            "symbol": self._terms_query("symbols", list(parts.symbols)),
        }
        phrases = []
        for a, b in parts.pairs:
            pair = analyze_as_indexed(a)[:1] + analyze_as_indexed(b)[:1]
            if len(pair) == 2:
                phrases.append((tantivy.Occur.Should, tantivy.Query.phrase_query(self._schema, "body", pair, slop=self.params.phrase_slop)))
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

    def rank(self, query: str, *, limit: int = 5, max_per_file: int = 2, explain: bool = False) -> Ranking:
        """The ranked chunks for ``query`` without presentation (snippets): what ``ragls eval`` times.

        1. one fused Tantivy query gives ``candidates`` chunks;
        2. pseudo-relevance feedback: when the best first-pass chunk covers less than ``prf_gate`` of
           the query (see ``prf_gate``), it re-runs with expansion terms from the top ``prf_docs``;
           stored documents are fetched only after that decision (fetching is the main cost);
        2b. length floor: the best ``length_floor_depth`` candidates shorter than ``length_floor`` x
           the average body length lose BM25's short-text bonus (``_floor_short_chunks``);
        3. file evidence: a chunk gains ``file_evidence`` x the score of the best other candidate
           chunk of its file (only one: a sum would favour long pages) — a page that matches in several places is more likely about the topic than
           one passage that happens to share words;
        4. at most ``max_per_file`` chunks per file, best first.
        """
        parts = analyze_query(query)
        signals = self.signal_queries(parts) if not parts.empty else {}
        if not signals:
            return Ranking(parts, [], covered=False, confidence=0.0)
        searcher = self._index.searcher()
        fused = self.fused_query(signals)
        depth = max(self.params.candidates, limit * 2)
        hits = searcher.search(fused, limit=depth, count=False).hits
        fetched: dict = {}  # address -> chunk: fetching stored documents is most of a query's cost
        expansion: list[tuple[str, float]] = []
        if self.params.prf_docs > 0 and hits:
            top = [Candidate(score, address, self._chunk(searcher, address, fetched)) for score, address in hits[: self.params.prf_docs]]
            if self._needs_feedback(searcher, parts, top[0].chunk):
                expansion = self._feedback_terms(searcher, parts, top)
            if expansion:
                fused = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Should, fused)]
                    + [(tantivy.Occur.Should, tantivy.Query.boost_query(tantivy.Query.term_query(self._schema, "body", t), w)) for t, w in expansion]
                )
                hits = searcher.search(fused, limit=depth, count=False).hits
        scored = [Candidate(score, address, self._chunk(searcher, address, fetched)) for score, address in hits]
        if self.params.length_floor > 0 and self.params.length_floor_depth > 0 and scored:
            scored = self._floor_short_chunks(searcher, parts, scored)
        # Two best candidate scores per file (scored is best first).
        file_best: dict[str, list[float]] = {}
        for score, _, chunk in scored:
            best_two = file_best.setdefault(chunk.path, [])
            if len(best_two) < 2:
                best_two.append(score)
        lam = self.params.file_evidence

        def sibling(score: float, path: str) -> float:
            best_two = file_best[path]
            other = best_two[1] if best_two[0] == score and len(best_two) > 1 else (best_two[0] if best_two[0] != score else 0.0)
            return other

        rescored = sorted(
            (
                ((score + lam * sibling(score, chunk.path)) * self._source_prior(parts, chunk), score, address, chunk)
                for score, address, chunk in scored
            ),
            key=lambda row: -row[0],
        )
        if self.params.definition_intro and definition_subject(query):
            rescored = _introductions_second(rescored)
        ranked: list[RankedChunk] = []
        per_file: dict[str, int] = {}
        for final, first, address, chunk in rescored:
            if per_file.get(chunk.path, 0) >= max_per_file:
                continue
            per_file[chunk.path] = per_file.get(chunk.path, 0) + 1
            components = {"fused": round(first, 4), "file": round(final - first, 4)}
            if explain:
                components.update(self._components(searcher, signals, address))
                if expansion:
                    components["prf_terms"] = len(expansion)
            ranked.append(RankedChunk(final, chunk, components))
            if len(ranked) >= limit:
                break
        best = ranked[0].chunk if ranked else None
        symbol_hit = best is not None and self._symbol_hit(parts, best)
        # A question (three words or more, not a name this code defines) answered by code needs
        # its words together (a comment, a docstring, a few lines), not strewn over a long
        # function's names, strings and comments.
        near_needed = (
            best is not None and best.kind == "code" and len(parts.words) >= 3
            and self.params.code_window_lines > 0 and not symbol_hit
        )
        window = self.params.code_window_lines if near_needed else 0
        confidence, near = self._coverages(searcher, parts, best, window) if best is not None else (0.0, 0.0)
        covered = best is not None and (confidence >= self.params.min_coverage or symbol_hit)
        if covered and near_needed:
            confidence = min(confidence, near)
            covered = confidence >= self.params.code_window_coverage
        return Ranking(parts, ranked, covered=covered, confidence=confidence)

    def _source_prior(self, parts: QueryParts, chunk: Chunk) -> float:
        """What kind of file usually answers this kind of query (docs/EVALUATION.md, mixed repos):
        a question in words is answered by prose more often than by code, and by code more often
        than by its tests. Code lookups (identifiers in the query) and questions about tests are
        left alone."""
        prior = 1.0
        if parts.natural_language and chunk.kind != "code":
            prior *= 1.0 + self.params.prose_boost
        if self.params.test_penalty and _TEST_PATH.search(chunk.path) and not any(w.startswith("test") for w in parts.words):
            prior *= 1.0 - self.params.test_penalty
        return prior

    @staticmethod
    def _chunk(searcher: tantivy.Searcher, address, fetched: dict) -> Chunk:
        key = (address.segment_ord, address.doc)
        if key not in fetched:
            fetched[key] = document_to_chunk(searcher.doc(address))
        return fetched[key]

    def _floor_short_chunks(self, searcher: tantivy.Searcher, parts: QueryParts, scored: list[Candidate]) -> list[Candidate]:
        """Re-score the best candidates: body BM25 with a floor on the length (see ``length_floor``).

        The correction is exact for Tantivy's BM25 (k1=1.2, b=0.75, same idf): it removes the body
        score computed with the chunk's own length and adds the one computed with the floored length,
        so chunks at least as long as the floor keep their score. Costs one analysis per candidate
        (~75 us per 1 KB, cached for repeated chunks).
        """
        p = self.params
        total_docs = max(1, searcher.num_docs)
        idf = {}
        for stem in _stems(parts.words):
            df = searcher.doc_freq("body", stem)
            if df:
                idf[stem] = _idf(total_docs, df)
        if not idf:
            return scored
        avgdl = self._average_length(searcher, "body", list(idf))
        floor = p.length_floor * avgdl
        head = scored[: p.length_floor_depth]
        rescored = []
        for score, address, chunk in head:
            # Cheap checks first (analysis is the cost here): English runs ~7 characters per token
            # (99% of k8s chunks under 12), and the word count is within a few % of the token count.
            if len(chunk.text) > 16 * floor or len(_WORDS.findall(chunk.text)) > 1.25 * floor:
                rescored.append(Candidate(score, address, chunk))
                continue
            tokens = _analysed(chunk.text)
            if len(tokens) < floor:
                freqs: dict[str, int] = {}
                for token in tokens:
                    if token in idf:
                        freqs[token] = freqs.get(token, 0) + 1
                score += p.body * (_bm25(freqs, idf, floor, avgdl) - _bm25(freqs, idf, len(tokens), avgdl))
            rescored.append(Candidate(score, address, chunk))
        return sorted(rescored + scored[p.length_floor_depth :], key=lambda row: -row.score)

    def _average_length(self, searcher: tantivy.Searcher, field: str, stems: list[str]) -> float:
        """Tantivy's average length of ``field`` in tokens, read once per index size from a score explanation."""
        key = (searcher.num_docs, field)
        if key in self._avgdl:
            return self._avgdl[key]
        value = 0.0
        for stem in stems:
            query = tantivy.Query.term_query(self._schema, field, stem)
            hits = searcher.search(query, limit=1, count=False).hits
            if hits:
                value = _find_detail(json.loads(query.explain(searcher, hits[0][1]).to_json()), "avgdl")
                if value:
                    break
        if not value:
            return 100.0  # nothing matched: any positive length keeps the formula defined
        self._avgdl = {**{k: v for k, v in self._avgdl.items() if k[0] == key[0]}, key: value}  # drop older index sizes
        return value

    def _needs_feedback(self, searcher: tantivy.Searcher, parts: QueryParts, best: Chunk) -> bool:
        """The PRF gate: the first pass's best chunk lacks much of the query (see ``prf_gate``)."""
        if self.params.prf_gate > 1:
            return True
        # (a rare name the passage lacks does not count extra here: that is no vocabulary gap
        # that feedback terms could bridge, and their drift would only find another passage)
        return self._coverages(searcher, parts, best, 0, absent_names=False)[0] < self.params.prf_gate

    def _feedback_terms(self, searcher: tantivy.Searcher, parts: QueryParts, top: list[Candidate]) -> list[tuple[str, float]]:
        """RM3-style expansion: frequent, not-too-common terms of the best chunks, weighted by P(w|R)."""
        best = top[0].score
        model: dict[str, float] = {}
        for score, _, chunk in top:
            terms = analyze_as_indexed(chunk.text)
            if not terms:
                continue
            doc_weight = math.exp(score - best) / len(terms)
            for term in terms:
                model[term] = model.get(term, 0.0) + doc_weight
        original = set(_stems(parts.words))
        total_docs = max(1, searcher.num_docs)
        picked: list[tuple[str, float]] = []
        for term, weight in sorted(model.items(), key=lambda kv: -kv[1]):
            if term in original or len(term) < 3 or term.isdigit() or term in STOPWORDS:
                continue
            if searcher.doc_freq("body", term) > self.params.prf_max_df * total_docs:
                continue  # common words say nothing about the topic
            picked.append((term, weight))
            if len(picked) >= self.params.prf_terms:
                break
        if not picked:
            return []
        top_weight = picked[0][1]
        return [(term, self.params.prf_weight * weight / top_weight) for term, weight in picked]

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
        ranking = self.rank(query, limit=limit, max_per_file=max_per_file, explain=explain)
        matches = question_matcher(ranking.parts)
        hits = []
        for score, chunk, components in ranking.hits:
            snippet, lines = snippet_and_lines(chunk.text, chunk.start_line, matches)
            hits.append(Hit(chunk=chunk, score=score, components=components, snippet=snippet, matched_lines=lines, root=root))
        hits = tuple(hits)
        return SearchResult(query=query, hits=hits, covered=ranking.covered, confidence=ranking.confidence, elapsed_ms=_ms(started))

    def page_hits(self, path: str, *, root: str = "", limit: int = 200) -> tuple[Hit, ...]:
        """Every chunk of the file ``path`` (first ``limit``), in file order, as hits of score 0: the
        rest of a page that retrieval ranked high. No snippets: most are never shown, and marking
        them was nine tenths of the cost (``core.extractive.with_snippet`` marks the ones that are)."""
        searcher = self._index.searcher()
        found = searcher.search(tantivy.Query.term_query(self._schema, "path", path), limit=limit, count=False).hits
        chunks = sorted((document_to_chunk(searcher.doc(address)) for _, address in found), key=lambda c: c.start_line)
        return tuple(Hit(chunk=chunk, score=0.0, root=root) for chunk in chunks)

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
    def _symbol_hit(parts: QueryParts, chunk: Chunk) -> bool:
        defined = set(symbol_terms(chunk.symbols))  # the terms the symbol signal matches
        return any(s in defined for s in parts.symbols)

    def coverage(self, searcher: tantivy.Searcher, parts: QueryParts, hit: Hit | Chunk) -> float:
        """Weighted share of the query's content terms that occur in the hit (0..1).

        A passage that contains the specific words of a question is on topic; one that only shares
        common words ("pod", "use") is not, however high its BM25 score. A term's weight is its
        surprise in the workspace, ``-log p`` with ``p`` the share of chunks that hold it, estimated
        with a prior (``_term_weight``) so that it means the same in a workspace of 1 page and of
        10,000: see docs/EVALUATION.md, "Abstention by workspace size". A light verb of the question
        ("does a Pod *take* up", "does the checklist *ask* for", ``core.query.LIGHT_VERBS``) weighs half: it carries the question's grammar.

        """
        return self._coverages(searcher, parts, hit.chunk if isinstance(hit, Hit) else hit, 0)[0]

    def _coverages(
        self, searcher: tantivy.Searcher, parts: QueryParts, chunk: Chunk, window_lines: int, *, absent_names: bool = True
    ) -> tuple[float, float]:
        """(the coverage of the whole chunk, the best coverage within any ``window_lines``
        consecutive lines, the heading and path counting in each; with 0, the whole chunk's again).
        One pass for both: the window serves code, whose words are scattered over comments, names
        and strings."""
        stems = _stems(parts.words)
        if not stems:
            return 0.0, 0.0
        names = _name_stems(parts.text)
        text = without_quotes_of(parts.text, chunk.text)
        # a synonym in the passage stands for the question's word ("directory" for "folder")
        aliases = _synonym_stems(parts.words)
        wanted = set(stems) | aliases.keys()

        def terms_of(piece: str) -> set[str]:
            found = (set(analyze_as_indexed(piece)) | set(analyze_as_indexed(" ".join(camel_subwords(piece))))) & wanted
            return {aliases.get(t, t) for t in found} if aliases else found

        always = terms_of(" ".join((*chunk.heading, chunk.path.replace("/", " "))))
        pieces = text.split("\n") if window_lines > 0 else [text]
        lines = [terms_of(piece) for piece in pieces]
        least = self.params.absent_name_min_weight if absent_names else 0.0
        # (what the passage mentions, acronyms spelled out included: only a rare-name check reads it)
        mentioned = always.union(*lines) | _spelled_out_acronyms(parts.text, text) if names and least > 0 else set()
        total_docs = max(1, searcher.num_docs)
        light = _light_stems()
        weights: dict[str, float] = {}
        for stem in stems:
            df = searcher.doc_freq("body", stem)
            weight = self._term_weight(total_docs, df)
            rare_and_absent = least > 0 and weight >= least and stem not in mentioned
            if stem in names and (df == 0 or rare_and_absent):
                # A name the workspace never mentions (Terraform, EKS, ReplicaSet in a repo without
                # them), or a rare one this passage does not mention (OpenShift, ECS among the
                # Kubernetes docs): the question is about something that is not here.
                weight *= self.params.unseen_name_weight
            if stem in light:
                weight *= LIGHT_VERB_WEIGHT
            weights[stem] = weight
        weight_all = sum(weights.values())
        if not weight_all:
            return 0.0, 0.0

        def share(present: set[str]) -> float:
            return sum(weights[stem] for stem in sorted(present)) / weight_all  # (fixed order: same float every run)

        whole = share(always.union(*lines) & weights.keys())
        if window_lines <= 0:
            return whole, whole
        starts = range(max(1, len(lines) - window_lines + 1))
        return whole, max(share(always.union(*lines[i : i + window_lines]) & weights.keys()) for i in starts)

    def _term_weight(self, total_docs: int, df: int) -> float:
        """``-log p(term in a chunk)``, with ``p`` smoothed towards ``coverage_prior`` as if the
        workspace had ``coverage_prior_chunks`` more chunks holding each term at that rate.

        Plain idf is only meaningful in a large workspace: in a one-page workspace every word the
        page uses is in "all" of its few chunks (weight ~0) and every word it does not use gets
        log(2N), so a paraphrased question (its own wording absent) was declined, while the same
        page among 1,569 answered. With the prior, a small workspace weighs the question's words
        nearly alike (there is no evidence that one is more specific than another) and a large one
        weighs them by its own statistics (the prior's 100 chunks are lost among 10,000).
        """
        p = self.params
        share = (df + p.coverage_prior * p.coverage_prior_chunks) / (total_docs + p.coverage_prior_chunks)
        return -math.log(min(share, 0.999))


def _introductions_second(rescored: list) -> list:
    """``rescored`` (best first) with each page's introduction moved up to right after the page's
    best chunk, scored just under it: "what is X" is answered where the page about X opens."""
    best_of_page: dict[str, float] = {}
    for final, _first, _address, chunk in rescored:
        best_of_page.setdefault(chunk.path, final)
    lifted = []
    for final, first, address, chunk in rescored:
        if chunk.start_line == 1 and final < best_of_page[chunk.path]:
            final = best_of_page[chunk.path] * (1 - 1e-6)
        lifted.append((final, first, address, chunk))
    return sorted(lifted, key=lambda row: -row[0])


# A question of at least this many words quoted verbatim in a passage is a quote, not a match.
_MIN_QUOTED_WORDS = 5
_QUOTE_WORD = re.compile(r"[^\W_]+")


def without_quotes_of(question: str, text: str) -> str:
    """``text`` without the places that quote ``question`` word for word (case, punctuation and
    spacing aside). A test, an evaluation note or a code comment that quotes a question talks
    *about* the question: its words must not make the workspace look as if it answered it. (A FAQ
    that repeats the question as a heading still covers it with the answer under the heading.)"""
    words = _QUOTE_WORD.findall(question.lower())
    if len(words) < _MIN_QUOTED_WORDS or words[0] not in text.lower():
        return text
    quoted = re.compile(r"(?<![^\W_])" + r"[\W_]+".join(map(re.escape, words)) + r"(?![^\W_])", re.I)
    return quoted.sub(" ", text)


class Candidate(NamedTuple):
    """A chunk Tantivy returned for the fused query, while it is being re-scored."""

    score: float
    address: Any  # tantivy.DocAddress: where the stored document is
    chunk: Chunk


class RankedChunk(NamedTuple):
    """One entry of a ranking: the final score, the chunk and the score of each signal."""

    score: float
    chunk: Chunk
    components: dict[str, float]


@dataclass(frozen=True, slots=True)
class Ranking:
    """Ranked chunks before presentation (snippets), best first."""

    parts: QueryParts
    hits: list[RankedChunk]
    covered: bool
    confidence: float


_NAME = re.compile(r"[^\W_][\w.'-]*")


_ACRONYM = re.compile(r"\b([A-Z]{3,6})s?\b")
_WORD_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def _spelled_out_acronyms(question: str, text: str) -> set[str]:
    """Analysed terms of the question's acronyms (3-6 capitals) that ``text`` spells out as
    consecutive words or camelCase parts: UCB in "umbilical cord blood", CRD in
    "CustomResourceDefinition". A passage that names the thing in full mentions it."""
    acronyms = {m.group(1) for m in _ACRONYM.finditer(question)}
    if not acronyms:
        return set()
    initials = "".join(part[0] for part in _WORD_PART.findall(text)).lower()
    found: set[str] = set()
    for acronym in acronyms:
        if acronym.lower() in initials:
            found.update(analyze_as_indexed(acronym))
    return found


def _name_stems(text: str) -> set[str]:
    """Analysed terms of the names in a question: capitalised words (not the first word), acronyms,
    camelCase, and words with digits, dots or underscores: ``Terraform``, ``EKS``, ``ReplicaSet``,
    ``kubernetes_manifest``, ``v1.31``."""
    names: set[str] = set()
    for position, match in enumerate(_NAME.finditer(text)):
        word = match.group(0).rstrip(".'-")
        inner_caps = any(c.isupper() for c in word[1:])
        if position == 0 and not inner_caps:
            continue  # "How", "Which": a capital only because it starts the sentence
        if word[:1].isupper() or inner_caps or any(c.isdigit() for c in word) or "_" in word or "." in word:
            names.update(analyze_as_indexed(word))
    return names


def _find_detail(node: dict, prefix: str) -> float:
    """The value of the first explanation node whose description starts with ``prefix``."""
    if str(node.get("description", "")).startswith(prefix):
        return float(node.get("value", 0.0))
    for child in node.get("details", []) or []:
        found = _find_detail(child, prefix)
        if found:
            return found
    return 0.0


_WORDS = re.compile(r"[^\W_]+")  # about what Tantivy's simple tokenizer splits (alphanumeric runs)


@lru_cache(maxsize=512)
def _analysed(text: str) -> tuple[str, ...]:
    # The same chunks come back for related questions (hover, follow-ups): analysing ~1 KB costs ~75 us.
    return tuple(analyze_as_indexed(text))


def _idf(total_docs: int, df: int) -> float:
    """Tantivy's BM25 idf, so scores recomputed here equal Tantivy's."""
    return math.log(1 + (total_docs - df + 0.5) / (df + 0.5))


def _bm25(freqs: dict[str, int], idf: dict[str, float], length: float, avgdl: float, k1: float = 1.2, b: float = 0.75) -> float:
    """BM25 of one text as Tantivy computes it (its k1 and b are fixed)."""
    norm = k1 * (1 - b + b * length / avgdl)
    return sum(idf[t] * tf * (k1 + 1) / (tf + norm) for t, tf in freqs.items())


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
