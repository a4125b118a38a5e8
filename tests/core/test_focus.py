"""Focus windows (core.prompting.focus_window): the lines of a hit the model is shown hold the answer,
within the token cap, and are exactly the lines the citation names."""

from __future__ import annotations

import pytest

from ragls.core import prompting
from ragls.core.extractive import best_sentence_lines
from ragls.core.types import Chunk, Hit

QUESTION = "How often does the kubelet renew its node lease?"
# The definition line names every question word; the value is three lines below it, in sentences
# that name none of them; unrelated filler follows.
PAGE = [
    "# Node heartbeats",
    "The kubelet renews the node lease object of its node.",
    "Each update moves a timestamp forward.",
    "The control plane reads that timestamp when it checks health.",
    "This happens every 10 seconds by default.",
    *(f"Unrelated remark number {n} about quotas and scheduling." for n in range(20)),
]
START = 40


def _hit(lines: list[str], *, start: int = START) -> Hit:
    text = "\n".join(lines)
    return Hit(
        chunk=Chunk(path="docs/nodes.md", start_line=start, end_line=start + len(lines) - 1, text=text, kind="markdown", heading=("Nodes",)),
        score=1.0,
    )


def _count(text: str) -> int:
    return len(text.split()) + text.count("\n")


def _header_cost(hit: Hit) -> int:
    return _count(prompting.PromptPassage(1, hit, hit.chunk.start_line, hit.chunk.start_line, "").header + "\n")


def _cost(passage: prompting.PromptPassage) -> int:
    return _count(passage.header + "\n") + _count(passage.text + "\n")


def test_the_value_a_few_lines_below_the_line_naming_the_terms_is_in_the_window() -> None:
    hit = _hit(PAGE)
    focused = prompting.focus_window(hit, QUESTION, 60, _count, passage_id=1)
    assert focused is not None
    assert "every 10 seconds" in focused.passage.text
    assert "The kubelet renews the node lease" in focused.passage.text
    # the old rule (most terms, fewest tokens) stops at the line naming the terms
    covered = prompting.focus_window(hit, QUESTION, 60, _count, passage_id=1, rule="cover")
    assert covered is not None and "10 seconds" not in covered.passage.text


def test_the_anchor_is_the_sentence_the_extractive_answer_would_pick() -> None:
    assert best_sentence_lines(QUESTION, _hit(PAGE)) == (START + 1, START + 1)
    assert best_sentence_lines("Which quota limits namespaces?", _hit(PAGE[:5])) is None


def test_the_window_respects_the_cap() -> None:
    hit = _hit(PAGE)
    for cap in (35, 40, 60, 120):
        focused = prompting.focus_window(hit, QUESTION, cap, _count, passage_id=1)
        assert focused is not None
        assert _cost(focused.passage) <= cap
    wide = prompting.focus_window(hit, QUESTION, 120, _count, passage_id=1)
    narrow = prompting.focus_window(hit, QUESTION, 35, _count, passage_id=1)
    assert wide is not None and narrow is not None
    assert len(narrow.passage.text.splitlines()) < len(wide.passage.text.splitlines())
    assert "The kubelet renews the node lease" in narrow.passage.text


def test_the_window_is_contiguous_and_its_line_numbers_are_the_lines_shown() -> None:
    hit = _hit(PAGE)
    for cap in (35, 40, 60, 120):
        passage = prompting.focus_window(hit, QUESTION, cap, _count, passage_id=1).passage
        lo, hi = passage.start_line - START, passage.end_line - START + 1
        assert passage.text.splitlines() == PAGE[lo:hi]


def test_the_window_ends_on_a_whole_sentence() -> None:
    wrapped = [
        "The kubelet renews the node lease object of its node.",
        "After that it waits, and when the wait is over it starts",
        "again from the beginning and renews the lease once more.",
        "Unrelated remark about quotas.",
    ]
    hit = _hit(wrapped, start=1)
    # room for the first two lines but not the third: the half sentence is left out
    cap = _header_cost(hit) + _count(wrapped[0] + "\n") + _count(wrapped[1] + "\n")
    passage = prompting.focus_window(hit, QUESTION, cap, _count, passage_id=1).passage
    assert passage.text.splitlines() == wrapped[:1]
    assert (passage.start_line, passage.end_line) == (1, 1)


def test_lines_before_the_anchor_fill_the_room_the_end_of_the_hit_leaves() -> None:
    lines = ["Nodes send heartbeats to the control plane.", "Two kinds exist.", PAGE[1], "The default interval is 10 seconds."]
    hit = _hit(lines, start=1)
    passage = prompting.focus_window(hit, QUESTION, 120, _count, passage_id=1).passage
    assert passage.text.splitlines() == lines
    assert (passage.start_line, passage.end_line) == (1, 4)


def test_code_hits_keep_the_lines_that_cover_the_most_terms() -> None:
    code = ["def unrelated():", "    return 1", "", "def renew_lease(node):", "    kubelet.renew(node.lease)", "", "x = 2"]
    hit = Hit(chunk=Chunk(path="src/lease.py", start_line=1, end_line=7, text="\n".join(code), kind="code", language="python"), score=1.0)
    passage = prompting.focus_window(hit, "How does the kubelet renew the node lease?", 60, _count, passage_id=1).passage
    assert "kubelet.renew(node.lease)" in passage.text
    assert "x = 2" not in passage.text


def test_a_line_longer_than_half_the_room_is_shown_whole_when_it_fits() -> None:
    # one sentence of 30 words: more than half of a 45-token room, less than all of it
    long_line = "The kubelet renews the node lease " + " ".join(f"word{n}" for n in range(23)) + " today."
    hit = _hit(["Short intro line here.", long_line, "Unrelated remark about quotas."], start=1)
    cap = _header_cost(hit) + 45
    passage = prompting.focus_window(hit, QUESTION, cap, _count, passage_id=1).passage
    assert long_line in passage.text.splitlines()
    assert _cost(passage) <= cap


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="focus rule"):
        prompting.focus_window(_hit(PAGE), QUESTION, 60, _count, passage_id=1, rule="widest")
