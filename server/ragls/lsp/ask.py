"""``ragls/ask`` (and the ``ragls.ask`` command): a streamed, cited, cancellable answer.

Cancellation pattern: the handler is a coroutine; the answer is computed in the thread pool with a
``threading.Event`` it checks (the model stops generating when it is set). ``$/cancelRequest``
cancels the coroutine (pygls then answers RequestCancelled) and we set the event; a progress cancel
(``window/workDoneProgress/cancel``) sets the event and we answer RequestCancelled ourselves.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled, JsonRpcServerNotInitialized

from ragls.core.hover import hover_symbol, identifier_at
from ragls.core.lines import line_at, text_in
from ragls.core.requests import AnswerHooks, AnswerRequest
from ragls.lsp import convert, protocol
from ragls.lsp.language_server import RaglsServer

log = logging.getLogger(__name__)

# Test hook: hold every answer this long (interruptible by cancellation) so that cancellation can
# be tested end to end without a slow model. Unset in normal use.
_ANSWER_DELAY_S = float(os.environ.get("RAGLS_TEST_ANSWER_DELAY_S", "0") or 0)


def _focus(text: str | None, params: protocol.AskParams, encoding: str) -> str | None:
    """The selection, or the identifier at the position, that the question is about."""
    if text is None or (params.range is None and params.position is None):
        return None
    if params.range is not None:
        span = convert.to_core_span(text, params.range, encoding)
        if span is None:
            return None
        return text_in(text, span).strip()[: protocol.MAX_FOCUS_CHARS] or None
    line = line_at(text, convert.to_core_line(params.position.line))
    if line is None:
        return None
    found = identifier_at(line, convert.column_to_codepoints(line, params.position.character, encoding))
    if found is None:
        return None
    return hover_symbol(found.name) or found.name


def _adapters(server: RaglsServer, params: protocol.AskParams) -> list[tuple[str, float]] | None:
    if params.adapters is None:
        return None
    scales = {spec.name: spec.scale for spec in server.settings.model.adapters}
    return [(a.name, a.scale if a.scale is not None else scales.get(a.name, 1.0)) for a in params.adapters]


def _link_outer_request(server: RaglsServer) -> None:
    """For ``workspace/executeCommand``: pygls runs the command as an inner task, and a
    ``$/cancelRequest`` for the outer request cancels only the outer future. Cancel this task with it."""
    task = asyncio.current_task()
    outer = server.protocol._request_futures.get(server.protocol.msg_id) if server.protocol.msg_id is not None else None
    if task is None or outer is None or outer is task:
        return
    loop = asyncio.get_running_loop()
    outer.add_done_callback(lambda f: loop.call_soon_threadsafe(task.cancel) if f.cancelled() else None)


async def ask(server: RaglsServer, raw: Any, *, from_command: bool = False) -> dict:
    params = protocol.parse_ask_params(raw)
    await server.until_ready()
    if server.answerer is None or server.workspaces is None:  # the set-up failed (logged)
        raise JsonRpcServerNotInitialized("ragls could not set up its workspace folders")
    if from_command:
        _link_outer_request(server)
    text = await server.document_text_async(params.uri) if params.uri is not None else None
    request = AnswerRequest(
        params.question,
        focus=_focus(text, params, server.encoding),
        passages=params.max_passages,
        adapters=_adapters(server, params),
        temperature=params.temperature,
        seed=params.seed,
    )
    answerer = server.answerer
    cancel = threading.Event()
    token = params.work_done_token
    progress = server.work_done_progress

    if token is not None:
        progress.tokens.pop(token, None)  # a reused token must not inherit an old cancellation
        progress.begin(
            token, types.WorkDoneProgressBegin(title=protocol.ASK_TITLE, message="Searching…", cancellable=True, percentage=0)
        )
        progress.tokens[token].add_done_callback(lambda f: cancel.set() if f.cancelled() else None)

    def on_delta(delta: str) -> None:  # worker thread; call_soon_threadsafe keeps the order
        if token is not None and delta and not cancel.is_set():
            server.from_thread(progress.report, token, types.WorkDoneProgressReport(message=delta))

    reading = [-1]  # last percentage reported while the model reads the passages

    def on_prompt(done: int, total: int) -> None:  # worker thread
        # A report with a percentage and no message: the messages stay pure answer text.
        percentage = min(100, done * 100 // max(total, 1))
        if token is not None and percentage >= reading[0] + 5 and not cancel.is_set():
            reading[0] = percentage
            server.from_thread(progress.report, token, types.WorkDoneProgressReport(percentage=percentage))

    def answer():
        if _ANSWER_DELAY_S:
            cancel.wait(_ANSWER_DELAY_S)
        if cancel.is_set():
            return None
        return answerer.ask(request, AnswerHooks(on_delta=on_delta, on_prompt=on_prompt, cancel=cancel))

    def end(message: str) -> None:
        if token is not None:
            progress.end(token, types.WorkDoneProgressEnd(message=message))
            progress.tokens.pop(token, None)

    try:
        result = await server.in_pool(answer)
    except asyncio.CancelledError:
        cancel.set()
        end("cancelled")
        raise
    except BaseException:
        cancel.set()
        end("failed")
        raise
    if cancel.is_set() or result is None:
        end("cancelled")
        raise JsonRpcRequestCancelled("ragls/ask was cancelled")
    end("")
    # Citation ranges read the cited files' lines: in the pool, not on the event loop.
    return await server.in_pool(
        convert.ask_result,
        result,
        server.line_lookup(),
        index_complete=server.workspaces.index_complete,
        encoding=server.encoding,
    )
