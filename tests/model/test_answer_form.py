"""The pure parts of answer form: loop detection, cutting back, dropping the "not covered" sentence,
sentence bounds of the grammars, and the focused passages of the prompt."""

from __future__ import annotations

import pytest

from ragls.core import grammar, loops, prompting
from ragls.core.types import Chunk, Hit
from ragls.model.resources import load_mode

NOT_COVERED = load_mode("answer").texts.not_covered


def test_a_repeated_sentence_is_found_at_its_second_start_and_cut_back() -> None:
    text = "Leases renew every 10 seconds [1]. The kubelet owns them [2]. Leases renew every 10 seconds [2]. More"
    start = loops.repetition_start(text)
    assert text[start:].startswith("Leases renew every 10 seconds [2].")
    kept, found = loops.cut_repetition(text)
    assert found and kept == "Leases renew every 10 seconds [1]. The kubelet owns them [2]."


def test_sentences_compare_normalised_markers_case_and_punctuation_ignored() -> None:
    text = "Pods run containers [1]. pods, run containers! [2][3]."
    assert loops.cut_repetition(text) == ("Pods run containers [1].", True)


def test_a_repeated_8_gram_inside_one_running_sentence_is_found() -> None:
    looping = "It provides the infrastructure, 100% of the time. " * 3
    text = "The provider manages infrastructure [1]. " + looping
    kept, found = loops.cut_repetition(text)
    assert found and kept == "The provider manages infrastructure [1]."
    # the first occurrence is not yet a repeat: the loop starts at the second one
    start = loops.repetition_start(text)
    assert text[:start].count("It provides the infrastructure") == 1


def test_seven_shared_words_are_not_a_loop_but_eight_are() -> None:
    seven = "one two three four five six seven"
    assert loops.repetition_start(f"{seven} alpha [1]. {seven} beta [2].") is None
    assert loops.repetition_start(f"{seven} eight alpha [1]. {seven} eight beta [2].") is not None


def test_text_without_repetition_is_kept_whole() -> None:
    text = "The kubelet renews its lease every 10 seconds [1]. The lease lasts 40 seconds [2]."
    assert loops.cut_repetition(text) == (text, False)
    assert loops.cut_repetition("") == ("", False)


def test_a_loop_inside_the_first_sentence_leaves_nothing() -> None:
    text = "a b c d e f g h a b c d e f g h a b"
    assert loops.cut_repetition(text) == ("", True)


def test_loop_watch_stops_at_the_first_repeat_when_fed_token_by_token() -> None:
    text = "Leases renew often [1]. The kubelet owns them [2]. Leases renew often [1]. The kubelet owns them [2]."
    watch = loops.LoopWatch()
    fed = ""
    stopped_at = None
    for i in range(0, len(text), 3):  # deltas of 3 characters, like sub-word tokens
        fed += text[i : i + 3]
        if watch.feed(text[i : i + 3]):
            stopped_at = len(fed)
            break
    assert stopped_at is not None
    # it stops right when the repeated sentence is complete, not later
    assert fed.rstrip().endswith("Leases renew often [1].") and fed.count("Leases renew often") == 2


def test_loop_watch_ignores_a_word_that_is_still_growing() -> None:
    watch = loops.LoopWatch(ngram=2)
    assert not watch.feed("pod runs [1]. pod ru")
    assert not watch.feed("les")  # "pod rules" is not "pod runs"
    assert not watch.feed(" pod runs")  # "runs" may still grow into "runsc"
    assert watch.feed(" ")


def test_the_not_covered_sentence_written_with_citations_is_dropped() -> None:
    alone = f"{NOT_COVERED[:-1]} [1]."
    assert loops.drop_sentence(alone, NOT_COVERED) == ("", True)
    mixed = f"Leases renew every 10 seconds [1]. {NOT_COVERED[:-1]} [2]."
    assert loops.drop_sentence(mixed, NOT_COVERED) == ("Leases renew every 10 seconds [1].", True)
    plain = "Leases renew every 10 seconds [1]."
    assert loops.drop_sentence(plain, NOT_COVERED) == (plain, False)
    between = f"Leases renew often [1]. {NOT_COVERED[:-1]} [2]. The kubelet owns them [2]."
    assert loops.drop_sentence(between, NOT_COVERED) == ("Leases renew often [1]. The kubelet owns them [2].", True)


