"""``ragls mcp`` through the MCP SDK's own stdio client: every tool, its results checked against the
files, a live index, refusals and malformed calls (the server keeps serving)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from ragls.core.extractive import NOT_COVERED


def _helpers():
    name = "ragls_tests_mcp_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "helpers.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


h = _helpers()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return h.write_workspace(tmp_path / "ws")


@pytest.fixture
def session_args(tmp_path: Path) -> dict:
    return {"index_parent": tmp_path / "indexes", "errlog": tmp_path / "mcp-stderr.log"}


async def test_tools_are_listed_with_schemas_and_descriptions(workspace, session_args):
    async with h.mcp_session(workspace, **session_args) as session:
        listed = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(listed) == {"search", "ask", "read", "status"}
    for tool in listed.values():
        assert len(tool.description) > 80, tool.name  # written for an agent, not a label
        assert tool.inputSchema["type"] == "object"
        assert tool.annotations.readOnlyHint is True
    assert listed["search"].inputSchema["required"] == ["query"]
    assert listed["search"].inputSchema["properties"]["k"]["maximum"] == 50
    assert set(listed["read"].inputSchema["properties"]) == {"path", "startLine", "endLine"}
    assert listed["ask"].inputSchema["required"] == ["question"]
    assert "ctx" not in listed["status"].inputSchema.get("properties", {})


async def test_search_returns_passages_with_their_exact_lines(workspace, session_args):
    async with h.mcp_session(workspace, **session_args) as session:
        result = await h.call(session, "search", {"query": "how often is a failed request sent again", "k": 3})
    assert result["covered"] is True
    assert 1 <= len(result["hits"]) <= 3
    top = result["hits"][0]
    assert (top["path"], top["heading"]) == ("docs/retry.md", "Retries > Retry policy")
    assert top["root"] == str(workspace.resolve())
    for hit in result["hits"]:
        assert hit["text"] == h.lines_of(workspace / hit["path"], hit["startLine"], hit["endLine"])
    assert "The `retry_policy` decides how often" in top["text"]
    assert result["hits"] == sorted(result["hits"], key=lambda hit: -hit["score"])


async def test_search_finds_code_by_symbol(workspace, session_args):
    async with h.mcp_session(workspace, **session_args) as session:
        result = await h.call(session, "search", {"query": "Session.send"})
    top = result["hits"][0]
    assert top["path"] == "src/session.py" and "Session" in top["symbols"]
    assert top["text"] == h.lines_of(workspace / "src/session.py", top["startLine"], top["endLine"])


async def test_ask_cites_lines_or_says_not_covered(workspace, session_args):
    async with h.mcp_session(workspace, **session_args) as session:
        answer = await h.call(session, "ask", {"question": "How often is a failed request sent again?"})
        uncovered = await h.call(session, "ask", {"question": "What is the boiling point of tungsten in kelvin?"})
    assert answer["notCovered"] is False and answer["source"] == "extractive"
    assert answer["citations"], answer
    assert "[1]" in answer["answer"]
    for citation in answer["citations"]:
        cited = h.lines_of(workspace / citation["path"], citation["startLine"], citation["endLine"])
        assert citation["startLine"] <= citation["endLine"] and cited.strip()
    assert any(c["path"] == "docs/retry.md" for c in answer["citations"])
    assert uncovered == {"answer": NOT_COVERED, "notCovered": True, "source": "extractive", "citations": [], "warnings": []}


async def test_read_returns_the_lines_asked_for(workspace, session_args):
    retry = workspace / "docs" / "retry.md"
    total = len(retry.read_text().splitlines())
    async with h.mcp_session(workspace, **session_args) as session:
        middle = await h.call(session, "read", {"path": "docs/retry.md", "startLine": 5, "endLine": 7})
        to_end = await h.call(session, "read", {"path": "./docs/retry.md", "startLine": 12, "endLine": 500})
        whole = await h.call(session, "read", {"path": str(retry)})  # absolute, inside the root
        deploy = await h.call(session, "read", {"path": "docs/deploy.md"})
    assert middle["text"] == h.lines_of(retry, 5, 7) and (middle["startLine"], middle["endLine"]) == (5, 7)
    assert middle["text"].startswith("## Retry policy")
    assert (to_end["endLine"], to_end["totalLines"]) == (total, total)
    assert to_end["text"] == h.lines_of(retry, 12, total)
    assert whole["text"] == retry.read_text().rstrip("\n") and whole["path"] == "docs/retry.md"
    # a secret value inside an ordinary file is shown as the index holds it: redacted, lines kept
    assert h.TOKEN not in deploy["text"] and "[REDACTED]" in deploy["text"]
    assert deploy["totalLines"] == len(h.CONFIG_DOC.splitlines()) and deploy["redactedSecrets"] == 1


async def test_read_refuses_paths_outside_the_workspace_and_secret_files(workspace, session_args, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("# Outside\n\nNot part of the workspace.\n")
    (workspace / "docs" / "escape.md").symlink_to(outside)
    (workspace / "linked").symlink_to(tmp_path, target_is_directory=True)
    (workspace / "keys").mkdir()
    (workspace / "keys" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    async with h.mcp_session(workspace, **session_args) as session:
        refusals = {
            "../outside.md": await h.call_error(session, "read", {"path": "../outside.md"}),
            "docs/../../outside.md": await h.call_error(session, "read", {"path": "docs/../../outside.md"}),
            "absolute": await h.call_error(session, "read", {"path": str(outside)}),
            "/etc/passwd": await h.call_error(session, "read", {"path": "/etc/passwd"}),
            "symlink": await h.call_error(session, "read", {"path": "docs/escape.md"}),
            "symlinked folder": await h.call_error(session, "read", {"path": "linked/outside.md"}),
            ".env": await h.call_error(session, "read", {"path": ".env"}),
            "private key": await h.call_error(session, "read", {"path": "keys/id_rsa"}),
            "missing": await h.call_error(session, "read", {"path": "docs/nothing.md"}),
        }
        still_serving = await h.call(session, "read", {"path": "docs/retry.md", "startLine": 1, "endLine": 1})
    assert still_serving["text"] == "# Retries"
    assert "'..' is not allowed" in refusals["../outside.md"] and "'..' is not allowed" in refusals["docs/../../outside.md"]
    assert "outside the workspace" in refusals["absolute"] and "outside the workspace" in refusals["/etc/passwd"]
    assert "symbolic link that leads out of the workspace" in refusals["symlink"]
    assert "symbolic link" in refusals["symlinked folder"]
    assert "holds secrets" in refusals[".env"] and "holds secrets" in refusals["private key"]
    assert "no such file" in refusals["missing"]
    for message in refusals.values():
        assert "correct-horse" not in message and "Not part of the workspace" not in message


async def test_malformed_calls_are_tool_errors_and_the_server_keeps_serving(workspace, session_args):
    async with h.mcp_session(workspace, **session_args) as session:
        errors = [
            await h.call_error(session, "search", {}),
            await h.call_error(session, "search", {"query": 42}),
            await h.call_error(session, "search", {"query": "retry", "k": "many"}),
            await h.call_error(session, "search", {"query": "retry", "k": 0}),
            await h.call_error(session, "search", {"query": "   "}),
            await h.call_error(session, "ask", {"question": ["not", "text"]}),
            await h.call_error(session, "read", {"path": "docs/retry.md", "startLine": 0}),
            await h.call_error(session, "read", {"path": "docs/retry.md", "startLine": 9, "endLine": 3}),
            await h.call_error(session, "read", {"path": "docs/retry.md", "startLine": 999}),
            await h.call_error(session, "no_such_tool", {"x": 1}),
        ]
        after = await h.search_paths(session, "retry policy")
    assert all(message.strip() for message in errors)
    assert "query must be a non-empty string" in errors[4]
    assert "endLine (3) is before startLine (9)" in errors[7]
    assert "past the end" in errors[8]
    assert "no_such_tool" in errors[9]
    assert after[0] == "docs/retry.md"


async def test_status_reports_the_index_and_the_model(workspace, session_args):
    async with h.mcp_session(workspace, **session_args) as session:
        first = await h.call(session, "status")  # (answered at once, while the first sync may run)

        async def fresh():
            status = await h.call(session, "status")
            return status if status["folders"][0]["fresh"] else None

        status = await h.wait_until(fresh)
    assert [f["root"] for f in first["folders"]] == [str(workspace.resolve())]
    [folder] = status["folders"]
    assert folder["root"] == str(workspace.resolve())
    assert folder["role"] == "owner" and folder["watcher"] in ("inotify", "polling")
    assert folder["files"] == 3  # retry.md, deploy.md, session.py; .env is a secret file
    assert folder["chunks"] >= 5 and folder["fresh"] is True and folder["indexing"] is False
    assert folder["skipped"].get("secret") == 1 and folder["redactedSecrets"] == 1
    assert Path(folder["indexDir"]).parent == session_args["index_parent"].resolve()
    assert status["model"]["state"] == "none"


async def test_a_file_saved_after_start_up_is_found_within_a_second(workspace, session_args):
    async with h.mcp_session(workspace, **session_args) as session:
        assert "docs/guide.md" not in await h.search_paths(session, "flux capacitor gigawatts")
        guide = workspace / "docs" / "guide.md"
        guide.write_text("# Guide\n\nThe flux capacitor needs 1.21 gigawatts of power.\n")
        seconds = await h.time_until_found(session, "flux capacitor gigawatts", "docs/guide.md", timeout=1.0)
        hit = (await h.call(session, "search", {"query": "flux capacitor gigawatts"}))["hits"][0]
        # edited in place: the new lines are what search shows
        guide.write_text("# Guide\n\nCharge the flux capacitor before every trip.\n\nIt needs 1.21 gigawatts.\n")

        async def edited():
            top = (await h.call(session, "search", {"query": "flux capacitor gigawatts"}))["hits"][0]
            return top if top["endLine"] == 5 else None

        edited_hit = await h.wait_until(edited, timeout=1.0)
    assert seconds <= 1.0
    assert hit["path"] == "docs/guide.md" and hit["text"] == "# Guide\n\nThe flux capacitor needs 1.21 gigawatts of power."
    assert edited_hit["text"] == h.lines_of(guide, 1, 5)


async def test_several_workspace_folders_are_searched_and_read_together(workspace, session_args, tmp_path):
    other = tmp_path / "other"
    (other / "docs").mkdir(parents=True)
    (other / "docs" / "guide.md").write_text("# Guide\n\nThe flux capacitor needs 1.21 gigawatts of power.\n")
    async with h.mcp_session(workspace, other, **session_args) as session:
        flux = (await h.call(session, "search", {"query": "flux capacitor gigawatts"}))["hits"][0]
        retry = (await h.call(session, "search", {"query": "retry policy"}))["hits"][0]
        guide = await h.call(session, "read", {"path": "docs/guide.md", "startLine": 3, "endLine": 3})
        by_absolute = await h.call(session, "read", {"path": str(other / "docs" / "guide.md"), "startLine": 1, "endLine": 1})
    assert (flux["root"], flux["path"]) == (str(other.resolve()), "docs/guide.md")
    assert (retry["root"], retry["path"]) == (str(workspace.resolve()), "docs/retry.md")
    assert guide["root"] == str(other.resolve()) and guide["text"] == "The flux capacitor needs 1.21 gigawatts of power."
    assert (by_absolute["root"], by_absolute["text"]) == (str(other.resolve()), "# Guide")


async def test_roots_from_the_client_set_the_workspace(workspace, session_args):
    async with h.mcp_session(client_roots=[workspace], **session_args) as session:
        paths = await h.search_paths(session, "retry policy")
        status = await h.call(session, "status")
    assert paths[0] == "docs/retry.md"
    assert [f["root"] for f in status["folders"]] == [str(workspace.resolve())]


async def test_a_change_of_the_clients_roots_changes_the_workspaces(workspace, session_args, tmp_path):
    other = tmp_path / "other"
    (other / "docs").mkdir(parents=True)
    (other / "docs" / "guide.md").write_text("# Guide\n\nThe flux capacitor needs 1.21 gigawatts of power.\n")
    roots = [workspace]
    async with h.mcp_session(client_roots=roots, **session_args) as session:
        assert (await h.search_paths(session, "retry policy"))[0] == "docs/retry.md"
        roots[:] = [other]  # what the client's roots/list answers from now on
        await session.send_roots_list_changed()

        async def switched():
            status = await h.call(session, "status")
            return [f["root"] for f in status["folders"]] == [str(other.resolve())]

        await h.wait_until(switched)
        paths = await h.search_paths(session, "flux capacitor gigawatts")
    assert paths == ["docs/guide.md"]


async def test_without_a_workspace_tools_say_how_to_give_one(session_args):
    async with h.mcp_session(**session_args) as session:
        message = await h.call_error(session, "search", {"query": "retry"})
        status = await h.call(session, "status")
    assert "no workspace folder" in message and "ragls mcp /path/to/repo" in message
    assert status["folders"] == []


def test_a_missing_workspace_folder_is_refused_at_start(tmp_path):
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "ragls", "mcp", str(tmp_path / "nope")], capture_output=True, text=True, timeout=60,
        env=dict(os.environ), stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "workspace folder does not exist" in done.stderr and done.stdout == ""
