"""Pure tests of prompt budgeting, grammar specialisation and citation checks (no model)."""

from __future__ import annotations

import pytest

from ragls.core import citations, grammar, prompting
from ragls.core.prompting import ContextTooSmall, PromptTexts, build_prompt
from ragls.core.types import Chunk, Hit

TEXTS = PromptTexts(
    system="Answer from passages. Otherwise say: $not_covered",
    question="Passages:\n\n$passages\n\nQuestion: $question",
    not_covered="Not covered.",
)


def hit(path: str, start: int, n_lines: int, *, matched: tuple[int, ...] = (), heading: tuple[str, ...] = ()) -> Hit:
    lines = [f"line {start + i} of {path} retry timeout" for i in range(n_lines)]
    chunk = Chunk(path=path, start_line=start, end_line=start + n_lines - 1, text="\n".join(lines), kind="text", heading=heading)
    return Hit(chunk=chunk, score=1.0, matched_lines=matched)


HITS = [hit("a.md", 10, 20, heading=("Guide", "Retries")), hit("b.py", 1, 5), hit("c.md", 100, 8)]


# count_tokens=len (one token per character) is exactly additive, so the budget can be checked exactly.
@pytest.mark.parametrize(
    ("context", "max_tokens", "trimmed"),
    [
        (20_000, 512, (False, False, False)),  # everything fits
        (1_600, 512, (False, False, True)),  # the third passage is cut to a window of its lines
        (1_300, 512, (False, True)),  # the second is cut, the third left out
        (900, 512, (True,)),  # only part of the first passage
        (1_700, 1_000, (True,)),  # a bigger answer reserve leaves less room
    ],
)
def test_budget_table(context: int, max_tokens: int, trimmed: tuple[bool, ...]) -> None:
    plan = build_prompt(
        "How are retries configured?", HITS, TEXTS, context_size=context, max_tokens=max_tokens, count_tokens=len, overhead=10, focus_tokens=None
    )
    assert tuple(p.trimmed for p in plan.passages) == trimmed
    assert plan.dropped == len(HITS) - len(trimmed)
    assert len(plan.system) + len(plan.user) + max_tokens + 10 <= context


@pytest.mark.parametrize("context", range(600, 4_000, 97))
@pytest.mark.parametrize("focus", [None, 120])
def test_prompt_never_overflows(context: int, focus: int | None) -> None:
    try:
        plan = build_prompt("retry?", HITS, TEXTS, context_size=context, max_tokens=300, count_tokens=len, overhead=10, focus_tokens=focus)
    except ContextTooSmall:
        return
    assert len(plan.system) + len(plan.user) + 300 + 10 <= context
    assert [p.id for p in plan.passages] == list(range(1, len(plan.passages) + 1))
    for p in plan.passages:  # the citation names exactly the lines shown
        shown = p.text.split("\n")
        assert len(shown) == p.end_line - p.start_line + 1
        assert shown[0] == f"line {p.start_line} of {p.hit.chunk.path} retry timeout"
        assert p.citation().location == f"{p.hit.chunk.path}:{p.start_line}-{p.end_line}"
        assert p.render() in plan.user



DEEP = ("Virtual IPs and Service Proxies", "Session affinity", "Session stickiness timeout")


def test_a_deep_heading_passage_shows_a_short_header_naming_its_innermost_heading() -> None:
    deep = hit("docs/reference/networking/virtual-ips.md", 120, 4, heading=DEEP)
    plan = build_prompt("retry timeout?", [deep], TEXTS, context_size=4_000, max_tokens=256, count_tokens=len, overhead=0, focus_tokens=120)
    (p,) = plan.passages
    assert p.header == "[1] Session stickiness timeout"
    assert len(p.header) < len(p.title) / 2
    # the model reads neither the path, the line numbers nor the outer headings
    assert "virtual-ips" not in p.header and not any(ch.isdigit() for ch in p.header[3:])
    assert "Session affinity" not in plan.user
    # ... and the user's citation still carries all of them
    citation = p.citation()
    assert citation.title == "Virtual IPs and Service Proxies > Session affinity > Session stickiness timeout"
    assert citation.path == "docs/reference/networking/virtual-ips.md"
    assert citation.location == f"docs/reference/networking/virtual-ips.md:{p.start_line}-{p.end_line}"


def test_a_code_passage_is_named_by_its_symbols_and_one_without_a_name_by_its_file() -> None:
    code = Chunk(path="src/pkg/lease.py", start_line=1, end_line=2, text="x\ny", kind="code", symbols=("Lease.renew",))
    assert prompting.PromptPassage(2, Hit(code, 1.0), 1, 2, "x\ny").header == "[2] Lease.renew"
    packed = Chunk(path="src/pkg/consts.py", start_line=1, end_line=2, text="x\ny", kind="code", symbols=("A", "B", "C", "D", "E"))
    assert prompting.PromptPassage(1, Hit(packed, 1.0), 1, 2, "x\ny").header == "[1] A, B, C, …"
    plain = Chunk(path="notes/todo.txt", start_line=1, end_line=2, text="x\ny", kind="text")
    assert prompting.PromptPassage(1, Hit(plain, 1.0), 1, 2, "x\ny").header == "[1] todo.txt"


