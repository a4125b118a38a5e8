"""Question -> retrieval over every workspace folder -> answer (model when ready, else extractive).

Shared by the CLI and the language server, so both answer the same way. Facts come from retrieval:
when retrieval says the workspace does not cover a question, no model is asked.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Callable, Sequence

from ragls.core.extractive import NOT_COVERED, extractive_answer_and_passages, passages_for_model, symbol_answer
from ragls.core.requests import NO_HOOKS, AnswerHooks, AnswerRequest
from ragls.core.types import Answer, Hit, SearchResult
from ragls.model.backend import ModelCrashed
from ragls.settings import Settings

if TYPE_CHECKING:  # the model package is optional at run time (no model configured)
    from ragls.index.workspace_index import WorkspaceIndex
    from ragls.model.host import ModelHost

log = logging.getLogger(__name__)


class Answerer:
    def __init__(
        self,
        indexes: Callable[[], Sequence["WorkspaceIndex"]],
        settings: Settings,
        model: "ModelHost | None" = None,
    ) -> None:
        self._indexes = indexes
        self.settings = settings
        self.model = model

    def retrieve(
        self,
        query: str,
        *,
        passages: int | None = None,
        max_per_file: int | None = None,
        explain: bool = False,
    ) -> SearchResult:
        """Search every folder and merge by score (the best folder's coverage decides)."""
        limit = passages or self.settings.retrieval.passages
        per_file = max_per_file or self.settings.retrieval.max_per_file
        results = [ix.search(query, limit=limit, max_per_file=per_file, explain=explain) for ix in self._indexes()]
        if not results:
            return SearchResult(query=query, hits=(), covered=False)
        if len(results) == 1:
            return results[0]
        hits: list[Hit] = sorted((h for r in results for h in r.hits), key=lambda h: -h.score)[:limit]
        best = max(results, key=lambda r: r.hits[0].score if r.hits else float("-inf"))
        return SearchResult(
            query=query,
            hits=tuple(hits),
            covered=best.covered,
            confidence=best.confidence,
            elapsed_ms=sum(r.elapsed_ms for r in results),
        )

    def page_context(self, result: SearchResult) -> tuple[Hit, ...]:
        """The other passages of the best ``retrieval.context_pages`` prose pages among ``result``'s
        hits, for an extractive answer (see ``extractive_answer``'s ``context``)."""
        pages = self.settings.retrieval.context_pages
        if pages <= 0 or not result.covered:
            return ()
        wanted: list[tuple[str, str]] = []
        for hit in result.hits:
            key = (hit.root, hit.chunk.path)
            if hit.chunk.kind != "code" and key not in wanted:
                wanted.append(key)
        by_root = {str(ix.root): ix for ix in self._indexes()}
        context: list[Hit] = []
        for root, path in wanted[:pages]:
            index = by_root.get(root)
            if index is not None:
                context.extend(index.page_hits(path))
        return tuple(context)

    def model_ready(self) -> bool:
        return self.model is not None and self.model.status().state == "ready"

    def ask(
        self,
        request: AnswerRequest,
        hooks: AnswerHooks = NO_HOOKS,
        *,
        retrieved: SearchResult | None = None,
    ) -> Answer:
        """``retrieved``: the result of ``retrieve(request.query)`` when the caller already has it.
        ``hooks.on_prompt(done, total)``: the model's progress reading the passages (local model only)."""
        query = request.query
        on_delta = hooks.on_delta
        result = retrieved if retrieved is not None else self.retrieve(query, passages=request.passages)
        if not result.covered:
            if on_delta:
                on_delta(NOT_COVERED)
            return Answer(text=NOT_COVERED, citations=(), abstained=True)
        failure = None
        kept_warnings: tuple[str, ...] = ()
        removed = 0
        # The extractive answer first (milliseconds): it is the fallback, and the passages that hold
        # its sentences are the ones the model should read (``passages_for_model``).
        extracted, answered_from = extractive_answer_and_passages(query, result, context=self.page_context(result))
        if self.model_ready():
            try:
                passages = passages_for_model(query, answered_from, result.hits)
                modelled = self.model.answer(request, passages, hooks)  # type: ignore[union-attr]
                if modelled.abstained or modelled.text.strip() or hooks.cancelled():
                    return modelled
                # Nothing the user can use: every sentence was unsupported, or the model looped
                # inside its first sentence. The passages still answer.
                failure = (
                    "the model's answer was not supported by its passages; answered from the passages instead"
                    if modelled.removed_sentences
                    else "the model gave no complete cited sentence; answered from the passages instead"
                )
                kept_warnings = modelled.warnings
                removed = modelled.removed_sentences
            except ModelCrashed as exc:
                log.warning("%s; answering extractively", exc)
                failure = f"{exc}; answered from the passages instead (the model restarts)"
            except Exception as exc:  # the model is a guest: any failure falls back to extraction
                log.warning("model answer failed, answering extractively: %s", exc)
                failure = f"model failed: {exc}"
        answer = extracted
        if failure:
            answer = dataclasses.replace(
                answer, warnings=(*answer.warnings, *kept_warnings, failure), removed_sentences=removed
            )
        if on_delta:
            on_delta(answer.text)
        return answer

    def explain_symbol(self, symbol: str, *, reading: tuple[str, str, int] | None = None) -> Answer | None:
        """Hover: what the workspace says about ``symbol``; None when it says nothing useful.
        ``reading``: (folder root, path, 1-based line) of the hover, which is not cited as a source."""
        result = self.retrieve(symbol, passages=4, max_per_file=1)
        if not result.hits:
            return None
        answer = symbol_answer(symbol, result.hits, reading=reading)
        if answer is None:
            return None
        if self.model_ready():  # (the LSP asks only when hovers are enabled)
            try:
                adapters = self.model.adapter_choice(self.settings.hover.adapters) or None  # type: ignore[union-attr]
                modelled = self.model.answer(  # type: ignore[union-attr]
                    AnswerRequest(f"What is `{symbol}`?", adapters=adapters, mode="hover"), result.hits, wait=False
                )
                if not modelled.abstained and modelled.text.strip():
                    return modelled
            except Exception as exc:
                log.info("model hover failed, using the extractive hover: %s", exc)
        return answer
