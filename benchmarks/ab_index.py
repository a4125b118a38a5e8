"""Interleaved A/B of a cold indexing run: another checkout of ragls vs this one.

    git worktree add /tmp/ragls-base main          # the tree to compare against
    .venv/bin/python benchmarks/ab_index.py /tmp/ragls-base --rounds 6 [--corpus stdlib|k8s]
    .venv/bin/python benchmarks/ab_index.py . --base-env RAGLS_INDEX_WORKERS=0   # a setting, same tree

On a shared 2-core machine two benchmark runs minutes apart differ by more than most changes do;
alternating the two trees (A B, B A, ...) in fresh processes and comparing medians does not. Each
run is ``bench_index.py``'s own ragls measurement (a cold ``WorkspaceIndex.sync()`` + ``close()``,
its CPU seconds including the worker processes) with ``PYTHONPATH`` pointing at the tree's
``server/`` (worker processes inherit it). Prints the median wall time and CPU seconds per tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_index  # noqa: E402  (imports no ragls: each child imports the tree it is given)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", help="the other checkout (its server/ is imported)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--corpus", choices=["stdlib", "k8s"], default="stdlib")
    parser.add_argument("--base-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the base runs only (repeatable)")
    args = parser.parse_args()
    base_env = dict(item.split("=", 1) for item in args.base_env)
    root, exclude = bench_index.corpora()[args.corpus]
    envs = {}
    for name, tree in (("base", Path(args.base).resolve() / "server"), ("this", HERE.parent / "server")):
        envs[name] = dict(os.environ, PYTHONPATH=str(tree), **(base_env if name == "base" else {}))
        imported = subprocess.run(
            [sys.executable, "-c", "import ragls; print(ragls.__file__)"], env=envs[name], capture_output=True, text=True, check=True
        ).stdout.strip()
        if not imported.startswith(str(tree)):
            raise SystemExit(f"{name}: imports {imported}, not the tree at {tree}")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in envs}
    for i in range(args.rounds):
        for name in (list(envs) if i % 2 == 0 else list(envs)[::-1]):
            with tempfile.TemporaryDirectory() as index_dir:
                result = bench_index.run_child("ragls", root, exclude, index_dir, env=envs[name])
            runs[name].append((result["seconds"], result["cpu_seconds"]))
    for name, values in runs.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        print(
            f"{name:5s} wall median {statistics.median(walls):.2f} s, CPU median {statistics.median(cpus):.2f} s  "
            + " ".join(f"{w:.2f}/{c:.2f}" for w, c in values)
        )


if __name__ == "__main__":
    main()
