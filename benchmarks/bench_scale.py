"""Scale (issue 13): a 1 GB tree's cold index, and a 100,000-file tree under the language server.

    .venv/bin/python benchmarks/bench_scale.py              # both parts, full size (≈ 6–9 min on 2 busy cores)
    .venv/bin/python benchmarks/bench_scale.py --only big   # part (a) only
    .venv/bin/python benchmarks/bench_scale.py --only many  # part (b) only
    .venv/bin/python benchmarks/bench_scale.py --quick      # 1/20 of the sizes, 5 s idle windows: a smoke run

(a) ``big``: a generated ≈ 1 GB workspace — Python and reStructuredText from the standard library,
Markdown from the k8s docs, plain text, each file a real one with a unique first line; plus files
over ``maxFileSizeKb`` (1 MB) and binaries (by extension, and text files with NUL bytes) that must
be skipped. ``ragls index`` runs cold in its own process; the benchmark samples the whole process
tree's RSS (the sum of VmRSS over the process and its worker processes, every 20 ms, from /proc)
and reports the peak, the wall time and MB/s, next to two baselines measured in the same run: the
same indexing of a 10x smaller tree from the same generator, and ``python -c 'import
ragls.index.workspace_index'``. Target: peak RSS <= 600 MB. The coverage line compares what the
index holds and skipped with what the generator wrote.

(b) ``many``: a generated tree of 100,000 small files (1,000 folders). The real server
(``python -m ragls --stdio``) indexes it cold once; then, on the warm index, with inotify and with
the polling fallback (``RAGLS_FORCE_POLLING=1``, the switch the server uses when the inotify watch
limit is reached): the time from start to ``ragls/status`` saying the index is complete, the idle
CPU of the server's process tree over 30 s (utime + stime from /proc/PID/stat, as % of one core),
and the latency from writing a new file to ``ragls/status`` counting it.

Trees are generated under /tmp/ragls-scale (seeded, reused when the marker file matches); indexes
live in a temporary folder and are removed afterwards. Needs the standard library sources and
../shared/eval/k8s-docs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_lsp import make_client, request  # noqa: E402  (a sibling script, not a package)

K8S_DOCS = HERE.parent.parent / "shared" / "eval" / "k8s-docs" / "docs"
TREES = Path("/tmp/ragls-scale")
GENERATOR_VERSION = 1  # bump when the generator changes, so an old tree is not reused
MAX_FILE_KB = 1024  # the default maxFileSizeKb the big files must exceed
MB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the source pool ------------------------------------------------------------------------------


def source_pool() -> list[tuple[str, bytes]]:
    """(extension, content) of real files: stdlib code and docs, k8s Markdown. Sorted, so a seed
    gives the same tree on every machine with the same sources."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    pool: list[tuple[str, bytes]] = []
    for path in sorted(stdlib.rglob("*")):
        rel = path.relative_to(stdlib).as_posix()
        if rel.startswith(("site-packages/", "test/", "idlelib/Icons")) or "__pycache__" in rel:
            continue
        if path.suffix in (".py", ".rst", ".txt") and path.is_file():
            data = path.read_bytes()
            if 200 <= len(data) <= 256 * 1024 and b"\0" not in data[:8192]:
                pool.append((path.suffix, data))
    for path in sorted(K8S_DOCS.glob("*.md")):
        pool.append((".md", path.read_bytes()))
    if not pool:
        raise SystemExit("no source files found (stdlib sources and ../shared/eval/k8s-docs are needed)")
    return pool


# --- tree generation ------------------------------------------------------------------------------


@dataclass
class TreeSpec:
    kind: str  # "big" | "many"
    target_mb: int = 0
    files: int = 0
    seed: int = 13

    @property
    def name(self) -> str:
        size = f"{self.target_mb}mb" if self.kind == "big" else f"{self.files}files"
        return f"{self.kind}-{size}-s{self.seed}-v{GENERATOR_VERSION}"


