"""An answer given while the first indexing is still running says so (``indexComplete: false``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER = [sys.executable, "-m", "ragls", "--stdio"]


def write_big_workspace(root: Path) -> Path:
    root.mkdir()
    (root / "retry.md").write_text("# Retries\n\nThe retry_policy sets how often a failed request is retried.\n")
    page = "# Page {n}\n\nNotes about widget {n} and the frobnicator calibration procedure.\n" * 3
    for folder in range(40):
        (root / f"part{folder}").mkdir()
        for n in range(200):  # 8,000 files: the first indexing takes seconds
            (root / f"part{folder}" / f"page{n}.md").write_text(page.format(n=n))
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def big_client(lsp_client: LanguageClient, tmp_path: Path, helpers):
    root = write_big_workspace(tmp_path / "big")
    params = helpers.init_params(pytest_lsp.client_capabilities("visual_studio_code"), [root], tmp_path / "indexes")
    await lsp_client.initialize_session(params)  # indexing starts now; the test does not wait for it
    yield
    await lsp_client.shutdown_session()


async def test_answers_during_the_first_indexing_say_so(big_client, helpers):
    async def folders():
        return (await helpers.request(big_client, "ragls/status", {}))["folders"]

    status_folders = await helpers.wait_until(folders, timeout=30, interval=0.01)
    assert status_folders[0]["indexing"], "indexing finished before the test could ask; make the tree bigger"
    early = await helpers.ask(big_client, "What does the retry_policy set?")
    assert early["indexComplete"] is False
    await helpers.wait_indexed(big_client, timeout=120)
    late = await helpers.ask(big_client, "What does the retry_policy set?")
    assert late["indexComplete"] is True and not late["abstained"]
