"""JSON-RPC details pygls leaves to us.

- Custom requests (``ragls/ask``, ``ragls/status``) get their params as plain JSON dicts, so the
  handlers validate them (pygls would turn them into namedtuples, renaming odd keys).
- A request whose params do not fit the LSP types (a hover without ``position``) gets an
  ``InvalidParams`` error response. pygls only logs such a message and never answers it, which
  leaves the client waiting forever.
"""

from __future__ import annotations

import logging
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
        return super().handle_message(message)
