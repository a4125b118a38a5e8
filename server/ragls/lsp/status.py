"""``ragls/status`` (and the ``ragls.status`` command): what is indexed, what is pending, the model.

The status is a typed value (:class:`ServerStatus`) built from the server's state; :func:`to_json`
is the one place it becomes the JSON object of docs/PROTOCOL.md (field names in camelCase).
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
class FolderStatus:
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
class AdapterStatus:
    name: str
    scale: float
    active: bool


@dataclass(frozen=True, slots=True)
class ModelStatus:
    state: str  # "none" | "loading" | "ready" | "failed"
    detail: str
    path: str | None
    adapters: tuple[AdapterStatus, ...] = ()
    warnings: tuple[str, ...] = ()
    process_id: int | None = None
    rss_mb: float | None = None
    recent_crashes: int = 0
    last_crash: str | None = None


@dataclass(frozen=True, slots=True)
class ServerStatus:
    version: str
    protocol_version: int
    folders: tuple[FolderStatus, ...]
    model: ModelStatus


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


def folder_status(folder: Folder) -> FolderStatus:
    stats = folder.index.stats() if folder.index is not None else None
    return FolderStatus(
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


def model_status(model: Any, configured_path: str | None) -> ModelStatus:
    """``model``: the server's ``ModelHost``, or None when no model is configured."""
    if model is None:
        return ModelStatus("none", "no model configured: answers are extractive", None)
    try:
        status = model.status()
    except Exception as exc:
        return ModelStatus("failed", str(exc), configured_path)
    return ModelStatus(
        state=status.state,
        detail=str(status.detail),
        path=status.path or configured_path,
        adapters=tuple(
            AdapterStatus(a.name, a.scale, bool(getattr(a, "active", False)))
            for a in getattr(status, "adapters", ()) or ()
        ),
        warnings=tuple(status.warnings),
        process_id=status.process_id,
        rss_mb=status.rss_mb,
        recent_crashes=status.recent_crashes,
        last_crash=status.last_crash,
    )


def server_status(server: RaglsServer) -> ServerStatus:
    return ServerStatus(
        version=__version__,
        protocol_version=protocol.PROTOCOL_VERSION,
        folders=tuple(folder_status(folder) for folder in (server.workspaces.folders if server.workspaces else ())),
        model=model_status(server.model, server.settings.model.path),
    )


def status(server: RaglsServer) -> dict:
    return to_json(server_status(server))
