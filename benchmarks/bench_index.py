"""Index throughput, incremental re-run and memory, against a plain tantivy-py loop.

    .venv/bin/python benchmarks/bench_index.py            # stdlib + k8s-docs
    .venv/bin/python benchmarks/bench_index.py --only k8s
    .venv/bin/python benchmarks/bench_index.py --fingerprint   # hash of everything indexed

Prints, per corpus: the baseline (the same files as 40-line chunks into one en_stem field, no
analysis, no manifest) in MB/s; ragls's cold full pipeline in MB/s and as a ratio to the baseline
(target >= 0.5); the unchanged second run's time as a share of the cold run (target <= 10%); the
peak RSS of the ragls process (target <= 400 MB on the standard library); the CPU seconds (user +
sys, the process and its worker processes), steadier than wall time on a shared machine. Each
measurement runs in its own process so RSS and caches do not leak between them.

``--fingerprint`` prints one hash per corpus over every prepared chunk (line range and every field
value): a speed-up of chunking or preparation must leave it unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"


def corpora() -> dict[str, tuple[Path, tuple[str, ...]]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return {
        "stdlib": (stdlib, ("site-packages/",)),
        "k8s": (SHARED / "eval" / "k8s-docs" / "docs", ()),
    }


def child_baseline(root: str, exclude: list[str], index_dir: str) -> dict:
    import tantivy

    from ragls.core.workspace import discover
    from ragls.settings import IndexSettings

    files = discover(Path(root), IndexSettings(exclude=tuple(exclude))).files
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("path", stored=True, tokenizer_name="raw")
    builder.add_text_field("body", stored=True, tokenizer_name="en_stem")
    os.makedirs(index_dir, exist_ok=True)
    index = tantivy.Index(builder.build(), path=index_dir)
    writer = index.writer(heap_size=64_000_000, num_threads=1)
    started = time.perf_counter()
    total = 0
    for f in files:
        data = f.abs_path.read_bytes()
        total += len(data)
        lines = data.decode("utf-8", errors="replace").split("\n")
        for i in range(0, len(lines), 40):
            writer.add_document(tantivy.Document(path=f.path, body="\n".join(lines[i : i + 40])))
    writer.commit()
    writer.wait_merging_threads()
    seconds = time.perf_counter() - started
    return {"files": len(files), "mb": total / 1e6, "seconds": seconds}


def child_ragls(root: str, exclude: list[str], index_dir: str) -> dict:
    from ragls.index.workspace_index import WorkspaceIndex
    from ragls.settings import IndexSettings

    index = WorkspaceIndex(root, IndexSettings(exclude=tuple(exclude)), index_dir=Path(index_dir))
    started = time.perf_counter()
    report = index.sync()
    index.close()
    seconds = time.perf_counter() - started
    return {"files": report.files, "chunks": report.chunks, "mb": report.bytes_read / 1e6, "seconds": seconds, "skipped": dict(report.skipped)}


def fingerprint(root: Path, exclude: tuple[str, ...]) -> tuple[str, int]:
    from ragls.core.workspace import discover
    from ragls.index.preparation import prepare_file
    from ragls.settings import IndexSettings

    digest, chunks = hashlib.sha256(), 0
    for f in discover(root, IndexSettings(exclude=exclude)).files:
        prepared = prepare_file(f.path, str(f.abs_path), None).chunks or []
        digest.update(repr((f.path, prepared)).encode())
        chunks += len(prepared)
    return digest.hexdigest(), chunks


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_child(kind: str, root: Path, exclude: tuple[str, ...], index_dir: str, env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(root), index_dir, json.dumps(list(exclude))],
        capture_output=True, text=True, check=True, env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["stdlib", "k8s"])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the fastest counts")
    parser.add_argument("--fingerprint", action="store_true", help="hash every prepared chunk, per corpus")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "ROOT", "INDEX", "EXCLUDE"))
    args = parser.parse_args()
    if args.fingerprint:
        for name, (root, exclude) in corpora().items():
            if not args.only or args.only == name:
                digest, chunks = fingerprint(root, exclude)
                print(f"{name:8} {chunks:>6} chunks  {digest}", flush=True)
        return
    if args.child:
        kind, root, index_dir, exclude = args.child
        cpu_before = cpu_seconds()
        result = (child_baseline if kind == "baseline" else child_ragls)(root, json.loads(exclude), index_dir)
        result["cpu_seconds"] = cpu_seconds() - cpu_before
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # worker processes (chunking runs in them): the largest one's peak
        result["worker_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps(result))
        return
    print(f"{'corpus':8} {'files':>6} {'MB':>6} {'baseline MB/s':>14} {'ragls MB/s':>11} {'ratio':>6} {'re-run s':>9} {'re-run %':>9} {'peak RSS MB':>12} {'CPU s':>11}")
    for name, (root, exclude) in corpora().items():
        if args.only and args.only != name:
            continue
        # Best of --repeat runs of each, interleaved: the machines are shared and noisy, and the
        # fastest run is the one least disturbed by others.
        bases, colds, warms = [], [], []
        for attempt in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                bases.append(run_child("baseline", root, exclude, os.path.join(tmp, "base")))
                colds.append(run_child("ragls", root, exclude, os.path.join(tmp, "ragls")))
                warms.append(run_child("ragls", root, exclude, os.path.join(tmp, "ragls")))
        base = min(bases, key=lambda r: r["seconds"])
        cold = min(colds, key=lambda r: r["seconds"])
        warm = min(warms, key=lambda r: r["seconds"])
        base_rate = base["mb"] / base["seconds"]
        cold_rate = cold["mb"] / cold["seconds"]
        print(
            f"{name:8} {cold['files']:>6} {cold['mb']:>6.1f} {base_rate:>14.1f} {cold_rate:>11.1f} {cold_rate / base_rate:>6.2f} "
            f"{warm['seconds']:>9.2f} {100 * warm['seconds'] / cold['seconds']:>8.1f}% {cold['peak_rss_mb']:>12.0f} {min(r['cpu_seconds'] for r in colds):>5.1f}/{min(r['cpu_seconds'] for r in bases):<5.1f}"
        )
        print(
            f"         chunks {cold['chunks']}, skipped {cold['skipped']}; largest worker's peak RSS "
            f"{cold['worker_peak_rss_mb']:.0f} MB; baseline peak RSS {base['peak_rss_mb']:.0f} MB; "
            f"CPU s ragls/baseline (least of the runs)",
            flush=True,
        )


if __name__ == "__main__":
    main()
