"""The model process: llama.cpp runs here, never in the language server or the CLI.

A segfault, abort or OOM-kill inside llama.cpp ends this process only; the host
(:class:`ragls.model.process.ProcessBackend`) sees the connection close, names the signal and
answers from the passages while :class:`ragls.model.host.ModelHost` restarts the model.

Started as ``python -m ragls.model.worker FD`` where FD is one end of a socket pair carrying
:mod:`multiprocessing.connection` messages (pickled tuples):

host → worker
    ``("load", ModelSettings, log_level)``                     first message, once
    ``("call", rid, method, args)``                            a Backend method, e.g. count_tokens
    ``("generate", rid, GenerationRequest)``                   what Backend.generate takes
    ``("cancel", rid)``                                        stop generation ``rid`` (any stage)
    ``("close",)``                                             free the model and exit
worker → host
    ``("ready", info)`` | ``("failed", reason)``               answer to "load"
    ``("result", rid, value)`` | ``("error", rid, type, text)``
    ``("delta", rid, text)`` | ``("prompt", rid, done, total)`` while generating

One thread reads the connection (so a cancel lands while the main thread is inside llama.cpp);
the main thread does the work and is the only one that sends. When the host goes away (its end of
the pair closes) the worker exits at once, even in the middle of an answer.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import queue
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

# Methods of LlamaBackend the host may call through ("call", ...). Nothing else is reachable.
CALLABLE = frozenset(
    {
        "count_tokens",
        "prompt_tokens",
        "usable_adapters",
        "load_adapters",
        # diagnostics for tests and benchmarks
        "next_token_logits",
        "prompt_token_ids",
        "reset_cache",
    }
)


def _isolate_process() -> None:
    """No stdin (fd 0 may be the editor's protocol stream), stdout to stderr, no core files, Ctrl-C
    left to the host (it cancels and closes us).

    No PR_SET_PDEATHSIG: it fires when the *thread* that started us ends (the host's loader
    thread), not the host process. The host's end of the connection closing is the signal instead:
    the reader thread exits on EOF, and a send to a closed connection exits too."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    # A native crash prints the Python stack to stderr (the server's log) before the process dies.
    faulthandler.enable(file=sys.stderr)


class _Worker:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._inbox: queue.Queue[tuple | None] = queue.Queue()
        self._cancel = threading.Event()
        self._current: int | None = None  # the rid being generated
        self._cancel_lock = threading.Lock()
        self._backend: Any = None

    def _read(self) -> None:
        """Reader thread: cancels act at once; everything else queues for the main thread."""
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the host is gone: nobody will read an answer
            if message[0] == "cancel":
                with self._cancel_lock:
                    if message[1] == self._current:
                        self._cancel.set()
                continue
            self._inbox.put(message)
            if message[0] == "close":
                return

    def _send(self, *message: Any) -> None:
        try:
            self._conn.send(message)
        except (BrokenPipeError, EOFError, OSError):
            os._exit(0)

    def run(self) -> None:
        message = self._conn.recv()
        if message[0] != "load":
            self._send("failed", f"protocol error: expected 'load', got {message[0]!r}")
            return
        _, settings, log_level = message
        logging.basicConfig(stream=sys.stderr, level=log_level, format="%(asctime)s ragls-model %(levelname)s %(message)s")
        log = logging.getLogger("ragls.model.worker")
        from ragls.model.backend import ModelLoadError
        from ragls.model.llama_backend import LlamaBackend

        try:
            backend, warnings = LlamaBackend.load(settings, log)
        except ModelLoadError as exc:
            self._send("failed", str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - whatever llama.cpp raises becomes the reason
            log.exception("model not loaded")
            self._send("failed", f"unexpected error while loading: {exc}")
            return
        self._backend = backend
        self._send("ready", backend.info(warnings))
        threading.Thread(target=self._read, name="ragls-model-reader", daemon=True).start()
        while True:
            message = self._inbox.get()
            if message is None or message[0] == "close":
                break
            if message[0] == "generate":
                self._generate(*message[1:])
            elif message[0] == "call":
                self._call(*message[1:])
        backend.close()

    def _call(self, rid: int, method: str, args: tuple) -> None:
        if method not in CALLABLE:
            self._send("error", rid, "ValueError", f"unknown model method {method!r}")
            return
        try:
            value = getattr(self._backend, method)(*args)
            if method == "load_adapters":  # the host also needs to know which ones loaded
                value = (value, self._backend.usable_adapters())
        except Exception as exc:  # noqa: BLE001 - reported to the host, which raises it there
            self._send("error", rid, type(exc).__name__, str(exc))
            return
        self._send("result", rid, value)

    def _generate(self, rid: int, request: Any) -> None:
        from ragls.core.requests import AnswerHooks

        with self._cancel_lock:
            self._current = rid
            self._cancel.clear()
        hooks = AnswerHooks(
            on_delta=lambda text: self._send("delta", rid, text),
            on_prompt=lambda done, total: self._send("prompt", rid, done, total),
            cancel=self._cancel,
        )
        try:
            generation = self._backend.generate(request, hooks)
        except Exception as exc:  # noqa: BLE001
            self._send("error", rid, type(exc).__name__, str(exc))
            return
        finally:
            with self._cancel_lock:
                self._current = None
        self._send("result", rid, generation)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m ragls.model.worker FD  (started by ragls, not by hand)", file=sys.stderr)
        return 2
    _isolate_process()
    conn = Connection(int(argv[0]))
    _Worker(conn).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