@dataclass
class Tree:
    root: Path
    bytes_total: int = 0
    indexable_files: int = 0
    indexable_bytes: int = 0
    expected_skips: dict[str, int] = field(default_factory=dict)

    def save(self) -> None:
        marker = {k: v for k, v in self.__dict__.items() if k != "root"}
        (self.root.parent / f"{self.root.name}.json").write_text(json.dumps(marker))

    @classmethod
    def load(cls, root: Path) -> "Tree | None":
        marker = root.parent / f"{root.name}.json"
        if not (root.is_dir() and marker.exists()):
            return None
        return cls(root, **json.loads(marker.read_text()))


def _with_header(number: int, ext: str, data: bytes) -> bytes:
    """A unique first line (so no two generated files are identical), as the language writes it."""
    mark = {".py": b"# ", ".md": b"<!-- ", ".rst": b".. ", ".txt": b""}[ext]
    tail = b" -->" if ext == ".md" else b""
    return mark + f"scale-bench file {number}".encode() + tail + b"\n" + data


def generate(spec: TreeSpec, pool: list[tuple[str, bytes]]) -> Tree:
    root = TREES / spec.name
    existing = Tree.load(root)
    if existing is not None:
        return existing
    if root.exists():
        shutil.rmtree(root)  # a half-written tree from an interrupted run
    (root.parent / f"{root.name}.json").unlink(missing_ok=True)
    rng = random.Random(spec.seed)
    tree = Tree(root)
    started = time.perf_counter()
    print(f"generating {root} …", file=sys.stderr, flush=True)

    def write(rel: str, data: bytes) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        tree.bytes_total += len(data)

    number = 0
    if spec.kind == "big":
        target = spec.target_mb * MB
        # ≈ 80% indexable text, 10% too large, 10% binary: a monorepo with vendored assets and dumps.
        while tree.indexable_bytes < target * 0.80:
            ext, data = rng.choice(pool)
            data = _with_header(number, ext, data)
            write(f"pkg{number % 97:02d}/mod{number % 31:02d}/f{number}{ext}", data)
            tree.indexable_files += 1
            tree.indexable_bytes += len(data)
            number += 1
        too_large = 0
        while too_large < target * 0.10:
            ext, data = rng.choice(pool)
            size = rng.randint(MAX_FILE_KB * 1024 + 1, 6 * MB)
            blob = (_with_header(number, ext, data) * (size // max(len(data), 1) + 1))[:size]
            write(f"dumps/d{number}{ext}", blob)
            too_large += len(blob)
            tree.expected_skips["too-large"] = tree.expected_skips.get("too-large", 0) + 1
            number += 1
        binary = 0
        while binary < target * 0.10:
            size = rng.randint(16 * 1024, 900 * 1024)
            if number % 2:  # by extension: never even opened
                ext, reason, blob = rng.choice([".png", ".so", ".whl", ".jar"]), "unsupported", rng.randbytes(size)
            else:  # a supported extension with NUL bytes in the first 8 KB: sniffed as binary
                ext, reason = rng.choice([".txt", ".md", ".py"]), "binary"
                blob = b"header\n" + rng.randbytes(size)
                if b"\0" not in blob[:8192]:
                    blob = b"header\n\0" + blob[8:]
            write(f"assets/a{number % 50:02d}/b{number}{ext}", blob)
            binary += len(blob)
            tree.expected_skips[reason] = tree.expected_skips.get(reason, 0) + 1
            number += 1
    else:
        # Small files, 100 per folder, 1,000 folders at two levels: slices of real files.
        per_dir = 100
        for number in range(spec.files):
            ext, data = rng.choice(pool)
            lines = data.splitlines(keepends=True)
            start = rng.randrange(max(1, len(lines) - 20))
            body = b"".join(lines[start : start + rng.randint(8, 60)]) or data[:2000]
            data = _with_header(number, ext, body)
            folder = number // per_dir
            write(f"area{folder // 40:02d}/part{folder:04d}/f{number}{ext}", data)
            tree.indexable_files += 1
            tree.indexable_bytes += len(data)
    tree.save()
    print(f"  {tree.indexable_files + sum(tree.expected_skips.values())} files, {tree.bytes_total / MB:.0f} MB in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return tree


# --- process-tree sampling (/proc) ----------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (via /proc/PID/task/*/children)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    queue.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def memory_bytes(pid: int) -> dict[str, int]:
    """VmRSS and its parts from /proc/PID/status: RssAnon (the process's own memory) and RssFile
    (mapped files — Tantivy's segments, libraries — page cache the kernel can take back)."""
    found = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key = line.split(":", 1)[0]
                if key in found:
                    found[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return found


def rss_bytes(pid: int) -> int:
    return memory_bytes(pid)["VmRSS"]


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its live descendants, plus what its reaped children used."""
    total = 0.0
    for index, current in enumerate(descendants(pid)):
        try:
            with open(f"/proc/{current}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state (field 3); utime/stime are fields 14/15, cutime/cstime 16/17
        ticks = int(fields[11]) + int(fields[12])
        if index == 0:
            ticks += int(fields[13]) + int(fields[14])
        total += ticks / CLK_TCK
    return total


class TreeRssSampler:
    """Peak of the summed RSS of a process tree, sampled on a thread. Shared pages (libraries) are
    counted once per process: an upper bound, as the OS would see the pressure."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.pid = pid
        self.peak = 0
        self.peak_processes = 0
        self.peak_single = 0  # the largest one process's RSS
        self.peak_anon = 0  # the peak of the summed RssAnon (not necessarily at the same moment)
        self.at_peak: dict[str, int] = {}  # the parts at the RSS peak
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = descendants(self.pid)
            parts = [memory_bytes(p) for p in pids]
            total = sum(m["VmRSS"] for m in parts)
            anon = sum(m["RssAnon"] for m in parts)
            self.peak_anon = max(self.peak_anon, anon)
            self.peak_single = max([self.peak_single, *(m["VmRSS"] for m in parts)])
            if total > self.peak:
                self.peak, self.peak_processes = total, len(pids)
                self.at_peak = {"anon": anon, "file": sum(m["RssFile"] for m in parts), "seconds": time.perf_counter() - self._started}
            self._stop.wait(self._interval)

    def __enter__(self) -> "TreeRssSampler":
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[str, float, TreeRssSampler]:
    """Run ``cmd``; returns (stdout, wall s, the RSS sampler). (wait4's ru_maxrss is no
    cross-check: a child forked from this process inherits this process's RSS as its maximum.)"""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    with TreeRssSampler(proc.pid) as sampler:
        reader.start()
        proc.wait()
    reader.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}")
    return b"".join(out).decode(), wall, sampler


# --- part (a): the 1 GB tree ----------------------------------------------------------------------


def cold_index(tree: Tree, work: Path) -> dict:
    index_dir = work / f"index-{tree.root.name}"
    shutil.rmtree(index_dir, ignore_errors=True)
    cmd = [sys.executable, "-m", "ragls", "index", str(tree.root), "--index-dir", str(index_dir), "--json"]
    out, wall, sampler = run_measured(cmd)
    report = json.loads(out)
    # The final index's shape: how many segments Tantivy's merges left, and its size on disk (the
    # pages a merge of all of it would map).
    segments = len(json.loads((index_dir / "meta.json").read_text())["segments"])
    on_disk = sum(p.stat().st_size for p in index_dir.iterdir() if p.is_file())
    shutil.rmtree(index_dir, ignore_errors=True)
    return {"report": report, "wall": wall, "peak": sampler.peak, "single": sampler.peak_single, "sampler": sampler,
            "segments": segments, "on_disk": on_disk}


def part_big(pool, target_mb: int, work: Path) -> None:
    print(f"\n== (a) cold `ragls index` of a {target_mb} MB tree")
    import_cmd = [sys.executable, "-c", "import ragls.index.workspace_index"]
    import_peak = max(run_measured(import_cmd)[2].peak for _ in range(3))  # short-lived: the best of 3 samplings
    small = generate(TreeSpec("big", target_mb=max(1, target_mb // 10)), pool)
    big = generate(TreeSpec("big", target_mb=target_mb), pool)
    results = {}
    for label, tree in (("1/10 tree", small), ("full tree", big)):
        measured = cold_index(tree, work)
        results[label] = measured
        report = measured["report"]
        skipped = report["skipped"]
        coverage = ", ".join(
            f"{reason} {skipped.get(reason, 0)}/{count}" for reason, count in sorted(tree.expected_skips.items())
        )
        print(
            f"{label}: {tree.bytes_total / MB:.0f} MB on disk, {tree.indexable_bytes / MB:.0f} MB indexable; "
            f"wall {measured['wall']:.1f} s, {tree.bytes_total / MB / measured['wall']:.1f} MB/s of tree "
            f"({report['mbPerSecond']:.1f} MB/s read, ragls's own figure); "
            f"peak RSS (process tree) {measured['peak'] / MB:.0f} MB, largest single process {measured['single'] / MB:.0f} MB"
        )
        sampler = measured["sampler"]
        print(
            f"  at the RSS peak ({sampler.at_peak.get('seconds', 0):.0f} s in, {sampler.peak_processes} processes): "
            f"anonymous {sampler.at_peak.get('anon', 0) / MB:.0f} MB + mapped files {sampler.at_peak.get('file', 0) / MB:.0f} MB; "
            f"peak anonymous alone {sampler.peak_anon / MB:.0f} MB; the index: {measured['on_disk'] / MB:.0f} MB on disk, "
            f"{measured['segments']} segments"
        )
        print(
            f"  coverage: indexed {report['files']}/{tree.indexable_files} files, {report['chunks']} passages; "
            f"skipped (seen/generated) {coverage}; all skips {dict(sorted(skipped.items()))}"
        )
    full, tenth = results["full tree"], results["1/10 tree"]
    print(
        f"peak RSS: full {full['peak'] / MB:.0f} MB = {full['peak'] / tenth['peak']:.2f}x the 1/10 tree's "
        f"{tenth['peak'] / MB:.0f} MB = {full['peak'] / import_peak:.1f}x importing ragls.index ({import_peak / MB:.0f} MB); "
        f"target <= 600 MB: {'OK' if full['peak'] <= 600 * MB else 'MISSED'} (the 10x tree costs "
        f"{(full['peak'] - tenth['peak']) / MB:+.0f} MB)"
    )
    print(
        f"peak anonymous memory: full {full['sampler'].peak_anon / MB:.0f} MB = "
        f"{full['sampler'].peak_anon / tenth['sampler'].peak_anon:.2f}x the 1/10 tree's {tenth['sampler'].peak_anon / MB:.0f} MB"
    )
    print(
        f"throughput: full {big.bytes_total / MB / full['wall']:.1f} MB/s of tree = "
        f"{(big.bytes_total / full['wall']) / (small.bytes_total / tenth['wall']):.2f}x the 1/10 tree's"
    )


# --- part (b): 100,000 files under the language server --------------------------------------------


class Server:
    """The real server over stdio, as an editor runs it."""

    def __init__(self, root: Path, index_parent: Path, *, polling: bool) -> None:
        self.root, self.index_parent, self.polling = root, index_parent, polling
        self.client = make_client()
        self.pid = 0

    async def start(self) -> float:
        """Start, initialize; returns the seconds until ``ragls/status`` says the index is complete."""
        env = dict(os.environ)
        env.pop("RAGLS_FORCE_POLLING", None)
        if self.polling:
            env["RAGLS_FORCE_POLLING"] = "1"
        started = time.perf_counter()
        await self.client.start_io(sys.executable, "-m", "ragls", "--stdio", env=env)
        self.pid = self.client._server.pid
        # pygls pipes the server's stderr and never reads it: a full pipe would stall the server.
        self._drain = asyncio.ensure_future(self._discard(self.client._server.stderr))
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True),
                    workspace=types.WorkspaceClientCapabilities(configuration=True, workspace_folders=True),
                ),
                root_uri=self.root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=self.root.as_uri(), name=self.root.name)],
                initialization_options={"index": {"indexDir": str(self.index_parent)}},
            )
        )
        self.client.initialized(types.InitializedParams())
        while True:
            folder = await self.folder()
            if folder is not None and not folder["indexing"]:
                return time.perf_counter() - started
            await asyncio.sleep(0.1)

    @staticmethod
    async def _discard(stream) -> None:
        while await stream.read(65536):
            pass

    async def folder(self) -> dict | None:
        status = await request(self.client, "ragls/status", {})
        return status["folders"][0] if status["folders"] else None

    async def idle_cpu(self, seconds: float) -> float:
        """% of one core the server's process tree used over ``seconds`` with no request."""
        before = cpu_seconds(self.pid)
        await asyncio.sleep(seconds)
        return (cpu_seconds(self.pid) - before) / seconds * 100

    async def change_latency(self, trials: int, label: str) -> list[float]:
        """Seconds from writing a new file to ``ragls/status`` counting it (noticed and indexed)."""
        latencies = []
        for trial in range(trials):
            files = (await self.folder())["files"]
            path = self.root / f"bench_new_{label}_{trial}.md"
            started = time.perf_counter()
            path.write_text(f"# New {label} {trial}\n\nA file written by bench_scale.py.\n")
            while (await self.folder())["files"] <= files:
                if time.perf_counter() - started > 60:
                    raise SystemExit(f"{label}: a new file was not noticed within 60 s")
                await asyncio.sleep(0.02)
            latencies.append(time.perf_counter() - started)
            path.unlink()
            while (await self.folder())["files"] > files:  # the delete too, so trials do not overlap
                await asyncio.sleep(0.05)
        return latencies

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.shutdown_async(None), 30)
            self.client.exit(None)
        except Exception as exc:
            print(f"shutdown: {exc}", file=sys.stderr)
        await self.client.stop()


