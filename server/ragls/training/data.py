"""``ragls train-data``: supervised chat examples from a workspace, with no model.

For each question made from a passage (:mod:`ragls.training.questions`) the prompt is the one ragls
would give a model for it: real retrieval from the workspace's Tantivy index (``Answerer.retrieve``),
then ``core.prompting.build_prompt`` with the answer mode's texts, context size and answer reserve
(token counts estimated: no tokenizer is loaded), each passage focused to its lines that address the
question as the model host focuses it. The target quotes the gold passage's sentences that the
focused passage shows, with its ``[n]``; an abstention example gives the same question with the passages retrieved after
the ones holding the answer were taken out, and the not-covered sentence as its target. Every
target is checked when written (:mod:`ragls.training.checks`); one that fails is dropped and counted.

Questions whose gold passage retrieval does not return are dropped too (counted): training the model
on passages ragls would never show it teaches nothing about the prompts it will see.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ragls.core.chunking import chunk_document
from ragls.core.prompting import FOCUS_TOKENS, ContextTooSmall, PromptPlan, build_prompt, estimate_tokens
from ragls.core.types import Chunk, Hit, SearchResult
from ragls.core.workspace import IgnoreRules, discover
from ragls.settings import IndexSettings, ModelSettings, Settings
from ragls.training.checks import check_target, holds_answer, render_target, visible_prefix
from ragls.training.questions import KINDS, Candidate, candidates

ABSTAIN = "abstain"
# Abstentions are made only from questions whose answer is one specific fact (a value, a flag, a
# definition): whether a passage holds it can be checked. "Tell me about X" (a heading) is answered
# in part by any passage about X, so taking the gold passage out does not make it unanswerable.
ABSTAIN_FROM = ("number", "flag", "definition")


class TrainDataError(ValueError):
    """Bad input for train-data: said to the user as it is, with rc 2."""


@dataclass(frozen=True, slots=True)
class TrainDataOptions:
    limit: int | None = None  # examples to write at most (None: every candidate)
    seed: int = 0
    abstain_share: float = 0.2
    passages: int = Settings().retrieval.passages
    max_per_file: int = Settings().retrieval.max_per_file
    context_size: int = ModelSettings().context_size
    max_tokens: int = ModelSettings().max_tokens
    # Each passage as the model host shows it: the lines of its hit that address the question, at
    # most this many tokens, at most 3 passages (None: whole chunks, trimmed only to fit). An
    # adapter trained on whole chunks meets focused windows at inference: another prompt shape.
    focus_tokens: int | None = FOCUS_TOKENS

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise TrainDataError(f"--limit must be at least 1 (got {self.limit})")
        if not 0.0 <= self.abstain_share < 1.0:
            raise TrainDataError(f"--abstain-share must be in [0, 1) (got {self.abstain_share})")
        if self.passages < 1:
            raise TrainDataError(f"--passages must be at least 1 (got {self.passages})")
        if self.max_tokens < 1 or self.context_size <= self.max_tokens:
            raise TrainDataError(
                f"the context ({self.context_size} tokens) must be larger than the answer reserve ({self.max_tokens})"
            )
        if self.focus_tokens is not None and self.focus_tokens < 16:
            raise TrainDataError(f"--focus-tokens must be at least 16 (got {self.focus_tokens}; 0: whole passages)")


@dataclass(frozen=True, slots=True)
class Example:
    messages: tuple[dict[str, str], ...]
    meta: dict

    def to_json(self) -> str:
        return json.dumps({"messages": list(self.messages), "meta": self.meta}, ensure_ascii=False)


@dataclass(slots=True)
class TrainDataSummary:
    candidates: int = 0
    considered: int = 0
    written: int = 0
    by_kind: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "candidates": self.candidates,
            "considered": self.considered,
            "written": self.written,
            "byKind": dict(sorted(self.by_kind.items())),
            "dropped": dict(self.dropped.most_common()),
            "seconds": round(self.seconds, 2),
        }


# (question, passages) -> SearchResult: ``Answerer.retrieve`` over the workspace's index.
Retrieve = Callable[[str, int], SearchResult]


def workspace_chunks(root: Path, settings: IndexSettings = IndexSettings()) -> list[Chunk]:
    """The chunks indexing makes of the workspace (same discovery, same chunker, same decoding)."""
    from ragls.index.preparation import decode_text

    root = Path(root)
    report = discover(root, settings, IgnoreRules(root, settings))
    chunks: list[Chunk] = []
    for wfile in report.files:
        try:
            data = wfile.abs_path.read_bytes()
        except OSError:
            continue  # (indexing skips it the same way)
        chunks += chunk_document(wfile.path, decode_text(data))
    return chunks


def interleave(found: Sequence[Candidate], seed: int) -> list[Candidate]:
    """Candidates shuffled within each kind, then taken kind by kind in turn, so a ``--limit`` gets
    every kind in equal measure while it lasts (headings outnumber flags in most docs)."""
    rng = random.Random(seed)
    queues = {kind: [c for c in found if c.kind == kind] for kind in KINDS}
    for queue in queues.values():
        rng.shuffle(queue)
    order: list[Candidate] = []
    while any(queues.values()):
        for kind in KINDS:
            if queues[kind]:
                order.append(queues[kind].pop())
    return order


def _same_passage(hit: Hit, chunk: Chunk) -> bool:
    return hit.chunk.path == chunk.path and hit.chunk.start_line == chunk.start_line


class ExampleBuilder:
    """Turns candidates into checked examples: retrieval, the ragls prompt, the target."""

    def __init__(self, retrieve: Retrieve, options: TrainDataOptions) -> None:
        from ragls.model.resources import load_mode

        self.retrieve = retrieve
        self.options = options
        self.mode = load_mode("answer")
        self.not_covered = self.mode.texts.not_covered

    def prompt(self, question: str, hits: Sequence[Hit]) -> PromptPlan:
        return build_prompt(
            question,
            hits,
            self.mode.texts,
            context_size=self.options.context_size,
            max_tokens=self.options.max_tokens,
            count_tokens=estimate_tokens,
            focus_tokens=self.options.focus_tokens,
        )

    def _example(self, candidate: Candidate, plan: PromptPlan, target: str, kind: str, source: str | None = None) -> Example:
        # The source is the gold passage as shown (a trimmed window of its lines when the context
        # is short); an abstention, which does not show it, names the whole passage.
        meta = {
            "source": source or candidate.chunk.location,
            "kind": kind,
            "question": candidate.question,
            "passages": [p.citation().location for p in plan.passages],
        }
        if kind == ABSTAIN:
            meta["from"] = candidate.kind
        messages = (*plan.messages(), {"role": "assistant", "content": target})
        return Example(messages=tuple(messages), meta=meta)

    def answer(self, candidate: Candidate) -> Example | str:
        """An answer example, or the reason there is none."""
        result = self.retrieve(candidate.question, self.options.passages)
        if not result.covered:
            return "retrieval says the workspace does not cover the question"
        try:
            plan = self.prompt(candidate.question, result.hits)
        except ContextTooSmall:
            return "no passage fits the context"
        gold = next((p for p in plan.passages if _same_passage(p.hit, candidate.chunk)), None)
        if gold is None:
            return "gold passage not retrieved"
        # A focused passage shows only the lines that address the question: the answer is the
        # candidate's sentences the model can read there — the first of them at least, since it
        # holds the key fact — not sentences it would have to invent.
        shown = visible_prefix(candidate.sentences, gold)
        if not shown:
            return "answer not in the passage as shown"
        target = render_target(shown, gold.id)
        reason = check_target(target, plan.passages, not_covered=self.not_covered, bounds=self.mode.bounds)
        if reason is not None:
            return reason
        return self._example(candidate, plan, target, candidate.kind, source=gold.citation().location)

    def abstention(self, candidate: Candidate) -> Example | str:
        """The same question with every retrieved passage that holds its answer taken out."""
        wanted = self.options.passages
        # Retrieve deeper so that the prompt still has (up to) K passages: those ragls would
        # retrieve if the workspace did not hold the answer.
        result = self.retrieve(candidate.question, wanted * 2 + 2)
        if not result.covered:
            return "retrieval says the workspace does not cover the question"
        # The rest of the gold passage's file is about the same thing: out too, as are copies of it.
        kept = [h for h in result.hits if h.chunk.path != candidate.chunk.path and h.chunk.text != candidate.chunk.text]
        if not kept:
            return "abstention: every retrieved passage holds the answer"
        try:
            plan = self.prompt(candidate.question, kept[:wanted])
        except ContextTooSmall:
            return "no passage fits the context"
        if any(holds_answer(p, candidate.key, candidate.sentences) for p in plan.passages):
            # Re-plan without them: they are shown trimmed, so check what the model would see.
            kept = [p.hit for p in plan.passages if not holds_answer(p, candidate.key, candidate.sentences)]
            if not kept:
                return "abstention: every retrieved passage holds the answer"
            plan = self.prompt(candidate.question, kept)
            if any(holds_answer(p, candidate.key, candidate.sentences) for p in plan.passages):
                return "abstention: a passage holds the answer"
        target = self.not_covered
        reason = check_target(target, plan.passages, not_covered=self.not_covered, bounds=self.mode.bounds)
        if reason is not None:
            return reason
        return self._example(candidate, plan, target, ABSTAIN)


def build_examples(
    found: Sequence[Candidate],
    builder: ExampleBuilder,
    options: TrainDataOptions,
    summary: TrainDataSummary,
    progress: Callable[[int, int, int], None] | None = None,
) -> Iterator[Example]:
    """Examples in a seeded order until ``options.limit``; abstentions at ``abstain_share``.

    Each step asks for an abstention while abstentions are below their share of what has been
    written (counting this one), so the share holds at every length, not only at the end. An
    abstention takes the next question of the kinds in ``ABSTAIN_FROM`` from a queue of its own: a
    question may come once answered and once with its answer taken out, a pair that shows the model
    the difference. When that queue runs out the remaining examples are answers (the summary shows
    the lower share).
    """
    order = interleave(found, options.seed)
    queues = {False: order, True: [c for c in order if c.kind in ABSTAIN_FROM]}
    positions = {False: 0, True: 0}
    summary.candidates = len(order)
    seen: set[tuple[str, bool]] = set()
    abstained = 0
    steps = len(queues[False]) + len(queues[True])

    def take(abstain: bool) -> Candidate | None:
        queue, position = queues[abstain], positions[abstain]
        positions[abstain] = position + 1
        return queue[position] if position < len(queue) else None

    while not (options.limit and summary.written >= options.limit):
        abstain = abstained + 1 <= options.abstain_share * (summary.written + 1) + 1e-9
        candidate = take(True) if abstain else None
        if candidate is None:
            abstain, candidate = False, take(False)
            if candidate is None:
                break
        summary.considered += 1
        if progress is not None:
            progress(summary.considered, steps, summary.written)
        if (candidate.question, abstain) in seen:
            summary.dropped["question asked already"] += 1
            continue
        seen.add((candidate.question, abstain))
        made = builder.abstention(candidate) if abstain else builder.answer(candidate)
        if isinstance(made, str):
            summary.dropped[made] += 1
            continue
        abstained += abstain
        summary.written += 1
        summary.by_kind[made.meta["kind"]] += 1
        yield made
    if progress is not None:
        progress(summary.considered, summary.considered, summary.written)


def write_examples(out: Path, examples: Iterator[Example], *, force: bool) -> None:
    """Write JSON lines atomically: a temporary file renamed at the end, so an interrupted run leaves
    no half-written file (and never a truncated old one)."""
    if out.exists() and not force:
        raise TrainDataError(f"{out} exists; pass --force to replace it")
    if out.exists() and out.is_dir():
        raise TrainDataError(f"{out} is a directory")
    if not out.parent.is_dir():
        raise TrainDataError(f"the folder of {out} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            for example in examples:
                stream.write(example.to_json() + "\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generate(
    root: Path,
    out: Path,
    options: TrainDataOptions,
    *,
    retrieve: Retrieve,
    index_settings: IndexSettings = IndexSettings(),
    force: bool = False,
    progress: Callable[[int, int, int], None] | None = None,
) -> TrainDataSummary:
    """The whole run: chunks -> candidates -> checked examples -> ``out``."""
    started = time.perf_counter()
    if out.exists() and not force:  # before any work: a refused run should cost nothing
        raise TrainDataError(f"{out} exists; pass --force to replace it")
    chunks = workspace_chunks(root, index_settings)
    if not chunks:
        raise TrainDataError(f"{root} holds no indexable text: nothing to make questions from")
    found = candidates(chunks, options.seed)
    if not found:
        raise TrainDataError(
            f"no questions could be made from the {len(chunks)} passages of {root} "
            "(no headings with prose, definitions, flags or numbers)"
        )
    summary = TrainDataSummary()
    builder = ExampleBuilder(retrieve, options)
    write_examples(out, build_examples(found, builder, options, summary, progress), force=force)
    summary.seconds = time.perf_counter() - started
    if summary.written == 0:
        out.unlink(missing_ok=True)
        reasons = ", ".join(f"{r} {n}" for r, n in summary.dropped.most_common(3))
        raise TrainDataError(f"every one of the {summary.considered} questions was dropped ({reasons})")
    return summary