@pytest.mark.parametrize(("bounds", "limit"), [(grammar.ANSWER_BOUNDS, 5), (grammar.HOVER_BOUNDS, 2)])
def test_grammar_bounds_keep_answers_within_their_sentence_limits(bounds: grammar.GrammarBounds, limit: int) -> None:
    assert bounds.max_sentences <= limit
    sentence = "Leases renew often [1]."
    sep = bounds.separators[0]
    most = sep.join([sentence] * bounds.max_sentences)
    assert grammar.parses(most, passage_count=1, not_covered=NOT_COVERED, bounds=bounds)
    assert not grammar.parses(most + sep + sentence, passage_count=1, not_covered=NOT_COVERED, bounds=bounds)


def _hit(text: str, *, start: int = 1, path: str = "docs/leases.md", heading: tuple[str, ...] = ("Leases",)) -> Hit:
    n = text.count("\n") + 1
    return Hit(chunk=Chunk(path=path, start_line=start, end_line=start + n - 1, text=text, kind="markdown", heading=heading), score=1.0)


def _count(text: str) -> int:
    return len(text.split()) + text.count("\n")


def test_focus_shows_the_lines_that_address_the_question_and_cites_exactly_them() -> None:
    filler = [f"Unrelated remark number {n} about scheduling and quotas." for n in range(30)]
    lines = [*filler[:12], "The kubelet renews its node lease every 10 seconds.", *filler[12:]]
    hit = _hit("\n".join(lines), start=100)
    focused = prompting.focus_window(hit, "How often does the kubelet renew its lease?", 60, _count, passage_id=1)
    assert focused is not None and focused.covered == 3
    passage = focused.passage
    # from the sentence that answers, then the lines after it while they fit
    assert passage.text.splitlines()[0] == "The kubelet renews its node lease every 10 seconds."
    assert passage.start_line == 112
    assert passage.text.splitlines() == lines[passage.start_line - 100 : passage.end_line - 100 + 1]
    assert _count(passage.header + "\n") + _count(passage.text + "\n") <= 60


@pytest.mark.parametrize("rule", prompting.FOCUS_RULES)
def test_focus_widens_to_whole_sentences_wrapped_over_lines(rule: str) -> None:
    text = "Intro line one.\nThe kubelet sends heartbeats\nby renewing its lease object\nevery ten seconds.\nOther text here."
    hit = _hit(text, start=1)
    # room for the wrapped sentence and nothing else: header 3 ("[1] Leases" and its newline) and 15
    focused = prompting.focus_window(hit, "kubelet lease", 18, _count, passage_id=1, rule=rule)
    assert focused is not None
    assert focused.passage.text.splitlines() == ["The kubelet sends heartbeats", "by renewing its lease object", "every ten seconds."]
    assert (focused.passage.start_line, focused.passage.end_line) == (2, 4)


def test_focus_excerpts_a_long_line_to_its_matching_sentences_and_drops_markup() -> None:
    noise = " ".join(f"Sentence {n} talks about quotas." for n in range(40))
    line = f"{noise} The kubelet renews its [lease](/docs/leases/) often. {noise}"
    hit = _hit(f"# Title\n{line}", start=5)
    focused = prompting.focus_window(hit, "kubelet lease renew", 40, _count, passage_id=2)
    assert focused is not None
    assert focused.passage.text == "The kubelet renews its lease often."
    assert (focused.passage.start_line, focused.passage.end_line) == (6, 6)


