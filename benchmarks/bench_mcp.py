"""``ragls mcp`` over stdio with the MCP SDK's own client, on the k8s-docs workspace.

    .venv/bin/python benchmarks/bench_mcp.py [--queries 200] [--k 5]

Starts ``python -m ragls mcp ../shared/eval/k8s-docs`` (the workspace is only read: the index goes
to a temporary folder), waits for the first indexing, then prints the latency of the ``search``
tool as an agent sees it (``call_tool`` round trip: JSON-RPC over the pipes, argument validation,
retrieval, the JSON result), p50/p95/max over the benchmark's questions (target p95 <= 50 ms);
next to it, the same searches in-process (``WorkspaceIndex.search`` on the same index, as a
follower), which is the floor the protocol adds to; and the same tool on a second ``ragls mcp``
that follows the first one's index (one live index, read by two servers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from ragls.evaluation.metrics import percentile

HERE = Path(__file__).resolve().parent
K8S = HERE.parent.parent / "shared" / "eval" / "k8s-docs"


def summary(label: str, millis: list[float]) -> str:
    return (
        f"{label:<34} p50 {percentile(millis, 50):6.1f} ms   p95 {percentile(millis, 95):6.1f} ms   "
        f"max {max(millis):6.1f} ms   (n={len(millis)})"
    )


async def wait_fresh(session: ClientSession, timeout: float = 900.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await session.call_tool("status", {})
        [folder] = result.structuredContent["folders"]
        if folder["fresh"]:
            return folder
        await asyncio.sleep(0.2)
    raise SystemExit("indexing did not finish in time")


async def timed_searches(session: ClientSession, queries: list[str], k: int) -> list[float]:
    for query in queries[:10]:  # warm-up: first-touch of the index files, pydantic's caches
        await session.call_tool("search", {"query": query, "k": k})
    millis = []
    for query in queries:
        started = time.perf_counter()
        result = await session.call_tool("search", {"query": query, "k": k})
        millis.append((time.perf_counter() - started) * 1000)
        if result.isError:
            raise SystemExit(f"search failed: {result.content}")
    return millis


def in_process(index_dir: Path, queries: list[str], k: int) -> list[float]:
    from ragls.index.workspace_index import WorkspaceIndex

    index = WorkspaceIndex(K8S, index_dir=index_dir)  # a follower: the server owns the writer
    for query in queries[:10]:
        index.search(query, limit=k)
    millis = []
    for query in queries:
        started = time.perf_counter()
        index.search(query, limit=k)
        millis.append((time.perf_counter() - started) * 1000)
    return millis


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in (K8S / "questions.jsonl").read_text().splitlines() if line.strip()]
    queries = (questions * (args.queries // len(questions) + 1))[: args.queries]
    with tempfile.TemporaryDirectory(prefix="ragls-bench-mcp-") as tmp:
        parent = Path(tmp) / "indexes"
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "ragls", "mcp", str(K8S), "--index-dir", str(parent)], env=dict(os.environ)
        )
        with open(Path(tmp) / "server.log", "w") as errlog:
            async with stdio_client(params, errlog=errlog) as streams, ClientSession(*streams) as owner:
                started = time.perf_counter()
                await owner.initialize()
                folder = await wait_fresh(owner)
                print(f"k8s-docs: {folder['files']} files, {folder['chunks']} chunks, indexed and ready in "
                      f"{time.perf_counter() - started:.1f} s (server start included)")
                print(summary("search over MCP stdio (owner)", await timed_searches(owner, queries, args.k)))
                print(summary("search in-process (floor)", in_process(Path(folder["indexDir"]), queries, args.k)))
                async with stdio_client(params, errlog=errlog) as streams2, ClientSession(*streams2) as follower:
                    await follower.initialize()
                    second = await wait_fresh(follower)
                    assert second["role"] == "follower", second
                    print(summary("search over MCP stdio (follower)", await timed_searches(follower, queries, args.k)))


if __name__ == "__main__":
    asyncio.run(main())
