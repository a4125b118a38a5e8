"""The language server over the LSP protocol, on a copy of the k8s-docs workspace.

    .venv/bin/python benchmarks/bench_lsp.py [--rounds 40] [--hovers 200]

Starts ``python -m ragls --stdio`` as a real client would (pygls client over stdio), waits for the
first indexing, then prints:
- freshness: a new file is written → the first ``ragls/ask`` whose citations include it
  (p50/p95; target p95 <= 300 ms), next to the round trip of one ask (the polling granularity);
- hover latency without a model on documented identifiers (p50/p95; target p95 <= 50 ms), next to
  the protocol floor: a hover on a keyword, which the server refuses without searching;
- a ``ragls/status`` request's wait while ``--asks`` answers run at once (p50/p95/max; issue 13:
  target max <= 100 ms), next to an idle status round trip;
- server RSS after indexing (from /proc).
The workspace is copied to a temporary folder (shared/ is read-only) and removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from ragls.evaluation.metrics import percentile

HERE = Path(__file__).resolve().parent
K8S_DOCS = HERE.parent.parent / "shared" / "eval" / "k8s-docs" / "docs"

# Made-up words so that only the freshly written file can match.
NONSENSE = ["zorblax", "quindle", "fravex", "plimbo", "snorkwell", "trundix", "vexamor", "glimtop"]


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1): ``ragls eval``'s percentile, so both report latencies alike."""
    return percentile(values, q * 100)


def plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_client() -> LanguageClient:
    client = LanguageClient("ragls-bench", "1")

    @client.feature(types.WORKSPACE_CONFIGURATION)
    def configuration(params: types.ConfigurationParams):
        return [None for _ in params.items]

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create_progress(params: types.WorkDoneProgressCreateParams):
        return None

    @client.feature(types.PROGRESS)
    def progress(params: types.ProgressParams):
        pass

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def log_message(params: types.LogMessageParams):
        pass

    @client.feature(types.WINDOW_SHOW_MESSAGE)
    def show_message(params: types.ShowMessageParams):
        print(f"  server says: {params.message}", file=sys.stderr)

    return client


async def request(client: LanguageClient, method: str, params: Any) -> Any:
    return plain(await client.protocol.send_request_async(method, params))


def hover_targets(root: Path, count: int, rng: random.Random) -> list[tuple[Path, int, int]]:
    """(file, line, character) of backticked identifiers in the docs: what a user would hover."""
    ident = re.compile(r"`([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)`")
    targets = []
    files = sorted(root.glob("*.md"))
    rng.shuffle(files)
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines()):
            if not line.isascii():
                continue  # keeps the column arithmetic trivial (UTF-8 or UTF-16 alike)
            for match in ident.finditer(line):
                if len(match.group(1)) >= 6:
                    targets.append((path, number, match.start(1) + 1))
        if len(targets) >= count * 3:
            break
    rng.shuffle(targets)
    return targets[:count]


