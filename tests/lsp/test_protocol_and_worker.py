"""Pure pieces of the server: ask-params validation and the index worker's ordering/coalescing."""

import threading

import pytest

from ragls.lsp.index_worker import IndexWorker
from ragls.lsp.protocol import AdapterChoice, InvalidParams, Position, parse_ask_params


def test_valid_ask_params():
    params = parse_ask_params(
        {
            "question": "  why?  ",
            "textDocument": {"uri": "file:///a.py"},
            "position": {"line": 3, "character": 4},
            "workDoneToken": "t",
            "adapters": [{"name": "terse", "scale": 0.5}, {"name": "x"}],
            "maxPassages": 3,
            "temperature": 0,
            "seed": 7,
        }
    )
    assert params.question == "why?" and params.uri == "file:///a.py" and params.position == Position(3, 4)
    assert params.adapters == (AdapterChoice("terse", 0.5), AdapterChoice("x", None))
    assert (params.max_passages, params.temperature, params.seed, params.work_done_token) == (3, 0.0, 7, "t")
    assert parse_ask_params([{"question": "q"}]).question == "q"  # executeCommand arguments


@pytest.mark.parametrize(
    "raw",
    [
        None, "q", [], {}, {"question": " "}, {"question": 1},
        {"question": "q", "textDocument": "file:///a"},
        {"question": "q", "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}},
        {"question": "q", "textDocument": {"uri": "u"}, "position": {"line": -1, "character": 0}},
        {"question": "q", "workDoneToken": True},
        {"question": "q", "adapters": [{"scale": 1}]},
        {"question": "q", "adapters": [{"name": "a", "scale": 9}]},
        {"question": "q", "maxPassages": 0},
        {"question": "q", "temperature": float("nan")},
        {"question": "q", "seed": "1"},
    ],
)
def test_invalid_ask_params(raw):
    with pytest.raises(InvalidParams):
        parse_ask_params(raw)


def test_worker_runs_jobs_in_order_and_coalesces_keyed_twins():
    worker = IndexWorker()
    gate = threading.Event()
    ran = []
    worker.post("block", gate.wait)
    first = worker.post("a", lambda: ran.append("a1"), key="a")
    twin = worker.post("a", lambda: ran.append("a2"), key="a")  # queued twin: dropped
    worker.post("b", lambda: ran.append("b"))
    assert twin is first
    gate.set()
    first.result(timeout=5)
    worker.post("c", lambda: ran.append("c"), key="a").result(timeout=5)  # not queued any more: runs
    assert ran == ["a1", "b", "c"]
    worker.stop()


def test_worker_survives_a_failing_job():
    worker = IndexWorker()
    failed = worker.post("boom", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failed.result(timeout=5)
    assert worker.post("ok", lambda: 42).result(timeout=5) == 42
    worker.stop()
    with pytest.raises(RuntimeError):
        worker.post("late", lambda: None).result(timeout=1)
