"""The MCP tools as plain functions: index and answerer in, JSON-ready dicts out.

No MCP here, so each tool can be tested (and reused) without a protocol. Bad input raises
:class:`ToolInputError` with a message written for the agent that sent it: what was wrong and what
to send instead. The MCP layer turns it into an ``isError`` tool result.

``read`` shows exactly what the index may show: files inside a workspace root that the index takes
(so never a secret file such as ``.env``, never an ignored or binary one, never through a symbolic
link out of the root), with secret values redacted as in the index.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ragls.core.chunking import split_lines
from ragls.core.requests import AnswerHooks, AnswerRequest
from ragls.core.types import Answer, Hit, SearchResult
from ragls.errors import UserError
from ragls.index.preparation import decode_text, redact_file_text

if TYPE_CHECKING:
    from ragls.answering import Answerer
    from ragls.index.workspace_index import WorkspaceIndex

MAX_SEARCH_RESULTS = 50
# One read returns at most this many lines: enough for any passage and its surroundings, small
# enough not to flood an agent's context with a whole generated file.
MAX_READ_LINES = 1000
DEFAULT_READ_LINES = 200

# core.workspace skip reasons, said to an agent: why ``read`` refuses a path.
_REFUSALS = {
    "secret": "it holds secrets (ragls never indexes or shows .env files, private keys or credential files)",
    "symlink-outside": "it is a symbolic link that leads out of the workspace",
    "symlink-inside": "it is a symbolic link; read the file it points to instead",
    "ignored": "it is ignored (.gitignore, .git/info/exclude, .raglsignore or the exclude setting)",
    "ignored-dir": "it is inside a folder ragls does not index (dependencies, build output, version control)",
    "binary": "it is a binary file",
    "too-large": "it is larger than the index's file size limit",
    "unsupported": "ragls does not index this kind of file",
    "undecodable-name": "its name is not valid UTF-8",
    "unreadable": "it cannot be read",
    "directory": "it is a folder, not a file",
    "missing": "there is no such file",
    "outside": "it is outside the workspace",
}


class ToolInputError(UserError):
    """A tool call that cannot be served as asked; the message says what to send instead."""


# --- search --------------------------------------------------------------------------------------

def hit_json(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "root": hit.root,
        "path": chunk.path,
        "startLine": chunk.start_line,
        "endLine": chunk.end_line,
        "heading": chunk.heading_path,
        "symbols": list(chunk.symbols),
        "score": round(hit.score, 4),
        "text": chunk.text,
    }


def search(answerer: "Answerer", query: str, k: int = 5) -> dict[str, Any]:
    """Ranked passages for ``query`` across every workspace folder."""
    query = _required_text(query, "query")
    if not 1 <= k <= MAX_SEARCH_RESULTS:
        raise ToolInputError(f"k must be between 1 and {MAX_SEARCH_RESULTS}, got {k}")
    result: SearchResult = answerer.retrieve(query, passages=k)
    return {
        "query": query,
        "covered": result.covered,
        "confidence": round(result.confidence, 3),
        "hits": [hit_json(h) for h in result.hits],
        **({} if result.covered else {"note": "weak matches only: the workspace may not cover this query"}),
    }


# --- ask -----------------------------------------------------------------------------------------

def answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "answer": answer.text,
        "notCovered": answer.abstained,
        "source": answer.source,
        "citations": [
            {
                "id": c.id, "root": c.root, "path": c.path, "startLine": c.start_line, "endLine": c.end_line,
                "title": c.title, "snippet": c.snippet,
            }
            for c in answer.citations
        ],
        "warnings": list(answer.warnings),
    }


def ask(answerer: "Answerer", question: str, cancel: threading.Event | None = None) -> dict[str, Any]:
    """A cited answer (the model's when one is ready, else extractive), or "not covered".
    ``cancel``: set when the client cancelled the call (a model stops generating)."""
    question = _required_text(question, "question")
    return answer_json(answerer.ask(AnswerRequest(question), AnswerHooks(cancel=cancel)))


# --- read ----------------------------------------------------------------------------------------

def read(indexes: Sequence["WorkspaceIndex"], path: str, start_line: int = 1, end_line: int | None = None) -> dict[str, Any]:
    """Lines ``start_line``..``end_line`` (1-based, inclusive) of a file the index may show."""
    if not indexes:
        raise ToolInputError("no workspace folder is open")
    if start_line < 1:
        raise ToolInputError(f"startLine must be 1 or more (lines are 1-based), got {start_line}")
    if end_line is not None and end_line < start_line:
        raise ToolInputError(f"endLine ({end_line}) is before startLine ({start_line})")
    index, rel = _locate(indexes, path)
    reason = index.skip_reason(rel)
    if reason not in (None, "empty"):
        raise ToolInputError(f"refused to read {rel}: {_REFUSALS.get(reason, reason)}")
    abs_path = index.root.joinpath(*rel.split("/"))
    if not _inside(os.path.realpath(index.root), os.path.realpath(abs_path)):  # (belt and braces)
        raise ToolInputError(f"refused to read {rel}: {_REFUSALS['symlink-outside']}")
    try:
        # O_NOFOLLOW: a file swapped for a link since the check above is not followed either
        fd = os.open(abs_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(index.settings.max_file_size_kb * 1024 + 1)
    except OSError as exc:
        raise ToolInputError(f"cannot read {rel}: {exc.strerror or exc}") from None
    text, redacted = redact_file_text(rel, decode_text(data))
    lines = split_lines(text) if text else []
    if lines and lines[-1] == "" and text.endswith(("\n", "\r")):
        lines.pop()  # a final newline ends the last line; it does not start another
    total = len(lines)
    if total and start_line > total:
        raise ToolInputError(f"startLine {start_line} is past the end of {rel} ({total} lines)")
    wanted_end = end_line if end_line is not None else start_line + DEFAULT_READ_LINES - 1
    last = min(wanted_end, total, start_line + MAX_READ_LINES - 1)
    shown = lines[start_line - 1:last] if total else []
    result = {
        "root": str(index.root),
        "path": rel,
        "startLine": start_line if total else 0,
        "endLine": last if total else 0,
        "totalLines": total,
        "text": "\n".join(shown),
    }
    if last < min(wanted_end, total):
        result["note"] = f"at most {MAX_READ_LINES} lines per read: ask again from line {last + 1}"
    if redacted:
        result["redactedSecrets"] = redacted
    return result


def _locate(indexes: Sequence["WorkspaceIndex"], path: str) -> tuple["WorkspaceIndex", str]:
    """The folder and root-relative POSIX path for ``path`` (relative to a root, or absolute inside one)."""
    path = _required_text(path, "path").replace("\\", "/")
    if "\0" in path:
        raise ToolInputError("path contains a NUL character")
    if ".." in PurePosixPath(path).parts:
        raise ToolInputError(f"refused to read {path}: '..' is not allowed; give a path inside the workspace, relative to its root")
    if os.path.isabs(path):
        for index in sorted(indexes, key=lambda ix: -len(str(ix.root))):  # nested roots: the innermost
            root = str(index.root)
            if _inside(root, os.path.normpath(path)) and os.path.normpath(path) != root:
                return index, Path(os.path.normpath(path)).relative_to(index.root).as_posix()
        roots = ", ".join(str(ix.root) for ix in indexes)
        raise ToolInputError(f"refused to read {path}: it is outside the workspace ({roots}); give a path relative to a workspace root")
    rel = PurePosixPath(path).as_posix()
    if rel.startswith("./"):
        rel = rel[2:]
    if rel in ("", "."):
        raise ToolInputError("path names the workspace folder itself; give a file inside it")
    for index in indexes:  # several roots: the first that has the file
        if os.path.lexists(index.root.joinpath(*rel.split("/"))):
            return index, rel
    return indexes[0], rel


def _inside(root: str, target: str) -> bool:
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def _required_text(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ToolInputError(f"{name} must be a non-empty string")
    return value.strip()


# --- status --------------------------------------------------------------------------------------

def folder_status(folder: Any) -> dict[str, Any]:
    """One workspace folder (``lsp.workspaces.Folder``-like: root, index_dir, index, watcher,
    indexing, synced, pending_changes, error)."""
    index = folder.index
    stats = index.stats() if index is not None else None
    pending = folder.pending_changes
    indexing = folder.indexing or not folder.synced
    entry: dict[str, Any] = {
        "root": str(folder.root),
        "indexDir": str(folder.index_dir),
        # owner: this server writes the index; follower: another ragls process (an editor's
        # language server, another agent's server) writes it and this one reads its commits.
        "role": "none" if index is None else stats.role,
        "files": stats.files if stats else 0,
        "chunks": stats.chunks if stats else 0,
        "indexing": indexing,
        "pendingChanges": pending,
        "fresh": stats is not None and not indexing and pending == 0,
        "lastUpdate": _iso(stats.last_update) if stats else None,
        "secondsSinceUpdate": round(time.time() - stats.last_update, 1) if stats and stats.last_update else None,
        "watcher": folder.watcher.mode if folder.watcher else "off",
        "skipped": dict(sorted(stats.skipped.items())) if stats else {},
        "redactedSecrets": stats.redacted if stats else 0,
    }
    if folder.error:
        entry["error"] = folder.error
    return entry


def status(folders: Iterable[Any], model: Any) -> dict[str, Any]:
    """Every folder's index and the model (``ModelHost`` or None)."""
    from ragls import __version__

    return {"version": __version__, "folders": [folder_status(f) for f in folders], "model": model_json(model)}


def model_json(model: Any) -> dict[str, Any]:
    if model is None:
        return {"state": "none", "detail": "no model configured: answers are extractive", "path": None}
    try:
        current = model.status()
    except Exception as exc:  # the model is a guest: its failure is a status, not an error
        return {"state": "failed", "detail": str(exc), "path": None}
    return {
        "state": current.state,
        "detail": str(current.detail),
        "path": current.path,
        "adapters": [a.name for a in current.adapters],
        "warnings": list(current.warnings),
    }


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat() if timestamp else None
