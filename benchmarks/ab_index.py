"""Interleaved A/B of a cold indexing run: another checkout of ragls vs this one.

    git worktree add /tmp/ragls-base main          # the tree to compare against
    .venv/bin/python benchmarks/ab_index.py /tmp/ragls-base --rounds 6 [--corpus stdlib|k8s]

On a shared 2-core machine two benchmark runs minutes apart differ by more than most changes do;
alternating the two trees (A B, B A, ...) in fresh processes and comparing medians does not. Each
run is ``WorkspaceIndex.sync()`` + ``close()`` into an empty index directory, with ``PYTHONPATH``
pointing at the tree's ``server/`` (worker processes inherit it). Prints the median wall time and
CPU seconds (the process and its workers) per tree, and every run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def corpus(name: str) -> tuple[Path, tuple[str, ...]]:
    if name == "stdlib":
        return Path(sysconfig.get_paths()["stdlib"]), ("site-packages/",)
    return HERE.parent.parent / "shared" / "eval" / "k8s-docs" / "docs", ()


def child(name: str) -> None:
    from ragls.index.workspace_index import WorkspaceIndex
    from ragls.settings import IndexSettings

    root, exclude = corpus(name)
    with tempfile.TemporaryDirectory() as index_dir:
        index = WorkspaceIndex(root, IndexSettings(exclude=exclude), index_dir=Path(index_dir))
        started = time.perf_counter()
        index.sync()
        index.close()
        wall = time.perf_counter() - started
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
    print(json.dumps({"wall": wall, "cpu": cpu, "module": __import__("ragls").__file__}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", help="the other checkout (its server/ is imported)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--corpus", choices=["stdlib", "k8s"], default="stdlib")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    trees = {"base": Path(args.base).resolve() / "server", "this": HERE.parent / "server"}
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for i in range(args.rounds):
        for name in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            env = dict(os.environ, PYTHONPATH=str(trees[name]))
            out = subprocess.run(
                [sys.executable, __file__, args.base, "--child", args.corpus],
                env=env, capture_output=True, text=True, check=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            if not result["module"].startswith(str(trees[name])):
                raise SystemExit(f"{name}: imported {result['module']}, not {trees[name]}")
            runs[name].append((result["wall"], result["cpu"]))
    for name, values in runs.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        print(
            f"{name:5s} wall median {statistics.median(walls):.2f} s, CPU median {statistics.median(cpus):.2f} s  "
            + " ".join(f"{w:.2f}/{c:.2f}" for w, c in values)
        )


if __name__ == "__main__":
    main()
