"""Running the language server: ``serve()`` (``ragls --stdio``, ``ragls serve --tcp``) and where
its logs go — stderr, and the editor's log (``window/logMessage``); never stdout, which belongs to
the protocol on a stdio server."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcRequestCancelled, JsonRpcServerNotInitialized

from ragls.lsp.handlers import create_server
from ragls.lsp.language_server import RaglsServer
from ragls.lsp.rpc import serve_stdio

log = logging.getLogger("ragls.lsp")


class _ClientLogHandler(logging.Handler):
    """Mirrors ragls' own log records to the editor's log (``window/logMessage``)."""

    _LEVELS = {
        logging.ERROR: types.MessageType.Error,
        logging.WARNING: types.MessageType.Warning,
        logging.INFO: types.MessageType.Info,
    }

    def __init__(self, server: RaglsServer) -> None:
        super().__init__(level=logging.INFO)
        self._server = server

    def emit(self, record: logging.LogRecord) -> None:
        if self._server.loop is None or self._server.shut_down:
            return
        try:
            kind = next((t for level, t in self._LEVELS.items() if record.levelno >= level), types.MessageType.Log)
            params = types.LogMessageParams(type=kind, message=self.format(record))
            self._server.from_thread(self._server.window_log_message, params)
        except Exception:  # logging must never raise into the code that logged
            self.handleError(record)


class _ExpectedErrorsOneLine(logging.Filter):
    """pygls logs every error a handler answers with, traceback and all, at ERROR. The ones that
    are the client's doing or its choice (a request before ``initialize``, bad params, a request
    after ``shutdown``, a cancel) are answered as the spec says; they are one INFO line, not an
    error with a traceback on every mouse rest of a client that starts too eagerly."""

    _EXPECTED = (JsonRpcServerNotInitialized, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcRequestCancelled)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self._EXPECTED):
            log.info("answered %s: %s", type(error).__name__, error)
            return False
        return True


def serve(args: Any = None, cli_settings: dict | None = None) -> int:
    """Run the language server (``ragls --stdio``, ``ragls serve [--tcp HOST:PORT]``);
    ``cli_settings``: raw settings from the command line (``cli.raw_model_settings``)."""
    logging.getLogger("ragls").setLevel(logging.DEBUG if getattr(args, "verbose", False) else logging.INFO)
    logging.getLogger("pygls").setLevel(logging.DEBUG if os.environ.get("RAGLS_DEBUG_PYGLS") else logging.WARNING)  # pygls logs every message body at INFO
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_ExpectedErrorsOneLine())
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    server = create_server(cli_settings or {}, force_polling=os.environ.get("RAGLS_FORCE_POLLING") == "1")
    logging.getLogger("ragls").addHandler(_ClientLogHandler(server))
    tcp = getattr(args, "tcp", None)
    try:
        if tcp:
            host, _, port = tcp.rpartition(":")
            server.start_tcp(host or "127.0.0.1", int(port))
        else:
            # The protocol owns the real stdout. Anything else that writes to fd 1 (a stray print, a
            # C library) would corrupt the message stream, so fd 1 becomes stderr for everyone else.
            if sys.stdin is None or sys.stdout is None:  # started with fd 0 or 1 closed
                log.error("ragls --stdio needs stdin and stdout connected to the editor")
                return 2
            protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
            sys.stdout.flush()
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
            sys.stdout = sys.stderr
            return serve_stdio(server, sys.stdin.fileno(), protocol_out)
    finally:
        server.on_shutdown()
    return 0
