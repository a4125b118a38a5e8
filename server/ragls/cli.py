"""The ``ragls`` command line: index, search, ask, eval, serve, train-data, tune.

Results go to stdout (text or ``--json``); progress, warnings and logs go to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Sequence

from ragls import __version__
from ragls.errors import UserError
from ragls.settings import IndexSettings, ModelSettings, Settings, parse_settings

log = logging.getLogger("ragls")


# --- progress on stderr --------------------------------------------------------------------------

class ProgressBar:
    """A one-line progress bar on stderr (only when stderr is a terminal; a log line otherwise)."""

    def __init__(self, label: str, stream=sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.tty = stream.isatty()
        self._last = 0.0
        self._line_open = False  # a bar drawn without its line ended (the run stopped short of 100%)

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if progress.done_files != progress.total_files and now - self._last < 0.1:
            return
        self._last = now
        total = max(progress.total_files, 1)
        fraction = progress.done_files / total
        if self.tty:
            width = 30
            filled = int(width * fraction)
            bar = "█" * filled + "·" * (width - filled)
            self.stream.write(f"\r{self.label} {bar} {fraction:6.1%} {progress.done_files}/{progress.total_files} files")
            self._line_open = progress.done_files < progress.total_files
            if not self._line_open:
                self.stream.write("\n")
            self.stream.flush()
        elif progress.done_files >= progress.total_files or now - getattr(self, "_last_line", 0) > 5:
            self._last_line = now
            print(f"{self.label}: {progress.done_files}/{progress.total_files} files", file=self.stream)


    def finish(self) -> None:
        """End the bar's line, so what is printed next starts on a line of its own."""
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False


class PromptProgress:
    """``reading the passages  42%`` on stderr while the model reads its prompt (terminals only);
    cleared before the answer streams to stdout."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        percentage = done * 100 // max(total, 1)
        if self.tty and percentage != self._shown:
            self._shown = percentage
            self.stream.write(f"\rreading the passages {percentage:3d}%")
            self.stream.flush()

    def clear(self) -> None:
        if self._shown >= 0:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = -1


# --- terminal safety -------------------------------------------------------------------------------

# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI) and the bidi overrides
# of "trojan source": file text that a cloned repository controls must not drive the terminal
# (OSC 52 writes the clipboard, CSI clears the screen, OSC 0 retitles the window).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``) instead of sent."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


class TerminalSafeWriter:
    """stdout for the text (not ``--json``) output of commands that print file text."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _positive_int(limit: int):
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"expected 1..{limit}, got {value}")
        return value

    return parse


# --- helpers -------------------------------------------------------------------------------------

def _index_settings(args: argparse.Namespace) -> IndexSettings:
    settings = IndexSettings()
    if getattr(args, "max_file_size_kb", None):
        settings = dataclasses.replace(settings, max_file_size_kb=args.max_file_size_kb)
    if getattr(args, "exclude", None):
        settings = dataclasses.replace(settings, exclude=tuple(args.exclude))
    if getattr(args, "no_gitignore", False):
        settings = dataclasses.replace(settings, respect_gitignore=False)
    return settings


def _open_index(args: argparse.Namespace, *, update: bool = True, quiet: bool = False):
    from ragls.index.workspace_index import WorkspaceIndex

    index = WorkspaceIndex(args.dir, _index_settings(args), index_path=Path(args.index_dir) if args.index_dir else None)
    for message in index.messages:
        print(f"ragls: {message}", file=sys.stderr)
    report = None
    if update:
        bar = None if quiet else ProgressBar("indexing")
        try:
            report = index.sync(progress=bar)
        finally:
            if bar is not None:
                bar.finish()
    return index, report


def _report_json(report, index) -> dict[str, Any]:
    return {
        "root": str(index.root),
        "indexDir": str(index.index_path),
        "files": report.files,
        "chunks": report.chunks,
        "added": report.added,
        "updated": report.updated,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "skipped": dict(sorted(report.skipped.items())),
        "seconds": round(report.seconds, 3),
        "mbRead": round(report.bytes_read / 1e6, 3),
        "mbPerSecond": round(report.mb_per_s, 2),
        "messages": report.messages,
        "redactedSecrets": report.redacted,
    }


def _hit_json(hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "path": chunk.path,
        "startLine": chunk.start_line,
        "endLine": chunk.end_line,
        "score": round(hit.score, 4),
        "heading": chunk.heading_path,
        "symbols": list(chunk.symbols),
        "snippet": hit.snippet,
        "matchedLines": list(hit.matched_lines),
        "components": hit.components,
    }


