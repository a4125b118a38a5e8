"""The Python side of ragls' custom LSP messages (docs/PROTOCOL.md; TypeScript mirror:
client-vscode/src/protocol.ts). Any change here bumps ``PROTOCOL_VERSION``.

Params arrive as raw JSON (dicts); :func:`parse_ask_params` validates them and raises
:class:`InvalidParams` with a message the client can show — pygls itself would drop a request whose
params fail to parse without answering it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1

ASK = "ragls/ask"
STATUS = "ragls/status"
COMMAND_ASK = "ragls.ask"
COMMAND_STATUS = "ragls.status"
COMMAND_REINDEX = "ragls.reindex"

INDEXING_TITLE = "ragls: indexing"
ASK_TITLE = "ragls"

MAX_FOCUS_CHARS = 2000  # a selection longer than this is cut: it only steers retrieval


class InvalidParams(ValueError):
    """The request's params do not match the protocol (answered with JSON-RPC -32602)."""


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    character: int


@dataclass(frozen=True, slots=True)
class Range:
    start: Position
    end: Position


@dataclass(frozen=True, slots=True)
class AdapterChoice:
    name: str
    scale: float | None = None


@dataclass(frozen=True, slots=True)
class AskParams:
    question: str
    uri: str | None = None
    position: Position | None = None
    range: Range | None = None
    work_done_token: str | int | None = None
    adapters: tuple[AdapterChoice, ...] | None = None
    max_passages: int | None = None
    temperature: float | None = None
    seed: int | None = None


def _int(value: Any, where: str, lo: int = 0, hi: int = 2**31 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidParams(f"'{where}' must be an integer in {lo}..{hi}")
    return value


def _position(value: Any, where: str) -> Position:
    if not isinstance(value, dict):
        raise InvalidParams(f"'{where}' must be an object {{line, character}}")
    return Position(_int(value.get("line"), f"{where}.line"), _int(value.get("character"), f"{where}.character"))


def parse_ask_params(raw: Any) -> AskParams:
    """Validate ``ragls/ask`` params (camelCase JSON) into :class:`AskParams`."""
    if isinstance(raw, list) and len(raw) == 1:  # executeCommand arguments: [params]
        raw = raw[0]
    if not isinstance(raw, dict):
        raise InvalidParams("ragls/ask params must be an object with a 'question' string")
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise InvalidParams("'question' is required and must be a non-empty string")

    uri = None
    if (doc := raw.get("textDocument")) is not None:
        if not isinstance(doc, dict) or not isinstance(doc.get("uri"), str):
            raise InvalidParams("'textDocument' must be an object with a 'uri' string")
        uri = doc["uri"]
    position = _position(raw["position"], "position") if raw.get("position") is not None else None
    rng = None
    if (value := raw.get("range")) is not None:
        if not isinstance(value, dict):
            raise InvalidParams("'range' must be an object {start, end}")
        rng = Range(_position(value.get("start"), "range.start"), _position(value.get("end"), "range.end"))
    if (position or rng) and uri is None:
        raise InvalidParams("'position'/'range' need 'textDocument'")

    token = raw.get("workDoneToken")
    if token is not None and (isinstance(token, bool) or not isinstance(token, (str, int))):
        raise InvalidParams("'workDoneToken' must be a string or an integer")

    adapters = None
    if (value := raw.get("adapters")) is not None:
        if not isinstance(value, list):
            raise InvalidParams("'adapters' must be a list of {name, scale?}")
        choices = []
        for i, item in enumerate(value):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                raise InvalidParams(f"'adapters[{i}]' must be an object with a 'name' string")
            scale = item.get("scale")
            if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float)) or not -4 <= scale <= 4):
                raise InvalidParams(f"'adapters[{i}].scale' must be a number in -4..4")
            choices.append(AdapterChoice(item["name"], float(scale) if scale is not None else None))
        adapters = tuple(choices)

    max_passages = _int(raw["maxPassages"], "maxPassages", 1, 50) if raw.get("maxPassages") is not None else None
    temperature = None
    if (value := raw.get("temperature")) is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 5:
            raise InvalidParams("'temperature' must be a number in 0..5")
        temperature = float(value)
    seed = _int(raw["seed"], "seed") if raw.get("seed") is not None else None
    return AskParams(
        question=question.strip(),
        uri=uri,
        position=position,
        range=rng,
        work_done_token=token,
        adapters=adapters,
        max_passages=max_passages,
        temperature=temperature,
        seed=seed,
    )
