"""Model benchmark: ragls's ModelHost against plain llama-cpp-python, on a generated model.

Generates a random-weight llama GGUF of tens of millions of parameters (tests/model/gguf_factory)
into a temporary folder and prints, in one run:

1. generation tokens/s through ModelHost.answer vs a plain ``Llama.generate`` loop on the same
   prompt tokens with the same grammar and sampling (ratio; target >= 0.95);
2. time to first token of a follow-up question sharing the prompt prefix (system + passages) vs
   the same prompt cold (KV cache cleared);
3. the grammar's cost: plain-loop tokens/s with vs without the answer grammar;
4. how soon an answer returns after Cancel pressed while the (cold) prompt is being read.

Usage: .venv/bin/python benchmarks/bench_model.py [--tokens 128] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_factory():
    spec = importlib.util.spec_from_file_location("gguf_factory", ROOT / "tests" / "model" / "gguf_factory.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gguf_factory"] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def make_hits():
    from ragls.core.types import Chunk, Hit

    hits = []
    for i in range(5):
        lines = [f"Section {i} line {n}: the retry policy of the client waits {n} seconds between attempts." for n in range(8)]
        chunk = Chunk(path=f"docs/guide{i}.md", start_line=1, end_line=8, text="\n".join(lines), kind="markdown", heading=("Guide", f"Part {i}"))
        hits.append(Hit(chunk=chunk, score=1.0))
    return hits


class Timer:
    """Collects the time of the first and last streamed delta and the number of deltas."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last = self.start
        self.count = 0

    def __call__(self, _delta: str) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.count += 1

    def tokens_per_s(self) -> float:
        return (self.count - 1) / (self.last - self.first) if self.first and self.count > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    import llama_cpp

    from ragls.core import grammar
    from ragls.model import ModelHost
    from ragls.model.llama_backend import run_generation
    from ragls.model.resources import load_mode
    from ragls.settings import ModelSettings

    factory = load_factory()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gguf"
        t0 = time.perf_counter()
        factory.write_model(path, factory.BENCH)
        shape = factory.BENCH
        vocab = len(factory.vocabulary(shape)[0])
        params = vocab * shape.embedding * 2 + shape.blocks * (
            2 * shape.embedding**2 + 2 * shape.embedding * shape.kv_heads * shape.head_dim + 3 * shape.embedding * shape.feed_forward
        )
        print(f"model: {params / 1e6:.1f} M parameters, {path.stat().st_size / 1e6:.0f} MB F32, written in {time.perf_counter() - t0:.1f} s")

        settings = ModelSettings(path=str(path), context_size=4096, max_tokens=args.tokens, temperature=0.0, threads=args.threads)
        host = ModelHost(settings)
        host.start()
        assert host.wait_ready(120), host.status()
        print(f"host: {host.status().detail}")
        hits = make_hits()
        question = "How long does the client wait between retries?"

        # The exact prompt and grammar ModelHost uses, for the plain loop.
        backend = host._backend
        resources = load_mode("answer")
        plan = host._plan(backend, question, hits, resources, args.tokens)
        prompt_tokens = backend._prompt(plan.messages())
        gbnf = grammar.specialise(resources.grammar_template, passage_count=len(plan.passages), not_covered=resources.texts.not_covered, bounds=resources.bounds)
        print(f"prompt: {len(prompt_tokens)} tokens, {len(plan.passages)} passages; generating {args.tokens} tokens, greedy")

        plain = llama_cpp.Llama(model_path=str(path), n_ctx=4096, n_threads=args.threads, verbose=False)
        plain_grammar = llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)

        def plain_loop(with_grammar: bool, guard=None) -> float:
            first = None
            count = 0
            processors = llama_cpp.LogitsProcessorList([guard]) if guard is not None else None
            grammar_ = plain_grammar if with_grammar else None
            for token in plain.generate(prompt_tokens, temp=0.0, grammar=grammar_, logits_processor=processors):
                if first is None:
                    first = time.perf_counter()
                piece = plain.detokenize([token])
                if guard is not None:
                    guard.update(piece)
                count += 1
                if count >= args.tokens or llama_cpp.llama_vocab_is_eog(plain._model.vocab, token):
                    break
            last = time.perf_counter()
            return (count - 1) / (last - first)  # tokens after the first one, as for the host

        def host_run() -> float:
            # Deltas are not tokens (a 3-byte character is 3 tokens, 1 delta): count tokens as the
            # ones llama.cpp evaluated after the prompt (all sampled tokens but the last).
            timer = Timer()
            host.answer(question, hits, temperature=0.0, max_tokens=args.tokens, on_delta=timer)
            end = time.perf_counter()
            evaluated = backend._llm.n_tokens - len(prompt_tokens)
            return evaluated / (end - timer.first)

        from ragls.model.llama_backend import Utf8Guard

        guard = Utf8Guard(plain)
        host_tps, plain_tps, free_tps, guard_tps = [], [], [], []
        for i in range(args.rounds):
            if i % 2:  # alternate the order: background load on a shared machine drifts
                plain_tps.append(plain_loop(True))
                host_tps.append(host_run())
            else:
                host_tps.append(host_run())
                plain_tps.append(plain_loop(True))
            free_tps.append(plain_loop(False))
            guard.reset()
            guard_tps.append(plain_loop(True, guard))
        h, p, f = statistics.median(host_tps), statistics.median(plain_tps), statistics.median(free_tps)
        print(f"\n1. generation tokens/s (median of {args.rounds}): ModelHost {h:.1f}  plain llama-cpp-python loop {p:.1f}  ratio {h / p:.3f} (target >= 0.95)")

        # 2. TTFT: cold (cache cleared) vs a follow-up question sharing system + passages.
        def ttft(q: str, cold: bool) -> float:
            if cold:
                with host._lock:
                    backend._llm.reset()
            timer = Timer()
            host.answer(q, hits, temperature=0.0, max_tokens=2, on_delta=timer)
            return (timer.first or time.perf_counter()) - timer.start

        colds, follows = [], []
        for i in range(args.rounds):
            colds.append(ttft(f"Cold question number {i}?", cold=True))
            follows.append(ttft(f"And a follow-up, number {i}?", cold=False))
        c, fu = statistics.median(colds), statistics.median(follows)
        print(f"2. time to first token: cold {c * 1000:.0f} ms  follow-up sharing the prefix {fu * 1000:.0f} ms  speed-up x{c / fu:.1f}")

        g = statistics.median(guard_tps)
        print(f"   (plain loop + ragls's UTF-8 guard logits processor: {g:.1f} tokens/s, ratio {g / p:.3f})")
        print(f"3. grammar cost (plain loop): with grammar {p:.1f} tokens/s  without {f:.1f} tokens/s  ratio {p / f:.3f}")

        # The same cold prompt read by plain llama-cpp-python in one call: the cost of ragls's
        # slicing (see 4.), which reads the prompt in slices so that a cancel can land.
        def plain_cold_ttft() -> float:
            plain.reset()
            t = time.perf_counter()
            next(plain.generate(prompt_tokens, temp=0.0), None)  # the first token
            return time.perf_counter() - t

        plain_cold = statistics.median(plain_cold_ttft() for _ in range(args.rounds))
        print(f"   time to first token, plain llama-cpp-python, same prompt cold: {plain_cold * 1000:.0f} ms to the first token (ratio ragls/plain {c / plain_cold:.2f})")

        # 4. Cancel while the prompt is read: the answer returns this long after Cancel.
        def cancel_latency(after: float) -> float:
            with host._lock:
                backend._llm.reset()
            cancel = threading.Event()
            pressed: list[float] = []

            def press() -> None:
                pressed.append(time.perf_counter())
                cancel.set()

            timer = threading.Timer(after, press)
            timer.start()
            host.answer("A question cancelled while the passages are read?", hits, max_tokens=2, cancel=cancel)
            timer.join()
            return time.perf_counter() - pressed[0]

        latencies = [cancel_latency(c * share) for share in (0.25, 0.5, 0.75) for _ in range(max(1, args.rounds // 2))]
        print(
            f"4. cancel during a cold prompt read (pressed at 25/50/75% of it): answer returned "
            f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms after Cancel "
            f"(the whole read takes {c * 1000:.0f} ms)"
        )

        host.close()
        plain.close()


if __name__ == "__main__":
    sys.exit(main())