async def run(rounds: int, hovers: int, asks: int) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="ragls-bench-lsp-") as tmp:
        root = Path(tmp) / "k8s-docs"
        shutil.copytree(K8S_DOCS, root)
        client = make_client()
        await client.start_io(sys.executable, "-m", "ragls", "--stdio")
        pid = client._server.pid  # the subprocess pygls started
        try:
            started = time.perf_counter()
            await client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(
                        window=types.WindowClientCapabilities(work_done_progress=True),
                        workspace=types.WorkspaceClientCapabilities(configuration=True, workspace_folders=True),
                    ),
                    root_uri=root.as_uri(),
                    workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="k8s-docs")],
                    initialization_options={"index": {"indexDir": str(Path(tmp) / "indexes")}},
                )
            )
            client.initialized(types.InitializedParams())
            while True:
                status = await request(client, "ragls/status", {})
                if status["folders"] and not status["folders"][0]["indexing"]:
                    break
                await asyncio.sleep(0.1)
            index_s = time.perf_counter() - started
            folder = status["folders"][0]
            print(f"workspace: {K8S_DOCS} (copy), {folder['files']} files, {folder['chunks']} passages, watcher {folder['watcher']}")
            print(f"first indexing over LSP: {index_s:.1f} s")
            print(f"server RSS after indexing: {rss_mb(pid):.0f} MB")

            # --- freshness -------------------------------------------------------------------
            ask_rtt: list[float] = []
            fresh: list[float] = []
            for i in range(rounds):
                words = rng.sample(NONSENSE, 3)
                term = f"{words[0]}{i}"
                question = f"What does the {term} {words[1]} controller do?"
                path = root / f"bench_fresh_{i}.md"
                text = (
                    f"# The {term} controller\n\n"
                    f"The {term} {words[1]} controller reconciles {words[2]} objects every ten seconds.\n"
                )
                t0 = time.perf_counter()
                path.write_text(text)
                uri = path.as_uri()
                while True:
                    a0 = time.perf_counter()
                    result = await request(client, "ragls/ask", {"question": question})
                    ask_rtt.append(time.perf_counter() - a0)
                    if any(c["uri"] == uri for c in result["citations"]):
                        fresh.append(time.perf_counter() - t0)
                        break
                    if time.perf_counter() - t0 > 10:
                        print(f"  round {i}: not found after 10 s", file=sys.stderr)
                        break
                path.unlink()
                await asyncio.sleep(0.15)  # let the delete settle so rounds do not overlap
            ms = [v * 1000 for v in fresh]
            rtt = [v * 1000 for v in ask_rtt]
            print(
                f"freshness (write -> found by ragls/ask), {len(ms)}/{rounds} rounds: "
                f"p50 {pct(ms, 0.5):.0f} ms, p95 {pct(ms, 0.95):.0f} ms, max {max(ms):.0f} ms "
                f"(target p95 <= 300 ms: {'OK' if pct(ms, 0.95) <= 300 else 'MISSED'})"
            )
            print(
                f"  baseline ask round trip: p50 {pct(rtt, 0.5):.1f} ms, p95 {pct(rtt, 0.95):.1f} ms; "
                f"freshness p50 = {pct(ms, 0.5) / pct(rtt, 0.5):.1f}x one ask"
            )

            # --- hover -------------------------------------------------------------------------
            targets = hover_targets(root, hovers, rng)
            opened: set[Path] = set()
            for path, _, _ in targets:
                if path not in opened:
                    opened.add(path)
                    client.text_document_did_open(
                        types.DidOpenTextDocumentParams(
                            text_document=types.TextDocumentItem(uri=path.as_uri(), language_id="markdown", version=1, text=path.read_text(errors="replace"))
                        )
                    )
            await asyncio.sleep(0.5)
            hover_ms, floor_ms, answered = [], [], 0
            keyword_doc = root / "bench_keywords.py"
            keyword_doc.write_text("def f():\n    return None\n")
            for path, line, character in [*targets[:10], *targets]:  # the first 10 warm up
                t0 = time.perf_counter()
                result = await client.text_document_hover_async(
                    types.HoverParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()), position=types.Position(line=line, character=character))
                )
                hover_ms.append((time.perf_counter() - t0) * 1000)
                answered += result is not None
                t0 = time.perf_counter()
                await client.text_document_hover_async(
                    types.HoverParams(text_document=types.TextDocumentIdentifier(uri=keyword_doc.as_uri()), position=types.Position(line=1, character=6))
                )
                floor_ms.append((time.perf_counter() - t0) * 1000)
            hover_ms, floor_ms = hover_ms[10:], floor_ms[10:]
            print(
                f"hover on documented identifiers (no model), {len(hover_ms)} hovers, {answered} with a cited answer: "
                f"p50 {pct(hover_ms, 0.5):.1f} ms, p95 {pct(hover_ms, 0.95):.1f} ms "
                f"(target p95 <= 50 ms: {'OK' if pct(hover_ms, 0.95) <= 50 else 'MISSED'})"
            )
            print(
                f"  baseline hover on a keyword (refused without search): p50 {pct(floor_ms, 0.5):.1f} ms, "
                f"p95 {pct(floor_ms, 0.95):.1f} ms; documented hover p50 = {pct(hover_ms, 0.5) / pct(floor_ms, 0.5):.1f}x"
            )

            # --- status while many asks run ---------------------------------------------------------
            if asks:
                idle = []
                for _ in range(20):
                    t0 = time.perf_counter()
                    await request(client, "ragls/status", {})
                    idle.append((time.perf_counter() - t0) * 1000)
                running = [
                    asyncio.ensure_future(request(client, "ragls/ask", {"question": f"How does a {rng.choice(NONSENSE)} pod drain a node? ({n})"}))
                    for n in range(asks)
                ]
                waits = []
                while not all(task.done() for task in running):
                    t0 = time.perf_counter()
                    await request(client, "ragls/status", {})
                    waits.append((time.perf_counter() - t0) * 1000)
                    await asyncio.sleep(0.02)
                await asyncio.gather(*running)
                print(
                    f"ragls/status while {asks} asks run, {len(waits)} requests: p50 {pct(waits, 0.5):.0f} ms, "
                    f"p95 {pct(waits, 0.95):.0f} ms, max {max(waits):.0f} ms "
                    f"(target max <= 100 ms: {'OK' if max(waits) <= 100 else 'MISSED'}); "
                    f"idle status p50 {pct(idle, 0.5):.1f} ms"
                )
            print(f"server RSS at the end: {rss_mb(pid):.0f} MB")
        finally:
            try:
                await asyncio.wait_for(client.shutdown_async(None), 10)
                client.exit(None)
            except Exception as exc:
                print(f"shutdown: {exc}", file=sys.stderr)
            await client.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="freshness rounds (default 40)")
    parser.add_argument("--hovers", type=int, default=200, help="hover requests (default 200)")
    parser.add_argument("--asks", type=int, default=200, help="asks running while status is timed (default 200; 0: skip)")
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.hovers, args.asks))


if __name__ == "__main__":
    main()
