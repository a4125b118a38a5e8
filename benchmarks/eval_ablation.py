"""Retrieval ablation: each change of issue 6 measured with ``ragls eval`` on SciFact and k8s-docs.

    .venv/bin/python benchmarks/eval_ablation.py [--data ../shared/eval]

Prints a Markdown table (the one in docs/EVALUATION.md). Every row runs the real CLI, so the numbers
are what users get from ``ragls eval --param ...``. Latency is noisy on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

from ragls.cli import main as ragls

# Each row adds one change to the previous one; the overrides undo what later rows add.
_ROUND2_OFF = ["ident=0.5", "phrase_slop=1", "length_floor=0", "prf_docs=0"]
STEPS = [
    ("before (title 1.2, phrase 0.6)", ["title=1.2", "phrase=0.6", "file_evidence=0", *_ROUND2_OFF]),
    ("title 1.2 -> 0.5", ["phrase=0.6", "file_evidence=0", *_ROUND2_OFF]),
    ("+ phrase 0.6 -> 0.3", ["file_evidence=0", *_ROUND2_OFF]),
    ("+ file evidence 0.2 (round-1 default)", _ROUND2_OFF),
    ("+ ident 0.5 -> 0.25", ["phrase_slop=1", "length_floor=0", "prf_docs=0"]),
    ("+ phrase slop 1 -> 2", ["length_floor=0", "prf_docs=0"]),
    ("+ length floor 0.5 (round-2 default)", ["prf_docs=0"]),
    ("+ PRF 5 gated by coverage < 0.45 (default)", []),
    ("PRF always (prf_gate 1.01, round-2 --prf 5)", ["prf_gate=1.01"]),
]


def run(argv: list[str]) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = ragls(["eval", *argv, "--json"])
    if code != 0:
        raise SystemExit(f"ragls eval {' '.join(argv)} failed with {code}")
    return json.loads(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "eval"))
    data = Path(parser.parse_args().data)
    k8s = data / "k8s-docs"
    print("| change | SciFact nDCG@10 | SciFact p95 ms | k8s tune nDCG@10 | k8s test nDCG@10 | k8s R@10 (all) | k8s answered | SciFact-vs-k8s declined |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for label, params in STEPS:
            flags = [arg for p in params for arg in ("--param", p)]
            sci = run(["--beir", str(data / "scifact"), *flags])["runs"][0]
            ws = run(["--workspace", str(k8s), "--questions", str(k8s / "questions.jsonl"), "--index-dir", f"{tmp}/k8s",
                      "--ood-queries", str(data / "scifact" / "queries.jsonl"), *flags])
            runs = {r["name"].split()[-1]: r for r in ws["runs"]}
            print(
                f"| {label} | {sci['metrics']['nDCG@10']:.4f} | {sci['latencyMs']['p95']:.1f} "
                f"| {runs['tune']['metrics']['nDCG@10']:.4f} | {runs['test']['metrics']['nDCG@10']:.4f} "
                f"| {runs['all']['metrics']['Recall@10']:.3f} | {runs['all']['answeredRate']:.1%} "
                f"| {ws['abstention']['declinedRate']:.1%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
