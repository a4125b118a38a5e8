"""Work-done progress the server starts itself (indexing), shown by the editor as a progress bar.

Everything here runs on the event loop. The server asks the client to create a token
(``window/workDoneProgress/create``) and may only report on it once the client answered, so
reports that arrive earlier are held and only the latest is sent.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Callable, Coroutine

from lsprotocol import types
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)


class ServerProgress:
    """One progress bar: ``begin`` → ``report``\\* → ``end``. Silent when the client has no support."""

    def __init__(
        self,
        server: LanguageServer,
        title: str,
        spawn: Callable[[Coroutine, str], asyncio.Task],
        *,
        supported: bool,
        cancellable: bool = False,
    ) -> None:
        self._server = server
        self._title = title
        self._spawn = spawn
        self._supported = supported
        self._cancellable = cancellable
        self._token = f"ragls-{uuid.uuid4()}"
        self._state = "new"  # new -> creating -> open -> ended
        self._held: types.WorkDoneProgressReport | None = None
        self._ending: types.WorkDoneProgressEnd | None = None

    def begin(self, message: str = "") -> None:
        if not self._supported or self._state != "new":
            return
        self._state = "creating"
        self._spawn(self._create(message), f"progress {self._title}")

    async def _create(self, message: str) -> None:
        try:
            await self._server.work_done_progress.create_async(self._token)
        except Exception as exc:  # the client refused: no progress bar, nothing else changes
            log.info("client refused a progress token: %s", exc)
            self._state = "ended"
            return
        self._server.work_done_progress.begin(
            self._token,
            types.WorkDoneProgressBegin(title=self._title, message=message, percentage=0, cancellable=self._cancellable),
        )
        self._state = "open"
        if self._held is not None:
            self._server.work_done_progress.report(self._token, self._held)
            self._held = None
        if self._ending is not None:
            self._end_now(self._ending)

    def report(self, message: str, percentage: int | None = None) -> None:
        value = types.WorkDoneProgressReport(message=message, percentage=percentage)
        if self._state == "open":
            self._server.work_done_progress.report(self._token, value)
        elif self._state == "creating":
            self._held = value

    def end(self, message: str = "") -> None:
        value = types.WorkDoneProgressEnd(message=message)
        if self._state == "open":
            self._end_now(value)
        elif self._state == "creating":
            self._ending = value
        else:
            self._state = "ended"

    def _end_now(self, value: types.WorkDoneProgressEnd) -> None:
        self._state = "ended"
        self._server.work_done_progress.end(self._token, value)
        self._server.work_done_progress.tokens.pop(self._token, None)
