"""How request handlers fail: bad params are the client's error, anything else is ours, and the
server keeps serving either way."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Callable

from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams

from ragls.lsp import protocol

log = logging.getLogger("ragls.lsp")


def answers_errors(handler: Callable) -> Callable:
    """Bad params → InvalidParams; any other failure is logged and answered with InternalError.

    The server keeps serving either way; cancellation passes through untouched.
    """

    @functools.wraps(handler)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return await handler(*args, **kwargs)
        except protocol.InvalidParams as exc:
            raise JsonRpcInvalidParams(str(exc)) from None
        except (asyncio.CancelledError, JsonRpcException):
            raise
        except Exception as exc:
            log.exception("request %s failed", handler.__name__)
            raise JsonRpcInternalError(f"ragls internal error in {handler.__name__}: {exc}") from exc

    return wrapped
