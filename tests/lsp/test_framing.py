"""Issue 13 item 8: a broken client's bytes — bad framing, bad JSON, requests after shutdown, exit
without shutdown — against the real server process, over a raw pipe (a real LSP client library
would never send these). Plus :class:`ragls.lsp.rpc.Framer` on its own."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ragls.lsp.rpc import Framer

SERVER = [sys.executable, "-m", "ragls", "--stdio"]


def frame(payload: dict | bytes, length: int | str | None = None) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode() + body


class RawServer:
    """The server in a subprocess; messages it sends are parsed off its stdout by a thread."""

    def __init__(self, tmp_path: Path, args: list[str] = ()) -> None:
        self.proc = subprocess.Popen([*SERVER, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: queue.Queue = queue.Queue()
        self.tmp_path = tmp_path
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # never let stderr fill up

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = out.read(1)
                if not byte:
                    return
                header += byte
            length = int(header.split(b":")[1].split(b"\r\n")[0])
            self.messages.put(json.loads(out.read(length)))

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def reply(self, msg_id, timeout: float = 10.0) -> dict:
        """The response to ``msg_id`` (id None: the next error without id), skipping notifications."""
        while True:
            message = self.messages.get(timeout=timeout)
            if "method" in message:
                if "id" in message:  # a server->client request (workDoneProgress/create, configuration)
                    self.send(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))
                continue
            if message.get("id") == msg_id:
                return message

    def initialize(self, workspace: Path) -> None:
        self.send(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": os.getpid(), "rootUri": workspace.as_uri(), "capabilities": {},
            "initializationOptions": {"index": {"indexDir": str(self.tmp_path / "indexes")}}}}))
        assert "result" in self.reply(1)
        self.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))

    def status_works(self, msg_id) -> bool:
        self.send(frame({"jsonrpc": "2.0", "id": msg_id, "method": "ragls/status", "params": {}}))
        return "folders" in self.reply(msg_id)["result"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def server(tmp_path, workspace):
    running = RawServer(tmp_path)
    running.initialize(workspace)
    yield running
    running.close()


STATUS = {"jsonrpc": "2.0", "id": "s", "method": "ragls/status", "params": {}}


@pytest.mark.parametrize("broken", [
    pytest.param(frame(STATUS, length=10), id="content-length-too-short"),
    pytest.param(frame(STATUS, length=-5), id="negative"),
    pytest.param(frame(STATUS, length="twelve"), id="non-numeric"),
    pytest.param(frame(STATUS, length=10**12), id="a-terabyte"),
    pytest.param(b"\x00\x00\x00garbage\x00" * 50, id="nul-bytes"),
    pytest.param(frame(b'{"jsonrpc": "2.0", "id": 5, "method": '), id="malformed-json"),
    pytest.param(b"Content-Length: 30\r\n" + b"X-Junk: " + b"y" * 9000, id="endless-header"),
])
def test_broken_framing_is_reported_and_the_next_message_is_answered(server, broken):
    server.send(broken)
    for n in range(3):  # and again: the server did not fall out of step
        assert server.status_works(f"after-{n}")


def test_malformed_json_gets_a_parse_error(server):
    server.send(frame(b'{"jsonrpc": "2.0", "id": 5, "method": '))
    error = server.reply(None)["error"]
    assert error["code"] == -32700


def test_a_too_long_content_length_loses_neither_that_message_nor_the_next(server):
    server.send(frame({"jsonrpc": "2.0", "id": "long", "method": "ragls/status", "params": {}}, length=5000) + frame(STATUS))
    assert "folders" in server.reply("long")["result"]
    assert "folders" in server.reply("s")["result"]
    # the client's last message, with nothing after it: answered after a short stall
    server.send(frame({"jsonrpc": "2.0", "id": "last", "method": "ragls/status", "params": {}}, length=5000))
    assert "folders" in server.reply("last", timeout=5)["result"]


def test_requests_after_shutdown_get_invalid_request_and_exit_is_0(server):
    server.send(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    assert server.reply(2).get("result") is None
    server.send(frame({"jsonrpc": "2.0", "id": 3, "method": "ragls/status", "params": {}}))
    assert server.reply(3)["error"]["code"] == -32600
    server.send(frame({"jsonrpc": "2.0", "method": "exit"}))
    assert server.proc.wait(10) == 0


def test_exit_without_shutdown_exits_1(server):
    server.send(frame({"jsonrpc": "2.0", "method": "exit"}))
    assert server.proc.wait(10) == 1


def test_stdio_with_stdin_closed_is_a_clear_error():
    done = subprocess.run([*SERVER], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
                          preexec_fn=lambda: os.close(0))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "stdin" in done.stderr


# --- the framer alone --------------------------------------------------------------------------------

def test_framer_splits_any_chunking_of_good_messages_identically():
    messages = [json.dumps({"jsonrpc": "2.0", "id": n, "method": "m", "params": {"text": "Content-Length: 3\r\n\r\nx" * n}}).encode() for n in range(6)]
    stream = b"".join(frame(m) for m in messages)
    for size in (1, 2, 7, 64, len(stream)):
        framer = Framer()
        got = []
        for start in range(0, len(stream), size):
            got += framer.feed(stream[start:start + size])
        assert got == [(m, None) for m in messages], size


def test_framer_accepts_other_headers_in_any_order_without_an_error():
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "m"}).encode()
    stream = (b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: " + str(len(body)).encode()
              + b"\r\n\r\n" + body + frame(body))
    assert Framer().feed(stream) == [(body, None), (body, None)]


def test_framer_recovers_from_a_too_short_and_a_too_long_length():
    good = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "m"}).encode()
    frames = Framer().feed(frame(good, length=5) + frame(good) + frame(good, length=10_000) + frame(good))
    bodies = [body for body, error in frames if body is not None]
    assert bodies[0] == good[:5]  # what the short length said (the server answers it with -32700)
    assert bodies[1:] == [good, good, good]  # nothing after it is lost
    assert any(error for _, error in frames)  # the skipped tail was reported


def test_framer_loses_no_message_after_a_header_that_never_ends():
    good = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "m"}).encode()
    for junk in (b"Content-Length: 30\r\nX-Junk: " + b"y" * 9000, b"Content-Length: 12\r\nX-Junk: y"):
        frames = Framer().feed(junk + frame(good))
        assert [body for body, _ in frames if body is not None] == [good], junk[:40]


def test_a_request_before_initialize_is_one_log_line_not_a_traceback(tmp_path):
    # Eager clients hover before the handshake: each refusal (-32002) must not print an ERROR with a
    # traceback on stderr.
    proc = subprocess.Popen([*SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        requests = b"".join(frame({"jsonrpc": "2.0", "id": n, "method": "ragls/status", "params": {}}) for n in range(3))
        out, err = proc.communicate(requests, timeout=30)  # (then stdin closes: the server exits)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.count(b'"code": -32002') == 3
    text = err.decode()
    assert "Traceback" not in text and "ERROR" not in text, text
    assert text.count("has not received 'initialize' yet") == 3
