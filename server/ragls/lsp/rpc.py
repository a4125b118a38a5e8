"""JSON-RPC details pygls leaves to us.

- Custom requests (``ragls/ask``, ``ragls/status``) get their params as plain JSON dicts, so the
  handlers validate them (pygls would turn them into namedtuples, renaming odd keys).
- A request whose params do not fit the LSP types (a hover without ``position``) gets an
  ``InvalidParams`` error response. pygls only logs such a message and never answers it, which
  leaves the client waiting forever.
- A request after ``shutdown`` gets ``InvalidRequest`` (pygls drops it unanswered).
- The stdio stream is framed here (:class:`Framer`, :func:`serve_stdio`), not by pygls' reader:
  broken framing is skipped and reported (-32700) instead of deafening the server for good, and
  the exit code follows the spec (pygls' ``start_io`` swallows its ``sys.exit``).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import threading
from typing import Any

import attrs
from cattrs.errors import ClassValidationError
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, default_converter

from ragls.lsp import protocol

log = logging.getLogger(__name__)

_RAW_METHODS = frozenset({protocol.ASK, protocol.STATUS})


@attrs.define
class RawRequest:
    """A request whose params stay raw JSON."""

    id: int | str
    method: str
    jsonrpc: str
    params: Any = None


@attrs.define
class _Rejected:
    """Stands in for a message that was answered with an error while being decoded."""

    jsonrpc: str = "rejected"


def converter_factory():
    converter = default_converter()
    converter.register_structure_hook(RawRequest, lambda obj, cls: cls(**obj))
    return converter


def _describe(exc: BaseException) -> str:
    try:
        from cattrs import transform_error

        if isinstance(exc, ClassValidationError):
            return "; ".join(transform_error(exc))
    except Exception:  # describing the error must never hide it
        pass
    return str(exc) or exc.__class__.__name__


class RaglsProtocol(LanguageServerProtocol):
    def get_message_type(self, method: str):
        if method in _RAW_METHODS:
            return RawRequest
        return super().get_message_type(method)

    def structure_message(self, data: dict[str, Any]):
        if "jsonrpc" not in data:  # a nested object: json.loads' hook sees those too
            return data
        try:
            return super().structure_message(data)
        except Exception as exc:
            cause = exc.__cause__ or exc
            if "id" in data and "method" in data:
                message = f"invalid params for {data.get('method')}: {_describe(cause)}"
                log.warning("%s", message)
                self._send_response(
                    data["id"],
                    error=types.ResponseError(code=JsonRpcInvalidParams.CODE, message=message),
                )
                return _Rejected()
            log.warning("dropping undecodable message %s: %s", data.get("method"), _describe(cause))
            return _Rejected()

    def handle_message(self, message):
        if isinstance(message, _Rejected):
            return
        method = getattr(message, "method", None)
        if self._shutdown and method is not None and method != types.EXIT and getattr(message, "id", None) is not None:
            # pygls drops it with a log line, leaving the client waiting; the spec asks for an error
            self._send_response(
                message.id,
                error=types.ResponseError(code=types.ErrorCodes.InvalidRequest, message=f"{method}: the server is shutting down"),
            )
            return
        return super().handle_message(message)


# --- framing: the stdio byte stream -> message bodies ------------------------------------------------
#
# pygls' reader trusts every Content-Length: one too short glues the rest of that body to the next
# header line, one too long swallows the next message, and after either the server never
# recognises a header again (alive but deaf); 10**12 is a MemoryError. This framer resynchronises
# instead: whatever cannot be framed is reported once (-32700, id null) and skipped up to the next
# header, so the next well-formed message is answered.

MAX_CONTENT_LENGTH = 256 * 1024 * 1024  # far above any real LSP message; a bigger claim is an error
MAX_HEADER_BYTES = 8192
# A body that stops short of its Content-Length and gets no more bytes for this long is decoded as
# it is (when it is complete JSON): a too-long Content-Length on the client's last message.
STALLED_BODY_S = 1.0
_HEADER_NAME = b"content-length:"
_HEADER_LINES = re.compile(rb"(?:[A-Za-z][A-Za-z0-9-]*:[^\r\n]*\r\n)*\s*")
_HEADER_END = b"\r\n\r\n"


class Framer:
    """Splits the bytes read from the client into message bodies. Pure: no I/O, no threads.

    :meth:`feed` returns a list of ``(body, None)`` for framed bodies and ``(None, error)`` for
    bytes that had to be skipped."""

    def __init__(self, max_length: int = MAX_CONTENT_LENGTH) -> None:
        self._buf = bytearray()
        self._need: int | None = None  # body length once a header block was read
        self._scanned = 0  # how much of a pending body was searched for a following header already
        self._max = max_length

    @property
    def waiting_for_body(self) -> bool:
        return self._need is not None and len(self._buf) > 0

    def feed(self, data: bytes) -> list[tuple[bytes | None, str | None]]:
        self._buf += data
        out: list[tuple[bytes | None, str | None]] = []
        while True:
            if self._need is None:
                if not self._take_header(out):
                    return out
            else:
                if len(self._buf) >= self._need:
                    body = bytes(self._buf[: self._need])
                    del self._buf[: self._need]
                    self._need = None
                    out.append((body, None))
                    continue
                if not self._early_end(out):  # a complete body followed by the next header
                    return out

    def flush_stalled(self) -> list[tuple[bytes | None, str | None]]:
        """No more bytes came for a body that is shorter than announced: use it if it is complete."""
        if self._need is None or not self._buf:
            return []
        if _complete_json(bytes(self._buf)):
            body = bytes(self._buf)
            self._buf.clear()
            self._need = None
            return [(body, None)]
        return []

    def _take_header(self, out: list) -> bool:
        """Parse one header block off the buffer; False when more bytes are needed."""
        window = bytes(self._buf[:MAX_HEADER_BYTES]).lower()  # a header starts within this
        start = window.find(_HEADER_NAME)
        if start < 0:
            if len(self._buf) >= MAX_HEADER_BYTES:
                drop = len(window) - len(_HEADER_NAME)  # keep what may be a header name cut in two
                out.append((None, f"skipped {drop} bytes that are not a message header"))
                del self._buf[:drop]
                return True  # and look at the rest
            return False
        if start > 0 and not _HEADER_LINES.fullmatch(bytes(self._buf[:start])):
            # (other headers before Content-Length, such as Content-Type, are no error)
            out.append((None, f"skipped {start} bytes before a message header"))
        del self._buf[:start]
        end = self._buf.find(_HEADER_END)
        again = bytes(self._buf[1 : end if end >= 0 else len(self._buf)]).lower().find(_HEADER_NAME)
        if again >= 0 or end > MAX_HEADER_BYTES or (end < 0 and len(self._buf) > MAX_HEADER_BYTES):
            # a header that never ended before the next one began (or goes on for ever)
            out.append((None, "a message header without its end (\\r\\n\\r\\n)"))
            del self._buf[: len(_HEADER_NAME)]  # look for the next header after this one
            return True
        if end < 0:
            return False
        header = bytes(self._buf[:end])
        length_line = header.split(b"\r\n", 1)[0]
        raw = length_line[len(_HEADER_NAME):].strip()
        del self._buf[: end + len(_HEADER_END)]
        if not raw.isdigit():
            out.append((None, f"invalid Content-Length {raw[:40]!r}"))
            return True
        length = int(raw)
        if length > self._max:
            out.append((None, f"Content-Length {length} is over the limit of {self._max} bytes"))
            return True
        if length == 0:
            out.append((None, "empty message (Content-Length 0)"))
            return True
        self._need = length
        self._scanned = 0
        return True

    def _early_end(self, out: list) -> bool:
        """A too-long Content-Length: the body ended early when a new header follows complete JSON.
        Only bytes not searched before are searched (a 10 MB body arrives in many reads)."""
        begin = max(1, self._scanned - len(_HEADER_NAME))
        lowered = bytes(self._buf[begin:]).lower()
        self._scanned = len(self._buf)
        position = lowered.find(_HEADER_NAME)
        while position >= 0:
            end = begin + position
            if _complete_json(bytes(self._buf[:end])):
                body = bytes(self._buf[:end])
                del self._buf[:end]
                self._need = None
                out.append((body, None))
                return True
            position = lowered.find(_HEADER_NAME, position + 1)
        return False


def _complete_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def parse_error(detail: str) -> dict:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": f"Parse error: {detail}"}}


def serve_stdio(server, stdin: "io.RawIOBase | int", stdout) -> int:
    """Run ``server`` on the stdio streams with :class:`Framer`; returns the process exit code
    (LSP: 0 after ``shutdown`` + ``exit``, 1 for ``exit`` alone or a client that went away first)."""
    from pygls.io_ import StdoutWriter

    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))
    code = 1
    try:
        asyncio.run(_read_loop(server, stdin))
        code = 0 if server.protocol._shutdown else 1  # the client closed the stream
    except BrokenPipeError:
        log.error("the client went away (broken pipe); stopping")
    except SystemExit as exc:  # pygls' exit handler: 0 after shutdown, 1 without
        code = exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        code = 130
    finally:
        server.shutdown()
    return code


async def _read_loop(server, stdin) -> None:
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    fd = stdin if isinstance(stdin, int) else stdin.fileno()

    def read() -> None:  # own daemon thread: a blocked read must not hold the process at exit
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError as exc:
                log.warning("reading from the client failed: %s", exc)
                data = b""
            loop.call_soon_threadsafe(chunks.put_nowait, data)
            if not data:
                return

    threading.Thread(target=read, name="ragls-stdin", daemon=True).start()
    framer = Framer()
    protocol = server.protocol
    while not server._stop_event.is_set():
        try:
            data = await (asyncio.wait_for(chunks.get(), STALLED_BODY_S) if framer.waiting_for_body else chunks.get())
        except asyncio.TimeoutError:
            frames = framer.flush_stalled()
        else:
            if not data:
                return  # the client closed stdin
            frames = framer.feed(data)
        for body, error in frames:
            if error is not None:
                log.warning("framing: %s", error)
                protocol._send_data(parse_error(error))
                continue
            try:
                message = json.loads(body, object_hook=protocol.structure_message)
            except ValueError as exc:
                log.warning("a message that is not JSON: %s", exc)
                protocol._send_data(parse_error(f"the message is not valid JSON ({exc})"))
                continue
            if not hasattr(message, "jsonrpc"):  # valid JSON but no JSON-RPC object (a list, a number)
                protocol._send_data({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request: not a JSON-RPC message object"}})
                continue
            try:
                protocol.handle_message(message)
            except Exception:  # one bad message must not end the session
                log.exception("unable to handle a message")
