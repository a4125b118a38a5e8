"""The host's side of the model process: a :class:`~ragls.model.backend.Backend` whose every call
runs llama.cpp in a child process (:mod:`ragls.model.worker`).

Why a process: a native crash (segfault in llama.cpp's repacked kernels, an abort on a bad tensor,
the OOM killer) ends the process it happens in. In a child it costs one answer, which the caller
gives from the passages instead; in the language server it would cost the editor its server.

Everything a request needs crosses the boundary as plain values (a
:class:`~ragls.core.requests.GenerationRequest`: messages, the grammar text, adapter names and
scales, sampling options). Deltas and prompt progress stream back as they are
produced; a cancel is a message read by the worker's reader thread, so it lands within a token or
a prompt slice. The KV cache (prefix reuse) and the loaded adapters live in the child for as long
as it runs.

Not thread-safe: :class:`~ragls.model.host.ModelHost` calls it under its one lock.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Sequence

from ragls.core.requests import NO_HOOKS, AnswerHooks, GenerationRequest
from ragls.model.backend import Generation, ModelCrashed, ModelError, ModelLoadError
from ragls.settings import AdapterSpec, ModelSettings

# Loading a GGUF can take long on a slow disk or a big model; a worker silent for this long is hung.
LOAD_TIMEOUT_S = 600.0
# A plain call (token counts, adapters) answers in milliseconds; this only catches a hung process.
CALL_TIMEOUT_S = 120.0
# After a cancel the worker stops within a token or a prompt slice; one that does not is killed.
CANCEL_GRACE_S = 2.0
_POLL_S = 0.02

_SIGNAL_MEANING = {
    "SIGSEGV": "segmentation fault",
    "SIGBUS": "bus error (the model file changed or was truncated while mapped?)",
    "SIGABRT": "aborted",
    "SIGKILL": "killed (out of memory?)",
    "SIGILL": "illegal instruction (a llama.cpp build for another CPU?)",
    "SIGFPE": "arithmetic error",
    "SIGTERM": "terminated",
}


def describe_exit(returncode: int | None) -> str:
    """``SIGSEGV (segmentation fault)`` for a signal, ``exit status 3`` otherwise."""
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
        meaning = _SIGNAL_MEANING.get(name)
        return f"{name} ({meaning})" if meaning else name
    return f"exit status {returncode}"


def _worker_env() -> dict[str, str]:
    """The child imports the same ragls as this process, whatever the install (editable, wheel,
    a source tree on PYTHONPATH)."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class ProcessBackend:
    """A model loaded in a child process. Construct with :meth:`load`."""

    enforces_grammar = True

    def __init__(self, process: subprocess.Popen, conn: Connection, info: dict[str, Any]) -> None:
        self._process = process
        self._conn = conn
        self._rid = 0
        self._adapters: tuple[str, ...] = tuple(info.get("adapters", ()))
        self._count_cache: dict[str, int] = {}
        self.source: str = info["source"]
        self.context_size: int = info["context_size"]
        self.detail: str = info["detail"]
        self.info = info
        self.crashed: ModelCrashed | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def load(cls, settings: ModelSettings, log: logging.Logger, *, timeout: float = LOAD_TIMEOUT_S) -> tuple["ProcessBackend", list[str]]:
        """Start a model process and load ``settings.path`` in it.

        Raises ModelLoadError (the reason llama.cpp gave) or ModelCrashed (the process died while
        loading: the signal names why)."""
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "ragls.model.worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else subprocess.DEVNULL,
                env=_worker_env(),
                close_fds=True,
            )
        except OSError as exc:
            ours.close()
            raise ModelLoadError(f"could not start the model process: {exc}") from exc
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        try:
            conn.send(("load", settings, log.getEffectiveLevel()))
            message = _receive(conn, process, timeout, what="loading the model")
        except ModelError:
            _reap(process, conn)
            raise
        if message[0] == "failed":
            _reap(process, conn)
            raise ModelLoadError(message[1])
        if message[0] != "ready":
            _reap(process, conn)
            raise ModelLoadError(f"model process protocol error: {message[0]!r}")
        info = message[1]
        log.info("model process %d: %s", process.pid, info["detail"])
        return cls(process, conn, info), list(info.get("warnings", ()))

    @property
    def pid(self) -> int:
        return self._process.pid

    def alive(self) -> bool:
        return self.crashed is None and self._process.poll() is None

    def wait_exit(self) -> int:
        """Block until the process ends (the host's monitor thread); its return code."""
        return self._process.wait()

    def rss_mb(self) -> float | None:
        return _rss_mb(self._process.pid) if self.alive() else None

    def close(self) -> None:
        if self.alive():
            try:
                self._conn.send(("close",))
            except OSError:
                pass
        _reap(self._process, self._conn)

    # --- calls ---------------------------------------------------------------------------------

    def _next_rid(self) -> int:
        self._rid += 1
        return self._rid

    def _crash(self, exc: ModelCrashed) -> ModelCrashed:
        self.crashed = exc
        _reap(self._process, self._conn, grace=0.0)
        return exc

    def _call(self, method: str, *args: Any) -> Any:
        if self.crashed is not None:
            raise self.crashed
        rid = self._next_rid()
        try:
            self._conn.send(("call", rid, method, args))
            while True:
                message = _receive(self._conn, self._process, CALL_TIMEOUT_S, what=method)
                if len(message) > 1 and message[1] == rid:
                    break  # earlier ones: the tail of an abandoned generation
        except OSError:
            raise self._crash(ModelCrashed(describe_exit(_wait_exit(self._process)), during=method)) from None
        except ModelCrashed as exc:
            raise self._crash(exc) from None
        return _result(message, rid)

    def count_tokens(self, text: str) -> int:
        count = self._count_cache.get(text)
        if count is None:
            if len(self._count_cache) > 50_000:
                self._count_cache.clear()
            count = self._count_cache[text] = self._call("count_tokens", text)
        return count

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> int:
        return self._call("prompt_tokens", list(messages))

    def usable_adapters(self) -> tuple[str, ...]:
        return self._adapters

    def load_adapters(self, specs: Sequence[AdapterSpec]) -> list[str]:
        warnings, usable = self._call("load_adapters", tuple(specs))
        self._adapters = tuple(usable)
        return warnings

    def next_token_logits(self, text: str, adapters: Sequence[tuple[str, float]] = ()) -> list[float]:
        return self._call("next_token_logits", text, tuple(adapters))

    def prompt_token_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return self._call("prompt_token_ids", list(messages))

    def reset_cache(self) -> None:
        self._call("reset_cache")

    def generate(self, request: GenerationRequest, hooks: AnswerHooks = NO_HOOKS) -> Generation:
        if self.crashed is not None:
            raise self.crashed
        rid = self._next_rid()
        try:
            self._conn.send(("generate", rid, request))
        except OSError:
            raise self._crash(ModelCrashed(describe_exit(self._process.poll()), during="sending the request")) from None
        try:
            return self._stream(rid, hooks)
        except BaseException:
            # A callback raised (or the caller was interrupted): stop the worker's generation so
            # the next request does not queue behind it; its late messages are skipped by rid.
            if self.crashed is None:
                try:
                    self._conn.send(("cancel", rid))
                except OSError:
                    pass
            raise

    def _stream(self, rid: int, hooks: AnswerHooks) -> Generation:
        on_delta, on_prompt, cancel = hooks.on_delta, hooks.on_prompt, hooks.cancel
        cancel_sent: float | None = None
        while True:
            if cancel is not None and cancel.is_set() and cancel_sent is None:
                cancel_sent = time.monotonic()
                try:
                    self._conn.send(("cancel", rid))
                except OSError:
                    pass  # the poll below sees the closed connection
            if cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE_S:
                # Stuck inside llama.cpp: the answer is cancelled anyway; a fresh process is cheaper
                # than waiting. Reported like a crash so the host restarts the model.
                raise self._crash(ModelCrashed("did not stop within 2 s of a cancel; killed", during="cancelling"))
            try:
                ready = self._conn.poll(_POLL_S)
                message = self._conn.recv() if ready else None
            except (EOFError, OSError):
                raise self._crash(ModelCrashed(describe_exit(_wait_exit(self._process)), during="generating")) from None
            if message is None:
                continue
            kind = message[0]
            if message[1] != rid:
                continue  # a late message of an earlier request
            if kind == "delta":
                # Tokens the worker made before the cancel reached it are not shown: for the
                # caller a cancel lands within one token, as it did in-process.
                if on_delta is not None and cancel_sent is None and not (cancel is not None and cancel.is_set()):
                    on_delta(message[2])
            elif kind == "prompt":
                if on_prompt is not None:
                    on_prompt(message[2], message[3])
            else:
                return _result(message, rid)


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _wait_exit(process: subprocess.Popen, timeout: float = 2.0) -> int | None:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def _receive(conn: Connection, process: subprocess.Popen, timeout: float, *, what: str) -> tuple:
    """The next message; ModelCrashed when the process dies or stays silent for ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if conn.poll(min(0.1, max(deadline - time.monotonic(), 0.0))):
                return conn.recv()
        except (EOFError, OSError):
            raise ModelCrashed(describe_exit(_wait_exit(process)), during=what) from None
        if process.poll() is not None and not conn.poll(0):
            raise ModelCrashed(describe_exit(process.returncode), during=what)
        if time.monotonic() >= deadline:
            _reap(process, conn, grace=0.0)
            raise ModelCrashed(f"no answer within {timeout:.0f} s; killed", during=what)


def _result(message: tuple, rid: int) -> Any:
    if message[0] == "result" and message[1] == rid:
        return message[2]
    if message[0] == "error":
        _, _, kind, text = message
        if kind == "ModelUnavailable":
            from ragls.model.backend import ModelUnavailable

            raise ModelUnavailable(text)
        raise ModelError(f"{kind}: {text}")
    raise ModelError(f"model process protocol error: unexpected {message[0]!r}")


def _reap(process: subprocess.Popen, conn: Connection, *, grace: float = 2.0) -> None:
    """Make sure the process is gone and its connection closed (never leaves a zombie)."""
    if process.poll() is None and grace > 0:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    if process.poll() is None:
        process.kill()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            pass
    try:
        conn.close()
    except OSError:
        pass
