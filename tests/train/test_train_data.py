"""``ragls train-data`` on a small real workspace: the prompts are ragls's own, the targets are
grammatical, cited and grounded, abstentions come at their share, runs are reproducible, and bad
input is refused clearly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ragls.core.extractive import clean_inline
from ragls.core.grammar import parses
from ragls.core.prompting import FOCUS_TOKENS, build_prompt, estimate_tokens
from ragls.model.resources import load_mode
from ragls.settings import ModelSettings
from ragls.training.checks import check_target, render_target, visible_prefix
from ragls.training.data import ABSTAIN, ABSTAIN_FROM, ExampleBuilder, TrainDataError, TrainDataOptions, generate
from ragls.training.questions import Candidate, candidates

MODE = load_mode("answer")
NOT_COVERED = MODE.texts.not_covered


def run(root: Path, out: Path, retrieve, **options) -> tuple[list[dict], object]:
    summary = generate(root, out, TrainDataOptions(**options), retrieve=retrieve, force=True)
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()], summary


def _hits_for(example: dict, retrieve) -> list:
    """The retrieved hits the example's passages are, in the order the prompt shows them."""
    question = example["meta"]["question"]
    deep = retrieve(question, 30).hits
    hits = []
    for location in example["meta"]["passages"]:
        path, lines = location.rsplit(":", 1)
        start = int(lines.split("-")[0])
        # (a focused or trimmed passage shows a window of its chunk's lines)
        hits.append(next(h for h in deep if h.chunk.path == path and h.chunk.start_line <= start <= h.chunk.end_line))
    return hits


def test_prompts_are_exactly_what_ragls_builds(indexed, tmp_path):
    root, _, retrieve = indexed
    examples, summary = run(root, tmp_path / "out.jsonl", retrieve)
    assert summary.written == len(examples) >= 6
    kinds = {e["meta"]["kind"] for e in examples}
    assert {"number", "flag", "definition", ABSTAIN} <= kinds
    defaults = ModelSettings()
    for example in examples:
        question = example["meta"]["question"]
        # An answer's prompt is the one the model host builds from the top K ragls retrieves:
        # focused passages (the lines that address the question), at most 3 of them.
        hits = _hits_for(example, retrieve) if example["meta"]["kind"] == ABSTAIN else list(retrieve(question, 5).hits)
        plan = build_prompt(
            question, hits, MODE.texts, context_size=defaults.context_size, max_tokens=defaults.max_tokens,
            count_tokens=estimate_tokens, focus_tokens=FOCUS_TOKENS,
        )
        assert [p.citation().location for p in plan.passages] == example["meta"]["passages"]
        assert 1 <= len(plan.passages) <= 3
        system, user, assistant = example["messages"]
        assert [system, user] == plan.messages()
        assert assistant["role"] == "assistant"
        assert question in user["content"] and user["content"].startswith("Passages:")


def test_every_target_parses_and_cites_a_passage_that_holds_its_facts(indexed, tmp_path):
    root, _, retrieve = indexed
    examples, _ = run(root, tmp_path / "out.jsonl", retrieve)
    for example in examples:
        target = example["messages"][2]["content"]
        passages = example["meta"]["passages"]
        assert parses(target, passage_count=len(passages), not_covered=NOT_COVERED, bounds=MODE.bounds), target
        if example["meta"]["kind"] == ABSTAIN:
            assert target == NOT_COVERED
            # The passage with the answer is taken out, and the rest of its file with it.
            source_file = example["meta"]["source"].rsplit(":", 1)[0]
            assert all(p.rsplit(":", 1)[0] != source_file for p in passages)
            assert example["meta"]["from"] in ABSTAIN_FROM
            continue
        sentences = re.findall(r"(.+?) \[(\d+)\]\.(?: |$)", target)
        assert 1 <= len(sentences) <= 3, target
        for body, n in sentences:
            assert 1 <= int(n) <= len(passages)
            path, lines = passages[int(n) - 1].rsplit(":", 1)
            start, end = map(int, lines.split("-"))
            shown = (root / path).read_text(encoding="utf-8").split("\n")[start - 1 : end]
            text = clean_inline(" ".join(shown))
            # Every word and number of the sentence is in the cited lines (a code definition's
            # target names its symbol, which its lines hold too).
            for word in re.findall(r"[\w\-]+", body):
                assert re.search(rf"(?<![\w\-]){re.escape(word)}(?![\w])", text), (word, body, text)
            assert passages[int(n) - 1] == example["meta"]["source"]  # the gold passage is the one cited


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5])
def test_the_abstention_share_holds(indexed, tmp_path, share):
    root, _, retrieve = indexed
    # (whole passages: more of the small fixture's questions survive; the share logic is the same)
    examples, summary = run(root, tmp_path / "out.jsonl", retrieve, abstain_share=share, limit=12, focus_tokens=None)
    assert len(examples) == 12
    abstained = sum(e["meta"]["kind"] == ABSTAIN for e in examples)
    assert abs(abstained - share * 12) <= 1, (abstained, summary.dropped)
    assert summary.by_kind[ABSTAIN] == abstained