def test_build_prompt_focuses_caps_passages_and_leaves_out_hits_that_say_nothing_of_it() -> None:
    texts = load_mode("answer").texts
    relevant = [_hit(f"Filler {n}.\nThe kubelet renews its lease.\nMore filler {n}.", path=f"docs/a{n}.md") for n in range(4)]
    unrelated = _hit("Quotas limit namespaces.", path="docs/quota.md")
    plan = prompting.build_prompt(
        "How does the kubelet renew its lease?", [relevant[0], unrelated, *relevant[1:]], texts,
        context_size=4096, max_tokens=256, count_tokens=_count, focus_tokens=prompting.FOCUS_TOKENS,
    )
    assert [p.hit.chunk.path for p in plan.passages] == ["docs/a0.md", "docs/a1.md", "docs/a2.md"][: prompting.FOCUS_PASSAGES]
    for p in plan.passages:
        assert "The kubelet renews its lease." in p.text
        assert p.text.splitlines() == p.hit.chunk.text.splitlines()[p.start_line - 1 : p.end_line]


def test_hits_left_out_by_focus_are_not_reported_as_dropped_for_room() -> None:
    texts = load_mode("answer").texts
    hits = [_hit(f"The kubelet renews its lease, copy {n}.", path=f"docs/a{n}.md") for n in range(prompting.FOCUS_PASSAGES + 2)]
    plan = prompting.build_prompt(
        "kubelet lease", hits, texts, context_size=4096, max_tokens=256, count_tokens=_count, focus_tokens=prompting.FOCUS_TOKENS
    )
    assert len(plan.passages) == prompting.FOCUS_PASSAGES and plan.dropped == 0


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Leases renew every ten seconds [1].", True),
        ("Leases renew. Every ten seconds [1].", False),  # a sentence without its own citation
        ("Leases renew every ten seconds! [1].", False),
        ("See kubernetes.io for details [1].", True),  # a period inside a word is no sentence end
        ("Leases renew [1].", False),  # fewer than three words
        ("The [1].", False),
        ("The answer is: [1].", False),  # nothing said before the citation
        ("It renews them, [1].", False),
        ("It uses port 8080: 10 [1].", True),
    ],
)
def test_answer_grammar_cites_every_sentence_of_three_words_or_more(text: str, ok: bool) -> None:
    assert grammar.parses(text, passage_count=2, not_covered=NOT_COVERED) is ok


def test_the_specialised_grammars_compile_in_llama_cpp() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    for mode in ("answer", "hover"):
        resources = load_mode(mode)
        gbnf = grammar.specialise(resources.grammar_template, passage_count=3, not_covered=NOT_COVERED, bounds=resources.bounds)
        assert llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False) is not None


def test_repeated_markers_in_one_run_are_tidied() -> None:
    assert grammar.tidy_markers("A b c [1][2][1]. D e f [3][3].") == "A b c [1][2]. D e f [3]."
    assert grammar.tidy_markers("called `metrics.json`. [1][2]. Next one here [1].") == "called `metrics.json` [1][2]. Next one here [1]."


class _Citer:
    """CiteAtSentenceEnd.due on its own (no vocabulary scan)."""

    def __init__(self, text: str, prompt: str = "") -> None:
        from ragls.model.llama_backend import CiteAtSentenceEnd

        self.citer = object.__new__(CiteAtSentenceEnd)
        self.citer.min_words = 3
        self.citer.text = text
        self.citer.prompt = prompt


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("The kubelet renews its lease", True),
        ("The kubelet", False),  # too few words for a sentence
        ("It renews it [1]. Then", False),  # a new sentence, one word so far
        ("It renews it [1]. Then it stops", True),
        ("It renews it [1", False),  # inside a marker
        ("It renews it [1]", False),  # after a marker the grammar wants its period
        ("Set the field `spec.type", False),  # inside backticks a period belongs to a name
        ("Set the field `spec.type` here", True),
    ],
)
def test_a_sentence_end_becomes_a_citation_only_where_a_sentence_can_end(text: str, due: bool) -> None:
    pytest.importorskip("llama_cpp")
    assert _Citer(text).citer.due() is due


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("It became stable in Kubernetes v1", False),  # v1.33 in the passage: the period is inside the word
        ("The default ratio is 1", False),  # 1.5
        ("The label lives under kubectl", False),  # kubectl.kubernetes.io/default-container
        ("It became stable in Kubernetes v1.33", True),  # the word is complete: the sentence may end
        ("The kubelet renews its lease", True),  # nothing in the passage continues "lease."
        ("It became stable in Kubernetes v1 ", True),  # after a space a period is no part of the word
    ],
)
def test_no_citation_where_the_passages_continue_the_word_with_a_period(text: str, due: bool) -> None:
    pytest.importorskip("llama_cpp")
    prompt = "[1] docs/a.md:1-3\nStable since Kubernetes v1.33. The ratio is 1.5 by default.\nSee kubectl.kubernetes.io/default-container and the lease. Done."
    assert _Citer(text, prompt).citer.due() is due


