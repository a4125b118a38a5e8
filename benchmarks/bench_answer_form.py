"""Answer-form benchmark: do a real model's answers read like answers?

Indexes a workspace the way ragls does (``WorkspaceIndex.sync``), loads a real GGUF through
``ragls.model.host.ModelHost``, answers each question through the public path
(``ragls.answering.Answerer.ask``) and hovers some symbols (``Answerer.explain_symbol``), then prints,
measured in this run:

- answers with a repeated sentence (normalised: lower case, no markers or punctuation) and with a
  repeated word 8-gram;
- answers stopped by maxTokens (the Answer's warnings say so) and answers cut back after a loop;
- sentences per answer (max / median), ask and hover; a sentence ends at citation markers and a
  period, or at a period (! ?) followed by more text — so uncited sentences count too;
- the share of sentences that end with a valid citation (a marker of a passage that was given);
- abstentions that cite something (should be none);
- median / p95 answer time, median prompt tokens, words per answer;
- two fact proxies: the share of answers that cite the question's gold page, and the share of the
  answer's content words found in the lines it cites ("grounded").

The checks here are written independently of ragls's own loop detection, so they can disagree
with it. ``--variant NAME:module.CONST=value,...`` patches module constants for an ablation; several
variants run one after another in the same process (same index, same questions), so their numbers
compare under the same machine load.

Usage:
  .venv/bin/python benchmarks/bench_answer_form.py --model /tmp/models/smollm2.gguf \\
      --workspace ../shared/eval/k8s-docs --questions ../shared/eval/k8s-docs/questions.jsonl \\
      --limit 50 --threads 2 [--variant ...] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

_MARKER = re.compile(r"\[(\d+)\]")
# A sentence ends after its citation markers and a period; text after the last one is a sentence
# without a citation.
_SENTENCE = re.compile(r"[^\[]*?(?:\[\d+\])+\.|\S.*\Z", re.DOTALL)
_WORD = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+\b")


# The measurement of SmolLM2-135M Q4_1 on 2 free cores (tokens/s): turns the token counts
# of this run into the time an unloaded 2-core machine would take, next to the measured time
# (the shared development machines run other work at the same time).
PROMPT_RATE = 255.0
GENERATION_RATE = 61.0


class PromptReading:
    """``on_prompt`` callback: the prompt's length and how much of it was read (not cached)."""

    def __init__(self) -> None:
        self.total = 0
        self.first_done: int | None = None

    def __call__(self, done: int, total: int) -> None:
        self.total = total
        if self.first_done is None:
            self.first_done = done

    def read(self) -> int:
        if self.first_done is None:
            return 1 if self.total else 0  # all cached but the last token
        # The first report comes after the first slice (at most 32 tokens) past the cached prefix.
        return self.total - self.first_done + min(32, self.first_done)


# Inside a cited unit, a natural sentence end: ". " (or "!"/"?") before the next word. Counting
# these too keeps "A. B. C [1]." from passing as one cited sentence.
_NATURAL_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def split_sentences(text: str) -> list[str]:
    out = []
    for m in _SENTENCE.finditer(text):
        unit = m.group(0).strip()
        if unit:
            out.extend(part for part in _NATURAL_END.split(unit) if part.strip())
    return out


def words_of(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(_MARKER.sub(" ", text))]


def repeated_sentence(text: str) -> bool:
    seen = set()
    for sentence in split_sentences(text):
        key = " ".join(words_of(sentence))
        if key and key in seen:
            return True
        seen.add(key)
    return False


def repeated_ngram(text: str, n: int = 8) -> bool:
    words = words_of(text)
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


def ends_with_valid_citation(sentence: str, valid_ids: set[int]) -> bool:
    match = re.search(r"((?:\[\d+\])+)\.$", sentence)
    return bool(match) and all(int(n) in valid_ids for n in _MARKER.findall(match.group(1)))


def stopped_by_max_tokens(item: dict) -> bool:
    """The Answer's warning says so; or (code that warns only when it cut text) the model
    generated the whole default reserve of 512 tokens (one delta per token, bytes may merge)."""
    return any("maxTokens" in w for w in item["warnings"]) or item.get("generated", 0) >= 500


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def apply_patches(spec: str) -> dict[tuple[str, str], object]:
    """``module.CONST=value,...`` → set each constant (value parsed as JSON, else kept a string);
    returns the old values so the next variant starts from the code's defaults."""
    old: dict[tuple[str, str], object] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        target, _, raw = item.partition("=")
        module_name, _, const = target.rpartition(".")
        module = importlib.import_module(module_name)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        old[(module_name, const)] = getattr(module, const)
        setattr(module, const, value)
    return old