def test_limit_and_seed_are_reproducible(indexed, tmp_path):
    root, _, retrieve = indexed
    first = tmp_path / "a.jsonl"
    second = tmp_path / "b.jsonl"
    other = tmp_path / "c.jsonl"
    generate(root, first, TrainDataOptions(limit=7, seed=3), retrieve=retrieve)
    generate(root, second, TrainDataOptions(limit=7, seed=3), retrieve=retrieve)
    generate(root, other, TrainDataOptions(limit=7, seed=4), retrieve=retrieve)
    assert first.read_bytes() == second.read_bytes()
    assert len(first.read_text().splitlines()) == 7
    assert other.read_bytes() != first.read_bytes()


def test_questions_read_like_a_persons():
    from ragls.core.types import Chunk

    text = "# Client\n\n## Retries\n\nThe default request timeout is 30 seconds for every call.\n"
    chunk = Chunk(path="docs/a.md", start_line=3, end_line=5, text=text.split("\n", 2)[2], kind="markdown", heading=("Client", "Retries"))
    number = [c for c in candidates([chunk], seed=0) if c.kind == "number"]
    assert number and "request timeout" in number[0].question and "30" not in number[0].question
    assert number[0].key == "30 seconds"

    install = Chunk(path="docs/b.md", start_line=1, end_line=3, text="## Installing the tool\n\nUnpack the archive into a folder on your path.\n", kind="markdown", heading=("Installing the tool",))
    heading = [c for c in candidates([install], seed=0) if c.kind == "heading"]
    assert heading and "install the tool" in heading[0].question
    from ragls.training.questions import heading_question
    import random

    assert heading_question("How to rotate the keys", "", False, random.Random(0)) == "How do I rotate the keys?"
    assert heading_question("Why is my upload slow?", "", False, random.Random(0)) == "Why is my upload slow?"
    assert heading_question("Step 2: Configuring the proxy", "", False, random.Random(0)).endswith("configure the proxy?")
    generic = Chunk(path="docs/c.md", start_line=1, end_line=3, text="## See also\n\nThe other guide explains the rest in detail.\n", kind="markdown", heading=("See also",))
    assert not [c for c in candidates([generic], seed=0) if c.kind == "heading"]


def test_the_check_drops_a_target_with_a_fact_its_passage_lacks(indexed, tmp_path):
    root, _, retrieve = indexed
    builder = ExampleBuilder(retrieve, TrainDataOptions())
    hits = retrieve("default request timeout", 5).hits
    gold = next(h for h in hits if "30 seconds" in h.chunk.text)
    plan = builder.prompt("What is the default request timeout?", hits)
    n = next(p.id for p in plan.passages if p.hit == gold)
    good = render_target(["The default request timeout is 30 seconds."], n)
    assert check_target(good, plan.passages, not_covered=NOT_COVERED) is None
    wrong_number = render_target(["The default request timeout is 15 seconds."], n)
    assert check_target(wrong_number, plan.passages, not_covered=NOT_COVERED) == "a fact is not in the cited passage"
    wrong_words = render_target(["The default request timeout is 30 seconds on weekends."], n)
    assert check_target(wrong_words, plan.passages, not_covered=NOT_COVERED) == "a fact is not in the cited passage"
    beyond = render_target(["The default request timeout is 30 seconds."], len(plan.passages) + 1)
    assert check_target(beyond, plan.passages, not_covered=NOT_COVERED) is not None
    assert check_target("The default request timeout is 30 seconds.", plan.passages, not_covered=NOT_COVERED) is not None

    # A candidate whose sentence is not in its passage is dropped, and the reason counted.
    made_up = Candidate("number", "What is the default request timeout?", ("The default request timeout is 99 seconds.",), "99 seconds", gold.chunk)
    assert builder.answer(made_up) == "answer not in the passage as shown"


