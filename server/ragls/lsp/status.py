"""``ragls/status`` (and the ``ragls.status`` command): what is indexed, what is pending, the model.

The result is a typed value (:class:`StatusResult`: the protocol's shape, kept apart from the
model host's own ``ModelStatus`` so that a change there cannot change the protocol), built from the
server's state; :func:`to_json` is the one place it becomes the JSON object of docs/PROTOCOL.md
(field names in camelCase).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timezone
from typing import Any

from ragls import __version__
from ragls.lsp import protocol
from ragls.lsp.language_server import RaglsServer
from ragls.lsp.workspaces import Folder

_OMIT_IF_NONE = {"omit_if_none": True}  # field metadata: the key is left out rather than null


@dataclass(frozen=True, slots=True)
class FolderEntry:
    uri: str
    index_dir: str
    files: int
    chunks: int
    pending_changes: int
    indexing: bool
    last_update: str | None  # ISO 8601
    skipped: dict[str, int]  # reason -> files
    redacted_secrets: int
    watcher: str  # "inotify" | "polling" | "off"
    error: str | None = field(default=None, metadata=_OMIT_IF_NONE)  # why the folder is not indexed


@dataclass(frozen=True, slots=True)
class AdapterEntry:
    name: str
    scale: float
    active: bool


@dataclass(frozen=True, slots=True)
class ModelEntry:
    state: str  # "none" | "loading" | "ready" | "failed"
    detail: str
    path: str | None
    adapters: tuple[AdapterEntry, ...] = ()
    warnings: tuple[str, ...] = ()
    process_id: int | None = None
    rss_mb: float | None = None
    recent_crashes: int = 0
    last_crash: str | None = None


@dataclass(frozen=True, slots=True)
class StatusResult:
    version: str
    protocol_version: int
    folders: tuple[FolderEntry, ...]
    model: ModelEntry


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def to_json(value: Any) -> Any:
    """A status value as JSON: dataclasses become objects with camelCase keys, tuples lists."""
    if is_dataclass(value):
        out = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit_if_none"):
                continue
            out[_camel(f.name)] = to_json(item)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat() if timestamp else None


def folder_entry(folder: Folder) -> FolderEntry:
    stats = folder.index.stats() if folder.index is not None else None
    return FolderEntry(
        uri=folder.uri,
        index_dir=str(folder.index_dir),
        files=stats.files if stats else 0,
        chunks=stats.chunks if stats else 0,
        pending_changes=folder.pending_changes,
        indexing=folder.indexing or not folder.synced,
        last_update=_iso(stats.last_update) if stats else None,
        skipped=dict(stats.skipped) if stats else {},
        redacted_secrets=stats.redacted if stats else 0,
        watcher=folder.watcher.mode if folder.watcher else "off",
        error=folder.error or None,
    )


def model_entry(model: Any, configured_path: str | None) -> ModelEntry:
    """``model``: the server's ``ModelHost`` (its ``status()`` a ``ragls.model.backend.ModelStatus``),
    or None when no model is configured."""
    if model is None:
        return ModelEntry("none", "no model configured: answers are extractive", None)
    try:
        status = model.status()
    except Exception as exc:
        return ModelEntry("failed", str(exc), configured_path)
    return ModelEntry(
        state=status.state,
        detail=str(status.detail),
        path=status.path or configured_path,
        adapters=tuple(AdapterEntry(a.name, a.scale, a.active) for a in status.adapters),
        warnings=tuple(status.warnings),
        process_id=status.process_id,
        rss_mb=status.rss_mb,
        recent_crashes=status.recent_crashes,
        last_crash=status.last_crash,
    )


def status_result(server: RaglsServer) -> StatusResult:
    return StatusResult(
        version=__version__,
        protocol_version=protocol.PROTOCOL_VERSION,
        folders=tuple(folder_entry(folder) for folder in (server.workspaces.folders if server.workspaces else ())),
        model=model_entry(server.model, server.settings.model.path),
    )


def status(server: RaglsServer) -> dict:
    return to_json(status_result(server))