class _FakeBackend:
    source = "model:fake.gguf"
    enforces_grammar = True


def _finish(text: str, finish_reason: str):
    from ragls.model.host import ModelHost
    from ragls.settings import ModelSettings

    resources = load_mode("answer")
    hits = [_hit("Leases renew every 10 seconds.\nThe kubelet owns them.", path=f"docs/l{n}.md") for n in range(2)]
    plan = prompting.build_prompt(
        "leases renew kubelet", hits, resources.texts, context_size=4096, max_tokens=256, count_tokens=_count,
        focus_tokens=prompting.FOCUS_TOKENS,
    )
    return ModelHost(ModelSettings())._finish(text, finish_reason, plan, resources, _FakeBackend(), [])


def test_finish_cuts_a_loop_back_and_says_so() -> None:
    answer = _finish("Leases renew every 10 seconds [1]. The kubelet owns them [2]. Leases renew every 10 seconds [1]. The", "loop")
    assert answer.text == "Leases renew every 10 seconds [1]. The kubelet owns them [2]."
    assert [c.id for c in answer.citations] == [1, 2]
    assert any("repeating itself" in w for w in answer.warnings)


def test_finish_cuts_a_loop_from_a_backend_that_did_not_stop() -> None:
    answer = _finish("Leases renew every 10 seconds [1]. Leases renew every 10 seconds [1].", "stop")
    assert answer.text == "Leases renew every 10 seconds [1]." and any("repeating itself" in w for w in answer.warnings)


def test_finish_always_says_when_max_tokens_stopped_it() -> None:
    complete = _finish("Leases renew every 10 seconds [1].", "length")
    cut = _finish("Leases renew every 10 seconds [1]. The kubelet", "length")
    assert complete.text == cut.text == "Leases renew every 10 seconds [1]."
    assert all(any("maxTokens" in w for w in a.warnings) for a in (complete, cut))
    assert not any("maxTokens" in w for w in _finish("Leases renew every 10 seconds [1].", "stop").warnings)


def test_finish_an_abstention_written_with_a_citation_cites_nothing() -> None:
    answer = _finish(f"{NOT_COVERED[:-1]} [1].", "stop")
    assert answer.abstained and answer.text == NOT_COVERED and answer.citations == ()
    mixed = _finish(f"Leases renew every 10 seconds [1][1]. {NOT_COVERED[:-1]} [2].", "stop")
    assert not mixed.abstained and mixed.text == "Leases renew every 10 seconds [1]." and [c.id for c in mixed.citations] == [1]


def test_finish_a_cancel_is_always_said() -> None:
    assert any("cancel" in w for w in _finish("Leases renew every 10 seconds [1].", "cancelled").warnings)
    assert any("cancel" in w for w in _finish("Leases renew every", "cancelled").warnings)


def test_finish_a_loop_before_any_complete_sentence_leaves_an_empty_answer_that_says_why() -> None:
    answer = _finish("a b c d e f g h a b c d e f g h a b", "loop")
    assert answer.text == "" and answer.citations == () and not answer.abstained
    assert any("repeating itself" in w for w in answer.warnings)