# --- the command ---------------------------------------------------------------------------------

def ragls(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ragls", *args], capture_output=True, text=True, timeout=120)


def test_cli_writes_examples_and_a_summary(workspace, tmp_path):
    out = tmp_path / "train.jsonl"
    done = ragls("train-data", "--workspace", str(workspace), "--out", str(out), "--index-dir", str(tmp_path / "idx"), "--limit", "5", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["written"] == 5 == len(out.read_text().splitlines())
    assert sum(summary["byKind"].values()) == 5 and summary["byKind"].get("abstain") == 1
    assert "5 examples written" in done.stderr and "questions" in done.stderr  # progress and summary on stderr
    assert not list(tmp_path.glob(".train.jsonl.*"))  # no temporary file left behind

    # Focused prompts (the default) show at most 3 passages; --focus-tokens 0 gives the K whole ones.
    whole = tmp_path / "whole.jsonl"
    done = ragls("train-data", "--workspace", str(workspace), "--out", str(whole), "--index-dir", str(tmp_path / "idx"), "--focus-tokens", "0")
    assert done.returncode == 0, done.stderr
    focused = tmp_path / "focused.jsonl"
    done = ragls("train-data", "--workspace", str(workspace), "--out", str(focused), "--index-dir", str(tmp_path / "idx"))
    assert done.returncode == 0, done.stderr
    most = {f: max(len(json.loads(line)["meta"]["passages"]) for line in f.read_text().splitlines()) for f in (whole, focused)}
    assert most[whole] > 3 >= most[focused]


def test_cli_refuses_bad_input(workspace, tmp_path):
    out = tmp_path / "train.jsonl"
    missing = ragls("train-data", "--workspace", str(tmp_path / "nope"), "--out", str(out))
    assert missing.returncode == 2 and "workspace folder does not exist" in missing.stderr

    out.write_text("keep me\n")
    exists = ragls("train-data", "--workspace", str(workspace), "--out", str(out), "--index-dir", str(tmp_path / "idx"))
    assert exists.returncode == 2 and "--force" in exists.stderr
    assert out.read_text() == "keep me\n"

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00binary")
    nothing = ragls("train-data", "--workspace", str(empty), "--out", str(tmp_path / "e.jsonl"), "--index-dir", str(tmp_path / "idx2"))
    assert nothing.returncode == 2 and "no indexable text" in nothing.stderr
    assert not (tmp_path / "e.jsonl").exists()

    share = ragls("train-data", "--workspace", str(workspace), "--out", str(tmp_path / "s.jsonl"), "--abstain-share", "1.5")
    assert share.returncode == 2 and "--abstain-share" in share.stderr

    focus = ragls("train-data", "--workspace", str(workspace), "--out", str(tmp_path / "f.jsonl"), "--focus-tokens", "5")
    assert focus.returncode == 2 and "--focus-tokens" in focus.stderr


def test_options_are_validated():
    with pytest.raises(TrainDataError, match="--limit"):
        TrainDataOptions(limit=0)
    with pytest.raises(TrainDataError, match="--passages"):
        TrainDataOptions(passages=0)
    with pytest.raises(TrainDataError, match="context"):
        TrainDataOptions(context_size=256, max_tokens=512)
    with pytest.raises(TrainDataError, match="--focus-tokens"):
        TrainDataOptions(focus_tokens=4)


def test_the_target_cites_the_gold_passage_wherever_retrieval_ranks_it(indexed):
    """The marker is the gold passage's number in the prompt, not always [1]."""
    import dataclasses

    root, _, retrieve = indexed
    question = "What is the default request timeout?"
    gold = next(h for h in retrieve(question, 5).hits if "30 seconds" in h.chunk.text)

    def gold_third(q, k):
        result = retrieve(q, k)
        others = [h for h in result.hits if h != gold]
        return dataclasses.replace(result, hits=tuple([*others[:2], gold, *others[2:]][:k]))

    builder = ExampleBuilder(gold_third, TrainDataOptions())
    candidate = Candidate("number", question, ("The default request timeout is 30 seconds.",), "30 seconds", gold.chunk)
    example = builder.answer(candidate)
    assert not isinstance(example, str), example
    assert example.messages[2]["content"] == "The default request timeout is 30 seconds [3]."
    assert example.meta["passages"][2] == example.meta["source"]


def test_holds_answer_tells_a_passage_with_the_answer_from_one_without(indexed):
    from ragls.training.checks import holds_answer

    _, _, retrieve = indexed
    builder = ExampleBuilder(retrieve, TrainDataOptions(focus_tokens=None))  # whole passages: all of the text is there to judge
    plan = builder.prompt("default request timeout retry budget", retrieve("default request timeout retry budget", 5).hits)
    answer = ("The default request timeout is 30 seconds.",)
    held = {p.hit.chunk.path for p in plan.passages if holds_answer(p, "30 seconds", answer)}
    assert held == {"docs/client.md"}
    # A heading's key is its answer's first sentence, which ends in a period: not a dotted name
    # whose last part ("") every passage would hold. Same words, other sentence: not held.
    gc = next(h for h in retrieve("garbage collection grace period", 5).hits if "grace period" in h.chunk.text)
    passage = builder.prompt("garbage collection", [gc]).passages[0]
    reworded = ("Deleted objects stay recoverable for 7 days.",)
    assert not holds_answer(passage, reworded[0], reworded)
    assert holds_answer(passage, "7 days", reworded)  # the key fact and the answer's words: held


def test_abstentions_come_from_specific_questions_and_stop_when_those_run_out(indexed, tmp_path):
    root, _, retrieve = indexed
    examples, summary = run(root, tmp_path / "out.jsonl", retrieve, abstain_share=0.5, focus_tokens=None)
    abstentions = [e for e in examples if e["meta"]["kind"] == ABSTAIN]
    answers = [e for e in examples if e["meta"]["kind"] != ABSTAIN]
    specific = {e["meta"]["question"] for e in answers if e["meta"]["kind"] in ABSTAIN_FROM}
    # Each specific question is abstained on at most once; the rest of the run is answers.
    assert len({e["meta"]["question"] for e in abstentions}) == len(abstentions) > 0
    assert len(abstentions) < 0.5 * len(examples)
    # The same question answered with its passage and declined without it: a contrastive pair.
    assert specific & {e["meta"]["question"] for e in abstentions}
    assert summary.by_kind["heading"] > 0


def test_a_small_context_trims_passages_and_targets_stay_inside_the_lines_shown(indexed, tmp_path):
    root, _, retrieve = indexed
    examples, summary = run(root, tmp_path / "out.jsonl", retrieve, context_size=560, max_tokens=128, abstain_share=0.0, focus_tokens=None)
    assert examples, summary.dropped
    trimmed = 0
    for example in examples:
        question = example["meta"]["question"]
        plan = build_prompt(
            question, retrieve(question, 5).hits, MODE.texts, context_size=560, max_tokens=128, count_tokens=estimate_tokens
        )
        assert example["messages"][:2] == plan.messages()
        trimmed += any(p.trimmed for p in plan.passages)
        gold = next(p for p in plan.passages if p.citation().location == example["meta"]["source"])
        for body in re.findall(r"(.+?) \[\d+\]\.(?: |$)", example["messages"][2]["content"]):
            for number in re.findall(r"\d+", body):
                assert number in gold.text or number in gold.label
    assert trimmed  # the context was small enough to trim: the check above saw windows, not chunks


# --- focused passages, other workspaces -----------------------------------------------------------

def test_a_focused_passage_keeps_only_the_answer_sentences_it_shows(indexed):
    """The model host shows each passage as its lines that address the question: a target may only
    copy sentences the model can read there, and its first sentence (the key fact) must be one."""
    _, _, retrieve = indexed
    question = "What is the default request timeout?"
    gold = next(h for h in retrieve(question, 5).hits if "30 seconds" in h.chunk.text)
    sentences = ("The default request timeout is 30 seconds.", "A retry budget is a cap on how many retries the client sends per minute.")
    candidate = Candidate("number", question, sentences, "30 seconds", gold.chunk)

    # A cap that holds the timeout's line and not the next one (the default would show the whole
    # three-line section: the lines after the answer fill a window while they fit).
    narrow = TrainDataOptions(focus_tokens=40)
    focused = ExampleBuilder(retrieve, narrow).answer(candidate)
    assert not isinstance(focused, str), focused
    plan = ExampleBuilder(retrieve, narrow).prompt(question, retrieve(question, 5).hits)
    shown = next(p for p in plan.passages if p.hit == gold)
    assert "retry budget" not in shown.text  # the window is the timeout's line, not the whole section
    assert focused.messages[2]["content"] == f"The default request timeout is 30 seconds [{shown.id}]."
    assert visible_prefix(sentences, shown) == sentences[:1]

    whole = ExampleBuilder(retrieve, TrainDataOptions(focus_tokens=None)).answer(candidate)
    assert not isinstance(whole, str), whole
    assert whole.messages[2]["content"].count(" [") == 2  # the whole chunk shows both sentences

    # A candidate whose first sentence the window does not show is no answer at all.
    later_first = Candidate("number", question, tuple(reversed(sentences)), "30 seconds", gold.chunk)
    assert ExampleBuilder(retrieve, narrow).answer(later_first) == "answer not in the passage as shown"


STDLIB_MODULES = ("textwrap", "shlex", "fnmatch", "glob", "getopt", "sched", "queue", "bisect", "colorsys", "calendar")


def test_a_python_standard_library_workspace_gives_grounded_examples(tmp_path):
    """A workspace that is not the fixture's (real sources of this interpreter's standard library):
    every answer cites its gold passage, and every number, code span and word of it is in that
    passage as the prompt shows it."""
    import importlib
    import shutil

    from ragls.answering import Answerer
    from ragls.index.workspace_index import WorkspaceIndex
    from ragls.settings import Settings

    root = tmp_path / "stdlib"
    root.mkdir()
    for name in STDLIB_MODULES:
        shutil.copyfile(importlib.import_module(name).__file__, root / f"{name}.py")
    index = WorkspaceIndex(root, index_path=tmp_path / "idx")
    try:
        index.sync()
        answerer = Answerer(lambda: [index], Settings())
        examples, summary = run(root, tmp_path / "out.jsonl", lambda q, k: answerer.retrieve(q, passages=k), abstain_share=0.1)
    finally:
        index.close()
    assert summary.written == len(examples) >= 20, summary.dropped
    assert summary.by_kind["definition"] >= 10 and summary.by_kind[ABSTAIN] >= 1
    for example in examples:
        target = example["messages"][2]["content"]
        if example["meta"]["kind"] == ABSTAIN:
            assert target == NOT_COVERED
            continue
        user = example["messages"][1]["content"]
        blocks = re.split(r"\n\n(?=\[\d+\] )", user.split("\n\nQuestion: ")[0].removeprefix("Passages:\n\n"))
        shown = {int(re.match(r"\[(\d+)\]", b).group(1)): b for b in blocks}
        assert len(shown) <= 3
        for body, n in re.findall(r"(.+?) \[(\d+)\]\.(?: |$)", target):
            text = clean_inline(shown[int(n)])
            assert example["meta"]["passages"][int(n) - 1] == example["meta"]["source"]
            for span in re.findall(r"`([^`]+)`", body) + re.findall(r"\b\d+(?:\.\d+)?\b", body):
                assert span in text, (span, body, text)
            words = re.findall(r"[A-Za-z]{4,}", clean_inline(body))
            assert all(w.lower() in text.lower() for w in words), (body, text)
