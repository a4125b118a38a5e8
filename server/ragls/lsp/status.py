"""``ragls/status`` (and the ``ragls.status`` command): what is indexed, what is pending, the model."""

from __future__ import annotations

from datetime import datetime, timezone

from ragls import __version__
from ragls.lsp import protocol
from ragls.lsp.server import RaglsServer


def _iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat() if timestamp else None


def status(server: RaglsServer) -> dict:
    folders = []
    for folder in server.workspaces.folders if server.workspaces else ():
        stats = folder.index.stats() if folder.index is not None else None
        entry = {
            "uri": folder.uri,
            "indexDir": str(folder.index_dir),
            "files": stats.files if stats else 0,
            "chunks": stats.chunks if stats else 0,
            "pendingChanges": folder.pending_changes,
            "indexing": folder.indexing or not folder.synced,
            "lastUpdate": _iso(stats.last_update) if stats else None,
            "skipped": dict(stats.skipped) if stats else {},
            "redactedSecrets": stats.redacted if stats else 0,
            "watcher": folder.watcher.mode if folder.watcher else "off",
        }
        if folder.error:
            entry["error"] = folder.error  # extra key: why this folder is not indexed
        folders.append(entry)
    return {
        "version": __version__,
        "protocolVersion": protocol.PROTOCOL_VERSION,
        "folders": folders,
        "model": server.model_status(),
    }