def restore(old: dict[tuple[str, str], object]) -> None:
    for (module_name, const), value in old.items():
        setattr(importlib.import_module(module_name), const, value)


def question_symbols(questions: list[dict], limit: int) -> list[str]:
    """CamelCase names the questions mention (API kinds: SubjectAccessReview, PersistentVolume)."""
    seen: list[str] = []
    for q in questions:
        for name in _CAMEL.findall(q["question"]):
            if name not in seen:
                seen.append(name)
    return seen[:limit]


class Lines:
    """File lines of the workspace, to check what a citation's lines say."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, list[str]] = {}

    def text(self, path: str, start: int, end: int) -> str:
        if path not in self._cache:
            self._cache[path] = (self.root / path).read_text(encoding="utf-8", errors="replace").split("\n")
        return "\n".join(self._cache[path][start - 1 : end])


def measure(answers: list[dict], not_covered: str) -> dict:
    model_answers = [a for a in answers if a["source"].startswith("model:")]
    spoken = [a for a in model_answers if not a["abstained"] and a["text"]]
    sentences = [len(split_sentences(a["text"])) for a in spoken]
    total_sentences = sum(sentences)
    cited_ok = sum(a["valid_sentences"] for a in spoken)
    abstaining = [a for a in answers if a["abstained"] or not_covered.lower() in a["text"].lower()]
    n = len(answers)

    def share(count: int, of: int) -> float:
        return round(100.0 * count / of, 1) if of else float("nan")

    return {
        "answers": n,
        "by_model": len(model_answers),
        "model_abstained": sum(a["abstained"] for a in model_answers),
        "retrieval_abstained": sum(a["abstained"] and not a["source"].startswith("model:") for a in answers),
        "repeated_sentence_pct": share(sum(repeated_sentence(a["text"]) for a in answers), n),
        "repeated_8gram_pct": share(sum(repeated_ngram(a["text"]) for a in answers), n),
        "max_tokens_pct": share(sum(stopped_by_max_tokens(a) for a in answers), n),
        "loop_cut_pct": share(sum(any("repeat" in w for w in a["warnings"]) for a in answers), n),
        "sentences_max": max(sentences) if sentences else 0,
        "sentences_median": median(sentences),
        "valid_citation_end_pct": share(cited_ok, total_sentences),
        "abstentions_citing": sum(bool(a["citations"]) or bool(_MARKER.search(a["text"])) for a in abstaining),
        "seconds_median": round(median([a["seconds"] for a in answers]), 2),
        "seconds_p95": round(percentile([a["seconds"] for a in answers], 0.95), 2),
        "model_seconds_median": round(median([a["seconds"] for a in model_answers]), 2),
        "cpu_seconds_median": round(median([a["cpu_seconds"] for a in answers]), 2),
        "answer_tokens_median": median([a["answer_tokens"] for a in spoken]),
        # (hover has no progress callbacks on the public path: these stay empty for it)
        "prompt_read_median": median([a["prompt_read"] for a in model_answers if "prompt_read" in a]),
        "generated_median": median([a["generated"] for a in model_answers if "generated" in a]),
        "generated_max": max([a["generated"] for a in model_answers if "generated" in a], default=0),
        "estimated_seconds_median": round(median([a["estimated_seconds"] for a in answers if "estimated_seconds" in a]), 2),
        "estimated_seconds_p95": round(percentile([a["estimated_seconds"] for a in answers if "estimated_seconds" in a], 0.95), 2),
        "prompt_tokens_median": median([a["prompt_tokens"] for a in model_answers if a["prompt_tokens"]]),
        "words_median": median([len(words_of(a["text"])) for a in spoken]),
        "gold_cited_pct": share(sum(a["gold_cited"] for a in spoken), len(spoken)),
        "grounded_pct": round(100 * median([a["grounded"] for a in spoken]), 1) if spoken else float("nan"),
    }


def run_variant(name: str, args, index, questions, symbols, lines: Lines) -> dict:
    from ragls.answering import Answerer
    from ragls.core.citations import content_words
    from ragls.core.extractive import NOT_COVERED
    from ragls.core.requests import AnswerHooks, AnswerRequest
    from ragls.model.host import ModelHost
    from ragls.settings import ModelSettings, Settings

    fields = {f.name for f in dataclasses.fields(ModelSettings)}
    model_settings = ModelSettings(
        path=args.model,
        threads=args.threads,
        seed=args.seed,
        temperature=args.temperature if args.temperature is not None else ModelSettings().temperature,
        context_size=args.context_size,
        **({"max_tokens": args.max_tokens} if args.max_tokens and "max_tokens" in fields else {}),
    )
    settings = dataclasses.replace(Settings(), model=model_settings)
    host = ModelHost(model_settings)
    host.start()
    if not host.wait_ready(120):
        raise SystemExit(f"model not ready: {host.status().detail}")
    answerer = Answerer(lambda: [index], settings, host)

    def host_tokens(text: str) -> int:
        backend = getattr(host, "_backend", None)  # the loaded model's tokenizer, when in-process
        counter = getattr(backend, "count_tokens", None)
        return counter(text) if counter and text else 0

    def record(text_answer, seconds: float, prompt_tokens: int, gold: list[str]) -> dict:
        valid = {c.id for c in text_answer.citations}
        spoken = split_sentences(text_answer.text)
        cited_words: set[str] = set()
        for c in text_answer.citations:
            cited_words |= content_words(c.title + "\n" + lines.text(c.path, c.start_line, c.end_line))
        answer_words = content_words(_MARKER.sub(" ", text_answer.text))
        return {
            "text": text_answer.text,
            "source": text_answer.source,
            "abstained": text_answer.abstained,
            "warnings": list(text_answer.warnings),
            "citations": [c.location for c in text_answer.citations],
            "valid_sentences": sum(ends_with_valid_citation(s, valid) for s in spoken),
            "seconds": seconds,
            "prompt_tokens": prompt_tokens,
            "answer_tokens": host_tokens(text_answer.text),
            "gold_cited": any(c.path in gold for c in text_answer.citations),
            "grounded": len(answer_words & cited_words) / len(answer_words) if answer_words else 0.0,
        }

    def log_answer(item: dict) -> None:
        if args.log:
            with open(args.log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"variant": name, **item}) + "\n")

    asks = []
    for q in questions:
        reading = PromptReading()
        deltas = [0]

        def on_delta(_text: str) -> None:
            deltas[0] += 1

        started, cpu = time.perf_counter(), time.process_time()
        answer = answerer.ask(AnswerRequest(q["question"]), AnswerHooks(on_prompt=reading, on_delta=on_delta))
        item = record(answer, time.perf_counter() - started, reading.total, q.get("gold", []))
        item["prompt_read"] = reading.read()
        # One delta per generated token (bytes of one character may merge: ASCII text is exact);
        # the extractive path sends its whole answer as one delta.
        item["generated"] = deltas[0] if answer.source.startswith("model:") else 0
        item["estimated_seconds"] = item["prompt_read"] / PROMPT_RATE + item["generated"] / GENERATION_RATE
        item["cpu_seconds"] = time.process_time() - cpu
        item["id"] = q.get("id")
        item["question"] = q["question"]
        asks.append(item)
        log_answer(item)
        if args.verbose:
            print(f"[{name}] {q.get('id')} {item['seconds']:.1f}s {answer.text!r} {list(answer.warnings)}", file=sys.stderr)
    hovers = []
    for symbol in symbols:
        started, cpu = time.perf_counter(), time.process_time()
        answer = answerer.explain_symbol(symbol)
        if answer is None:
            continue
        item = record(answer, time.perf_counter() - started, 0, [])
        item["cpu_seconds"] = time.process_time() - cpu
        item["symbol"] = symbol
        hovers.append(item)
        log_answer(item)
        if args.verbose:
            print(f"[{name}] hover {symbol} {item['seconds']:.1f}s {answer.text!r} {list(answer.warnings)}", file=sys.stderr)
    host.close()
    result = {"variant": name, "ask": measure(asks, NOT_COVERED), "hover": measure(hovers, NOT_COVERED)}
    if args.keep_answers:
        result["answers"] = asks
        result["hovers"] = hovers
    return result


ROWS = [
    ("answers (by the model)", lambda m: f"{m['answers']} ({m['by_model']})"),
    ("repeated sentence", lambda m: f"{m['repeated_sentence_pct']}%"),
    ("repeated 8-gram", lambda m: f"{m['repeated_8gram_pct']}%"),
    ("stopped by maxTokens", lambda m: f"{m['max_tokens_pct']}%"),
    ("cut back after a loop", lambda m: f"{m['loop_cut_pct']}%"),
    ("sentences max / median", lambda m: f"{m['sentences_max']} / {m['sentences_median']}"),
    ("sentences ending in a valid citation", lambda m: f"{m['valid_citation_end_pct']}%"),
    ("abstentions citing something", lambda m: str(m["abstentions_citing"])),
    ("model abstained", lambda m: str(m["model_abstained"])),
    ("seconds median / p95", lambda m: f"{m['seconds_median']} / {m['seconds_p95']}"),
    ("est. seconds on 2 free cores median / p95", lambda m: f"{m['estimated_seconds_median']} / {m['estimated_seconds_p95']}"),
    ("CPU seconds median (this process)", lambda m: str(m["cpu_seconds_median"])),
    ("prompt tokens read median", lambda m: str(m["prompt_read_median"])),
    ("generated tokens median / max", lambda m: f"{m['generated_median']} / {m['generated_max']}"),
    ("prompt tokens median", lambda m: str(m["prompt_tokens_median"])),
    ("answer tokens median", lambda m: str(m["answer_tokens_median"])),
    ("words median", lambda m: str(m["words_median"])),
    ("cites the gold page", lambda m: f"{m['gold_cited_pct']}%"),
    ("grounded words median", lambda m: f"{m['grounded_pct']}%"),
]


def print_table(results: list[dict]) -> None:
    for part in ("ask", "hover"):
        print(f"\n{part}")
        header = ["metric", *(r["variant"] for r in results)]
        print("| " + " | ".join(header) + " |")
        print("| " + " | ".join("---" for _ in header) + " |")
        for label, cell in ROWS:
            print("| " + " | ".join([label, *(cell(r[part]) for r in results)]) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--workspace")
    parser.add_argument("--questions")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--hovers", type=int, default=12, help="CamelCase symbols from the questions to hover")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=None, help="default: the setting's default")
    parser.add_argument("--max-tokens", type=int, default=None, help="default: the setting's default")
    parser.add_argument("--context-size", type=int, default=4096)
    parser.add_argument("--variant", action="append", default=[], help="NAME:module.CONST=json,... (repeatable)")
    parser.add_argument("--index-dir", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep-answers", action="store_true", help="with --json: every answer's text")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--log", default=None, help="append each answer as a JSON line to this file, as it comes")
    parser.add_argument("--from-log", default=None, help="only print the metrics of a --log file (no model run)")
    args = parser.parse_args()

    if not args.from_log and not (args.model and args.workspace and args.questions):
        parser.error("--model, --workspace and --questions are required (unless --from-log)")
    if args.from_log:
        from ragls.core.extractive import NOT_COVERED

        by_variant: dict[str, dict[str, list]] = {}
        for line in Path(args.from_log).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            parts = by_variant.setdefault(item["variant"], {"ask": [], "hover": []})
            parts["hover" if "symbol" in item else "ask"].append(item)
        results = [{"variant": v, "ask": measure(p["ask"], NOT_COVERED), "hover": measure(p["hover"], NOT_COVERED)} for v, p in by_variant.items()]
        print(json.dumps(results, indent=2)) if args.json else print_table(results)
        return

    from ragls.index.workspace_index import WorkspaceIndex
    from ragls.settings import Settings

    questions = [json.loads(line) for line in Path(args.questions).read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = questions[: args.limit]
    with tempfile.TemporaryDirectory(prefix="ragls-bench-form-") as tmp:
        index_dir = Path(args.index_dir) if args.index_dir else Path(tmp) / "index"
        started = time.perf_counter()
        index = WorkspaceIndex(Path(args.workspace), Settings().index, index_dir=index_dir)
        report = index.sync()
        print(f"indexed {report.files} files, {report.chunks} chunks in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        symbols = question_symbols(questions, args.hovers)
        lines = Lines(Path(args.workspace))
        results = []
        for spec in args.variant or ["as-is:"]:
            name, _, patches = spec.partition(":")
            old = apply_patches(patches)
            try:
                results.append(run_variant(name, args, index, questions, symbols, lines))
            finally:
                restore(old)
        index.close()
    if args.json:
        print(json.dumps({"questions": len(questions), "hover_symbols": symbols, "threads": args.threads, "results": results}, indent=2))
    else:
        print(f"{len(questions)} questions, {len(symbols)} hover symbols, {args.threads} threads, seed {args.seed}")
        print_table(results)


if __name__ == "__main__":
    main()
