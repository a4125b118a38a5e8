"""End-to-end fixtures: the real server (``python -m ragls --stdio``) in a subprocess, talking LSP
over stdio to pytest-lsp's client, on a real workspace in ``tmp_path`` with a real Tantivy index.

Every client test runs twice: with the capabilities VS Code sends and with those Neovim sends.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER = [sys.executable, "-m", "ragls", "--stdio"]
CLIENTS = ["visual_studio_code", "neovim"]

RETRY_DOC = """\
# Retries

Some intro text about the client library.

## Retry policy

The `retry_policy` decides how often a failed request is sent again.
A retry_policy has a maximum number of attempts and a backoff factor.
Set `session.retry_policy` to `RetryPolicy(max_attempts=5)` to retry five times.
The backoff doubles after every failed attempt.

## Timeouts

Requests time out after thirty seconds unless `timeout_seconds` is set.
"""

SESSION_PY = '''\
"""HTTP session helpers."""


class Session:
    """A connection pool with a retry policy."""

    def __init__(self, retry_policy=None):
        self.retry_policy = retry_policy

    def send(self, request):
        return self.retry_policy.run(request)
'''

GUIDE_DOC = """\
# Guide

The flux capacitor needs 1.21 gigawatts of power to engage the temporal displacement.
Charge the flux capacitor before every trip.
"""


def write_workspace(root: Path) -> Path:
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "src").mkdir(exist_ok=True)
    (root / "docs" / "retry.md").write_text(RETRY_DOC)
    (root / "src" / "session.py").write_text(SESSION_PY)
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return write_workspace(tmp_path / "ws")


@pytest.fixture
def index_parent(tmp_path: Path) -> Path:
    return tmp_path / "indexes"


def init_params(capabilities: types.ClientCapabilities, folders: list[Path], index_parent: Path, **options: Any) -> types.InitializeParams:
    return types.InitializeParams(
        capabilities=capabilities,
        root_uri=folders[0].as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders],
        initialization_options={"index": {"indexDir": str(index_parent)}, **options},
    )


async def wait_until(check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")


def plain(value: Any) -> Any:
    """pygls' client hands custom results over as namedtuples; tests compare plain JSON."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def request(client: LanguageClient, method: str, params: Any = None) -> Any:
    return plain(await client.protocol.send_request_async(method, params))


async def raw_request(client: LanguageClient, method: str, params: Any) -> Any:
    """Send params exactly as given (the client would refuse to serialise malformed LSP params)."""
    msg_id = f"raw-{time.monotonic_ns()}"
    future = asyncio.get_running_loop().create_future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return plain(await asyncio.wait_for(future, 10))


async def wait_indexed(client: LanguageClient, timeout: float = 20.0) -> dict:
    async def done():
        status = await request(client, "ragls/status", {})
        folders = status["folders"]
        return status if folders and all(not f["indexing"] for f in folders) else None

    return await wait_until(done, timeout)


async def ask(client: LanguageClient, question: str, **params: Any) -> dict:
    return await request(client, "ragls/ask", {"question": question, **params})


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=CLIENTS)
async def client(lsp_client: LanguageClient, request, workspace: Path, index_parent: Path):
    await lsp_client.initialize_session(init_params(pytest_lsp.client_capabilities(request.param), [workspace], index_parent))
    await wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER, server_env={**os.environ, "RAGLS_TEST_ANSWER_DELAY_S": "30"}),
    params=CLIENTS,
)
async def slow_client(lsp_client: LanguageClient, request, workspace: Path, index_parent: Path):
    """A server whose answers wait (cancellably) 30 s before they start: for cancellation tests."""
    await lsp_client.initialize_session(init_params(pytest_lsp.client_capabilities(request.param), [workspace], index_parent))
    await wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=CLIENTS)
async def multi_root_client(lsp_client: LanguageClient, request, tmp_path: Path, index_parent: Path):
    """Two folders from the start: the usual workspace and one with the flux capacitor guide."""
    first = write_workspace(tmp_path / "ws")
    second = tmp_path / "second"
    (second / "docs").mkdir(parents=True)
    (second / "docs" / "guide.md").write_text(GUIDE_DOC)
    await lsp_client.initialize_session(init_params(pytest_lsp.client_capabilities(request.param), [first, second], index_parent))
    await wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


def _gguf_factory():
    """tests/model/gguf_factory.py (importlib import mode: load it by path)."""
    import importlib.util

    name = "ragls_tests_gguf_factory"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent.parent / "model" / "gguf_factory.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """A tiny random-weight llama GGUF (generated, no download) and a file that is not a model."""
    factory = _gguf_factory()
    root = tmp_path_factory.mktemp("lsp-models")
    return {"good": factory.write_model(root / "tiny.gguf"), "broken": factory.write_not_gguf(root / "broken.gguf")}


def model_options(path: Path, **extra: Any) -> dict:
    return {"model": {"path": str(path), "contextSize": 1024, "maxTokens": 48, "gpuLayers": 0, "seed": 1, **extra}}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=CLIENTS)
async def model_client(lsp_client: LanguageClient, request, workspace: Path, index_parent: Path, tiny_models):
    """The server with a real (tiny) llama.cpp model."""
    # Random weights write nonsense the grounded guard would remove: these tests are about the
    # mechanics (token deltas, progress), so they see the raw model text.
    options = model_options(tiny_models["good"], groundedGuard=False, maxTokens=300, temperature=1.5)
    params = init_params(pytest_lsp.client_capabilities(request.param), [workspace], index_parent, **options)
    await lsp_client.initialize_session(params)
    await wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=CLIENTS)
async def broken_model_client(lsp_client: LanguageClient, request, workspace: Path, index_parent: Path, tiny_models):
    """The server configured with a model file that cannot load, plus two invalid settings."""
    options = model_options(tiny_models["broken"])
    params = init_params(
        pytest_lsp.client_capabilities(request.param), [workspace], index_parent,
        **options, retrieval={"passages": 0}, colour="blue",
    )
    await lsp_client.initialize_session(params)
    await wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=["visual_studio_code"])
async def smol_client(lsp_client: LanguageClient, request, workspace: Path, index_parent: Path, smollm2_gguf: Path):
    """The server with the real SmolLM2-135M-Instruct (tests/conftest.py fetches it), streaming
    token by token (grounded guard off): the first delta says the model is generating."""
    options = model_options(smollm2_gguf, maxTokens=160, temperature=0.0, groundedGuard=False)
    params = init_params(pytest_lsp.client_capabilities(request.param), [workspace], index_parent, **options)
    await lsp_client.initialize_session(params)
    await wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=["visual_studio_code"])
async def smol_guarded_client(lsp_client: LanguageClient, request, workspace: Path, index_parent: Path, smollm2_gguf: Path):
    """The server with the real SmolLM2-135M-Instruct and its default settings (grounded guard on)."""
    options = model_options(smollm2_gguf, maxTokens=160, temperature=0.0)
    params = init_params(pytest_lsp.client_capabilities(request.param), [workspace], index_parent, **options)
    await lsp_client.initialize_session(params)
    await wait_indexed(lsp_client)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def helpers():
    """The helper functions above, for test modules (importlib import mode cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        ask=ask, request=request, raw_request=raw_request, plain=plain, wait_until=wait_until, wait_indexed=wait_indexed, init_params=init_params,
        write_workspace=write_workspace, RETRY_DOC=RETRY_DOC, SESSION_PY=SESSION_PY, GUIDE_DOC=GUIDE_DOC,
    )