def test_trimmed_window_keeps_the_matched_line() -> None:
    long = hit("big.md", 1, 200, matched=(150,))
    plan = build_prompt("q", [long], TEXTS, context_size=1_500, max_tokens=100, count_tokens=len, overhead=0, focus_tokens=None)
    (p,) = plan.passages
    assert p.trimmed and p.start_line <= 150 <= p.end_line
    assert p.start_line == 150  # grows forward from the match first
    assert p.citation().location == f"big.md:{p.start_line}-{p.end_line}"


def test_context_too_small_says_why() -> None:
    with pytest.raises(ContextTooSmall, match="too small"):
        build_prompt("q", HITS, TEXTS, context_size=300, max_tokens=256, count_tokens=len)


def test_no_hits_gives_empty_passages() -> None:
    plan = build_prompt("q", [], TEXTS, context_size=4096, max_tokens=256, count_tokens=len)
    assert plan.passages == () and "Question: q" in plan.user
    assert "Not covered." in plan.system and "$not_covered" not in plan.system


def test_stable_prefix_between_questions() -> None:
    a = build_prompt("first question?", HITS, TEXTS, context_size=20_000, max_tokens=512, count_tokens=len)
    b = build_prompt("second one?", HITS, TEXTS, context_size=20_000, max_tokens=512, count_tokens=len)
    assert a.system == b.system
    assert a.user.split("Question:")[0] == b.user.split("Question:")[0]


# --- grammar -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "k", "ok"),
    [
        ("Retries are set in config [1].", 1, True),
        ("Retries [1][2]. Timeouts too [2].", 2, True),
        ("Retries [3].", 2, False),  # passage 3 was not given
        ("Retries [0].", 2, False),
        ("Retries.", 2, False),  # every sentence cites
        ("Retries [1]", 2, False),  # no period
        ("Not covered.", 2, True),
        ("Not covered.", 0, True),
        ("Retries [1].", 0, False),
        ("Ten passages [10].", 10, True),
        ("Ten passages [10].", 9, False),
        ("[1].", 2, False),  # a sentence has at least one word
        ("Bad [x] marker [1].", 2, False),
    ],
)
def test_answer_form_table(text: str, k: int, ok: bool) -> None:
    # the form of markers and sentences, under the loosest bounds (ANSWER_BOUNDS asks for 3 words)
    assert grammar.parses(text, passage_count=k, not_covered="Not covered.", bounds=grammar.GrammarBounds()) is ok


def test_specialise_lists_exactly_the_given_passages() -> None:
    template = 'root ::= x | n\nx ::= "[" passage "]"\npassage ::= {{PASSAGE_IDS}}\nn ::= {{NOT_COVERED}}\nm ::= "a"{0,{{MORE_WORDS}}} "b"{1,{{WORD_CHARS}}} {{MAX_CITES}} {{MORE_SENTENCES}}'
    out = grammar.specialise(template, passage_count=3, not_covered='Say "no".')
    assert 'passage ::= "1" | "2" | "3"\n' in out
    assert 'n ::= "Say \\"no\\"."' in out
    assert "{{" not in out
    assert grammar.specialise(template, passage_count=0, not_covered="No.") == 'root ::= "No."\n'
    with pytest.raises(grammar.GrammarTemplateError):
        grammar.specialise("root ::= {{NOPE}}", passage_count=1, not_covered="No.")


def test_complete_prefix() -> None:
    assert grammar.complete_prefix("One [1]. Two [2]. Thr") == "One [1]. Two [2]."
    assert grammar.complete_prefix("One wor") == ""


# --- citations ---------------------------------------------------------------------------------


def test_citations_map_to_passages_and_flag_doubtful_ones() -> None:
    plan = build_prompt("q", HITS, TEXTS, context_size=20_000, max_tokens=512, count_tokens=len, focus_tokens=None)
    text = "The retry timeout is set per line [1]. Bananas grow on trees [2]. Unknown [7]."
    check = citations.check_citations(text, plan.passages)
    assert [c.id for c in check.citations] == [1, 2]
    assert check.citations[0].path == "a.md" and check.citations[0].start_line == 10
    assert check.citations[0].title == "Guide > Retries"
    assert check.unknown_ids == (7,)
    assert check.unsupported == ((1, 2),)  # "Bananas grow on trees" shares nothing with b.py
    assert any("[7]" in w for w in check.warnings) and any("[2] b.py:1-5" in w for w in check.warnings)


@pytest.mark.parametrize(
    ("sentence", "passage", "supported"),
    [
        ("Retries are configured in the client.", "retry_count = 3  # client retries", True),
        ("The parseHttpResponse helper does it.", "def parse_http_response(raw):", True),
        ("Bananas are yellow.", "def parse_http_response(raw):", False),
        ("It is what it is.", "anything at all", True),  # no content words: nothing to judge
    ],
)
def test_content_word_overlap(sentence: str, passage: str, supported: bool) -> None:
    chunk = Chunk(path="x", start_line=1, end_line=1, text=passage, kind="code")
    p = prompting.PromptPassage(id=1, hit=Hit(chunk=chunk, score=1.0), start_line=1, end_line=1, text=passage)
    check = citations.check_citations(f"{sentence[:-1]} [1].", [p])
    assert (check.unsupported == ()) is supported