async def part_many(pool, files: int, idle_s: float, work: Path) -> None:
    print(f"\n== (b) {files} files under the language server")
    tree = generate(TreeSpec("many", files=files), pool)
    index_parent = work / "index-many"
    shutil.rmtree(index_parent, ignore_errors=True)
    print(f"tree: {tree.indexable_files} files, {tree.bytes_total / MB:.0f} MB, {len({p.parent for p in tree.root.rglob('*.*')})} folders")

    cold = Server(tree.root, index_parent, polling=False)
    cold_s = await cold.start()
    folder = await cold.folder()
    rss = sum(rss_bytes(p) for p in descendants(cold.pid))
    print(f"cold first index over LSP: {cold_s:.1f} s, {folder['files']} files, {folder['chunks']} passages; server RSS {rss / MB:.0f} MB")
    await cold.stop()

    rows = {}
    for polling in (False, True):
        server = Server(tree.root, index_parent, polling=polling)
        warm_s = await server.start()
        mode = (await server.folder())["watcher"]
        rss = sum(rss_bytes(p) for p in descendants(server.pid))
        await asyncio.sleep(1.0)  # the polling emitter's first snapshot and the first status calls settle
        idle = await server.idle_cpu(idle_s)
        latency = await server.change_latency(3, mode)
        await server.stop()
        rows[mode] = (warm_s, idle, latency)
        print(
            f"{mode}: warm start to index complete {warm_s:.1f} s ({warm_s / cold_s:.2f}x the cold index); "
            f"idle CPU over {idle_s:.0f} s {idle:.1f}% of a core; new file -> counted in status: "
            f"median {statistics.median(latency) * 1000:.0f} ms, max {max(latency) * 1000:.0f} ms; RSS {rss / MB:.0f} MB"
        )
    if "inotify" in rows and "polling" in rows:
        (iw, ii, il), (pw, pi, pl) = rows["inotify"], rows["polling"]
        print(
            f"polling vs inotify: start-up {pw / iw:.2f}x, idle CPU {pi:.1f}% vs {ii:.1f}% of a core, "
            f"change latency {statistics.median(pl) / statistics.median(il):.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("big", "many"), help="run one part")
    parser.add_argument("--quick", action="store_true", help="1/20 of the sizes and 5 s idle windows (a smoke run)")
    parser.add_argument("--big-mb", type=int, help="size of the big tree in MB (default 1024; quick 50)")
    parser.add_argument("--files", type=int, help="files in the many-files tree (default 100000; quick 5000)")
    parser.add_argument("--idle-s", type=float, help="idle CPU window (default 30; quick 5)")
    args = parser.parse_args()
    big_mb = args.big_mb or (50 if args.quick else 1024)
    files = args.files or (5000 if args.quick else 100_000)
    idle_s = args.idle_s or (5.0 if args.quick else 30.0)
    pool = source_pool()
    print(f"source pool: {len(pool)} real files; trees under {TREES}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="ragls-bench-scale-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        if args.only in (None, "big"):
            part_big(pool, big_mb, work)
        if args.only in (None, "many"):
            asyncio.run(part_many(pool, files, idle_s, work))
        print(f"\nbenchmark wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
