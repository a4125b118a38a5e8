"""ragls.lsp.status: the typed status result and the one conversion to the JSON of docs/PROTOCOL.md."""

from __future__ import annotations

from pathlib import Path

from ragls.lsp.status import AdapterEntry, FolderEntry, ModelEntry, StatusResult, model_entry, to_json
from ragls.model.host import ModelHost
from ragls.settings import ModelSettings

# The keys docs/PROTOCOL.md documents, in its order.
FOLDER_KEYS = ["uri", "indexDir", "files", "chunks", "pendingChanges", "indexing", "lastUpdate", "skipped", "redactedSecrets", "watcher"]
MODEL_KEYS = ["state", "detail", "path", "adapters", "warnings", "processId", "rssMb", "recentCrashes", "lastCrash"]


def _folder(error: str | None = None) -> FolderEntry:
    return FolderEntry(
        uri="file:///ws", index_dir="/idx/ws", files=2, chunks=7, pending_changes=1, indexing=False,
        last_update="2026-12-03T15:00:00+00:00", skipped={"binary": 1}, redacted_secrets=3, watcher="inotify", error=error,
    )


def test_status_json_has_the_documented_keys_and_values():
    model = ModelEntry(
        "ready", "gpu layers 0", "/m.gguf", adapters=(AdapterEntry("tone", 0.5, True),), warnings=("w",),
        process_id=41, rss_mb=12.5, recent_crashes=1, last_crash="SIGSEGV (segmentation fault)",
    )
    result = to_json(StatusResult("0.1.0", 1, (_folder(), _folder("the folder was deleted")), model))
    assert list(result) == ["version", "protocolVersion", "folders", "model"]
    assert result["version"] == "0.1.0" and result["protocolVersion"] == 1
    healthy, gone = result["folders"]
    assert list(healthy) == FOLDER_KEYS  # no "error" key when there is none (not a null)
    assert list(gone) == [*FOLDER_KEYS, "error"] and gone["error"] == "the folder was deleted"
    assert healthy == {
        "uri": "file:///ws", "indexDir": "/idx/ws", "files": 2, "chunks": 7, "pendingChanges": 1, "indexing": False,
        "lastUpdate": "2026-12-03T15:00:00+00:00", "skipped": {"binary": 1}, "redactedSecrets": 3, "watcher": "inotify",
    }
    assert list(result["model"]) == MODEL_KEYS
    assert result["model"]["adapters"] == [{"name": "tone", "scale": 0.5, "active": True}]
    assert result["model"]["warnings"] == ["w"]
    assert (result["model"]["processId"], result["model"]["rssMb"], result["model"]["recentCrashes"]) == (41, 12.5, 1)
    assert result["model"]["lastCrash"] == "SIGSEGV (segmentation fault)"


def test_no_model_configured():
    assert to_json(model_entry(None, None)) == {
        "state": "none", "detail": "no model configured: answers are extractive", "path": None, "adapters": [],
        "warnings": [], "processId": None, "rssMb": None, "recentCrashes": 0, "lastCrash": None,
    }


def test_a_real_model_host_that_failed_to_load(tmp_path: Path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a GGUF file\n" * 100)
    host = ModelHost(ModelSettings(path=str(broken), context_size=1024, max_tokens=8, gpu_layers=0))
    host.start()
    try:
        assert not host.wait_ready(60)
        entry = to_json(model_entry(host, str(broken)))
    finally:
        host.close()
    assert list(entry) == MODEL_KEYS
    assert entry["state"] == "failed" and entry["detail"]
    assert entry["path"] == str(broken)
    assert entry["adapters"] == [] and entry["processId"] is None and entry["rssMb"] is None