def _answer_json(answer, result=None) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "source": answer.source,
        "citations": [
            {"id": c.id, "path": c.path, "startLine": c.start_line, "endLine": c.end_line, "title": c.title, "snippet": c.snippet}
            for c in answer.citations
        ],
        "warnings": list(answer.warnings),
        "confidence": round(result.confidence, 3) if result else None,
    }


# --- commands ------------------------------------------------------------------------------------

def cmd_index(args: argparse.Namespace) -> int:
    index, _ = _open_index(args, update=False)
    bar = None if args.json else ProgressBar("indexing")
    try:
        report = (index.rebuild if args.rebuild else index.sync)(progress=bar)
    finally:
        if bar is not None:
            bar.finish()
        index.close()
    if args.json:
        print(json.dumps(_report_json(report, index), indent=2))
        return 0
    print(
        f"{report.files} files, {report.chunks} chunks "
        f"({report.added} added, {report.updated} updated, {report.removed} removed, {report.unchanged} unchanged) "
        f"in {report.seconds:.2f} s, {report.bytes_read / 1e6:.1f} MB read at {report.mb_per_s:.1f} MB/s"
    )
    if report.skipped:
        print("skipped: " + ", ".join(f"{reason} {count}" for reason, count in sorted(report.skipped.items())))
    if report.redacted:
        print(f"redacted: {report.redacted} secret values (tokens, keys, passwords) are not in the index")
    for message in report.messages:
        print(f"note: {message}")
    print(f"index: {index.index_path}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    index, _ = _open_index(args, update=not args.no_update, quiet=args.json)
    try:
        result = index.search(args.query, limit=args.k, max_per_file=args.max_per_file, explain=args.explain)
    finally:
        index.close()
    if args.json:
        print(json.dumps({
            "query": args.query,
            "covered": result.covered,
            "confidence": round(result.confidence, 3),
            "elapsedMs": result.elapsed_ms,
            "hits": [_hit_json(h) for h in result.hits],
        }, indent=2))
        return 0
    if not result.hits:
        print("no passages match this query")
        return 0
    for n, hit in enumerate(result.hits, 1):
        chunk = hit.chunk
        label = chunk.heading_path or ", ".join(chunk.symbols[:3])
        print(f"{n}. {chunk.location}  score {hit.score:.2f}" + (f"  {label}" if label else ""))
        if args.explain:
            print("   " + "  ".join(f"{k}={v:g}" for k, v in hit.components.items()))
        for line in hit.snippet.split("\n"):
            print(f"   │ {line}")
    if not result.covered:
        print(f"(weak matches: coverage {result.confidence:.2f}; the workspace may not cover this query)")
    return 0


def _adapter_arg(raw: str) -> tuple[str, float]:
    """``PATH[:SCALE]`` -> (path, scale); a colon not followed by a number belongs to the path."""
    path, colon, scale = raw.rpartition(":")
    if colon:
        try:
            return path, float(scale)
        except ValueError:
            pass
    return raw, 1.0


def raw_model_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The model flags (``_add_model_options``) as the raw ``model`` settings section ({} without
    any): what ``ragls ask`` uses, and ``ragls --stdio``/``serve`` start with (the editor's
    settings override them). Adapters given on the command line are the ones answers use."""
    raw_model: dict[str, Any] = {}
    if getattr(args, "model", None):
        raw_model["path"] = args.model
    adapters = []
    for raw in getattr(args, "adapter", None) or []:
        path, scale = _adapter_arg(raw)
        adapters.append({"name": Path(path).stem, "path": path, "scale": scale})
    if adapters:
        raw_model.update(adapters=adapters, defaultAdapters=[a["name"] for a in adapters])
    for key, attr in (("temperature", "temperature"), ("seed", "seed"), ("contextSize", "ctx_size"), ("gpuLayers", "gpu_layers"), ("threads", "threads"), ("maxTokens", "max_tokens"), ("weightRepacking", "weight_repacking")):
        if getattr(args, attr, None) is not None:
            raw_model[key] = getattr(args, attr)
    if getattr(args, "grounded_guard", None) is not None:
        raw_model["groundedGuard"] = args.grounded_guard == "on"
    if getattr(args, "remote_url", None):
        raw_model["remote"] = {"url": args.remote_url, "model": args.remote_model, "apiKey": os.environ.get("RAGLS_API_KEY")}
    return {"model": raw_model} if raw_model else {}


def _print_model_crash(event: Any) -> None:
    """A crash of the model process is news for the user (the answer still comes, from the passages);
    a load failure is reported once the load is over."""
    if event.kind == "crashed":
        print(f"ragls: {event.message}", file=sys.stderr)


def _model_settings(args: argparse.Namespace) -> ModelSettings | None:
    if not getattr(args, "model", None) and not getattr(args, "remote_url", None):
        return None
    settings, warnings = parse_settings(raw_model_settings(args))
    for warning in warnings:
        print(f"ragls: {warning}", file=sys.stderr)
    return settings.model


def cmd_ask(args: argparse.Namespace) -> int:
    from ragls.answering import Answerer
    from ragls.core.requests import AnswerHooks, AnswerRequest

    index, _ = _open_index(args, update=not args.no_update, quiet=args.json)
    settings = Settings()
    settings = dataclasses.replace(settings, retrieval=dataclasses.replace(settings.retrieval, passages=args.k))
    model = None
    model_settings = _model_settings(args)
    if model_settings is not None:
        from ragls.model.host import ModelHost

        settings = dataclasses.replace(settings, model=model_settings)
        model = ModelHost(model_settings, listener=_print_model_crash)
        model.start()
        model.wait_ready()
        status = model.status()
        if status.state != "ready":
            print(f"ragls: model unusable ({status.detail}); answering from the workspace text only", file=sys.stderr)
    answerer = Answerer(lambda: [index], settings, model)
    streamed = not args.json and model is not None and answerer.model_ready()

    reading = PromptProgress()

    def on_delta(text: str) -> None:
        if streamed:
            reading.clear()
            sys.stdout.write(text)
            sys.stdout.flush()

    try:
        result = answerer.retrieve(args.question)
        answer = answerer.ask(
            AnswerRequest(args.question, temperature=args.temperature, seed=args.seed),
            AnswerHooks(on_delta=on_delta, on_prompt=reading if streamed else None),
            retrieved=result,
        )
    finally:
        reading.clear()
        index.close()
        if model is not None:
            model.close()
    if args.json:
        print(json.dumps(_answer_json(answer, result), indent=2))
        return 0
    if streamed:
        print()
    else:
        print(textwrap.fill(answer.text, width=100) if "\n" not in answer.text else answer.text)
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            print(f"  [{c.id}] {c.location}" + (f" — {c.title}" if c.title and c.title != c.path else ""))
    for warning in answer.warnings:
        print(f"warning: {terminal_safe(warning)}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ragls.lsp.server import serve

    return serve(args, raw_model_settings(args)) or 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from ragls.agents.mcp_server import serve_mcp

    raw_index: dict[str, Any] = {}
    if args.index_dir:
        raw_index["indexDir"] = str(Path(args.index_dir).expanduser().resolve())
    if args.max_file_size_kb:
        raw_index["maxFileSizeKb"] = args.max_file_size_kb
    if args.exclude:
        raw_index["exclude"] = list(args.exclude)
    if args.no_gitignore:
        raw_index["respectGitignore"] = False
    raw = {**raw_model_settings(args), **({"index": raw_index} if raw_index else {})}
    return serve_mcp(args.workspaces, raw, verbose=args.verbose)


def cmd_eval(args: argparse.Namespace) -> int:
    from ragls.evaluation.cli import run_eval

    return run_eval(args)


# --- parser --------------------------------------------------------------------------------------

def _add_index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", help="workspace folder (default: .)")
    parser.add_argument("--index-dir", help="where the index lives (default: a per-workspace folder in the user cache)")
    parser.add_argument("--max-file-size-kb", type=_positive_int(1 << 22), help="skip files larger than this (default 1024)")
    parser.add_argument("--exclude", action="append", metavar="PATTERN", help="extra gitignore-style pattern to skip")
    parser.add_argument("--no-gitignore", action="store_true", help="do not honour .gitignore files")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model (optional; without one, answers are extractive)")
    group.add_argument("--model", help="path to a GGUF model")
    group.add_argument("--adapter", action="append", metavar="PATH[:SCALE]", help="LoRA adapter (repeatable)")
    group.add_argument("--temperature", type=float)
    group.add_argument("--seed", type=int)
    group.add_argument("--ctx-size", type=int, help="context size in tokens (default 4096)")
    group.add_argument("--gpu-layers", type=int, help="layers to offload (-1: all when a GPU build is present)")
    group.add_argument("--threads", type=int)
    group.add_argument("--max-tokens", type=int)
    group.add_argument(
        "--weight-repacking", choices=("auto", "on", "off"),
        help="llama.cpp's repacking of CPU weights (auto: off on CPUs with AMX, where it crashes, and after a crash)",
    )
    group.add_argument(
        "--grounded-guard", choices=("on", "off"),
        help="remove model sentences their cited passages do not support, streaming only checked sentences (default on)",
    )
    group.add_argument("--remote-url", help="OpenAI-compatible endpoint instead of a local model (key: $RAGLS_API_KEY)")
    group.add_argument("--remote-model", help="model name at the remote endpoint")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragls", description="Ask your workspace: cited answers from your own repository.")
    parser.add_argument("--version", action="version", version=f"ragls {__version__}")
    parser.add_argument("--stdio", action="store_true", help="run the language server over stdio")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    _add_model_options(parser)  # for --stdio
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("index", help="index (or update the index of) a workspace")
    _add_index_options(p)
    p.add_argument("--rebuild", action="store_true", help="drop the index and build it from scratch")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="ranked passages for a query")
    _add_index_options(p)
    p.add_argument("query")
    p.add_argument("-k", type=_positive_int(1000), default=5, help="passages to return (default 5)")
    p.add_argument("--max-per-file", type=_positive_int(1000), default=2)
    p.add_argument("--explain", action="store_true", help="show each signal's score")
    p.add_argument("--no-update", action="store_true", help="search the index as it is, without updating it first")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="a cited answer to a question")
    _add_index_options(p)
    p.add_argument("question")
    p.add_argument("-k", type=_positive_int(50), default=5, help="passages to retrieve (default 5)")
    p.add_argument("--no-update", action="store_true")
    _add_model_options(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the language server")
    p.add_argument("--stdio", action="store_true", help="over stdio (default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="over TCP, one session (for debugging)")
    _add_model_options(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve coding agents over the Model Context Protocol (stdio; docs/AGENTS.md)")
    p.add_argument(
        "workspaces", nargs="*", metavar="WORKSPACE",
        help="workspace folders to serve (default: the MCP roots the client sends)",
    )
    p.add_argument(
        "--index-dir",
        help="the folder that holds one index per workspace, as the language server's index.indexDir setting "
        "(default: the user cache); the same folder as an editor's ragls shares its live index",
    )
    p.add_argument("--max-file-size-kb", type=_positive_int(1 << 20), help="skip files larger than this (default 1024)")
    p.add_argument("--exclude", action="append", metavar="PATTERN", help="extra gitignore-style pattern to skip")
    p.add_argument("--no-gitignore", action="store_true", help="do not honour .gitignore files")
    _add_model_options(p)
    p.set_defaults(func=cmd_mcp)

    try:
        from ragls.evaluation.cli import add_eval_parser
    except ImportError:
        pass
    else:
        add_eval_parser(sub)
    from ragls.training.cli import add_train_data_parser, add_tune_parser

    add_train_data_parser(sub)
    add_tune_parser(sub)
    return parser


# glibc gives each thread that allocates its own malloc arena (up to 8 per core); the indexing
# threads each keep one full of freed chunks. Two arenas cut the peak of a cold index of a 400 MB
# tree from 185 to 143 MB of the process's own memory (benchmarks/bench_scale.py), and the peak RSS
# of a 102 MB tree from 208 to 200 MB (mapped index pages included), at no measured cost in speed:
# the threads spend their time in Tantivy and the tokenizer, not in malloc.
_MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def _limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas (no-op elsewhere, or when the user set MALLOC_ARENA_MAX)."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, _MALLOC_ARENAS)
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        pass


def main(argv: Sequence[str] | None = None) -> int:
    _limit_malloc_arenas()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.stdio and args.command is None:
        args.command, args.tcp = "serve", None
        args.func = cmd_serve
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if not getattr(args, "json", False) and args.command in ("index", "search", "ask"):
        sys.stdout = TerminalSafeWriter(sys.stdout)
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is handled, not at interpreter exit
        return code
    except BrokenPipeError:
        # `ragls search … | head`: the reader has what it wanted. Quietly, as other tools do; point
        # stdout at /dev/null so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())
        return 141
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (NotADirectoryError, FileNotFoundError, PermissionError, UserError) as exc:
        print(f"ragls: {terminal_safe(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
