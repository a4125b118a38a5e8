"""The grounded guard (core/grounding.py): unsupported model sentences never reach the user."""

from __future__ import annotations

from ragls.core import grounding
from ragls.core.prompting import PromptPassage
from ragls.core.types import Chunk, Hit

NOT_COVERED = "The workspace does not cover this question."

LEASE = (
    "The kubelet renews its Lease object every 10 seconds.\n"
    "Leader election uses a lease duration of 15s, set by `--leader-elect-lease-duration`."
)
UPLOADS = "Uploads are retried three times with exponential backoff before the job fails."


def passage(n: int, text: str, path: str = "docs/a.md", heading: tuple[str, ...] = ("Leases",)) -> PromptPassage:
    lines = text.split("\n")
    chunk = Chunk(path, 1, len(lines), text, "markdown", "", heading, (), "")
    return PromptPassage(id=n, hit=Hit(chunk, score=1.0), start_line=1, end_line=len(lines), text=text)


PASSAGES = [passage(1, LEASE), passage(2, UPLOADS, "docs/b.md", ("Uploads",))]


def test_a_sentence_its_passage_supports_is_kept():
    text = "The kubelet renews its Lease every 10 seconds [1]."
    grounded = grounding.ground(text, PASSAGES, not_covered=NOT_COVERED)
    assert grounded.sentences == (text,)
    assert grounded.removed == ()
    assert grounded.warning() is None


def test_a_wrong_number_is_removed_even_when_the_words_match():
    # The failure seen with SmolLM2: "2s" for a lease the page gives as 15s.
    text = "The leader election lease duration is 2s [1]. Uploads are retried three times [2]."
    grounded = grounding.ground(text, PASSAGES, not_covered=NOT_COVERED)
    assert grounded.sentences == ("Uploads are retried three times [2].",)
    assert len(grounded.removed) == 1
    assert "2" in grounded.removed[0].reason
    assert "removed 1 model sentence " in grounded.warning()


def test_a_number_is_not_found_inside_a_longer_number():
    grounded = grounding.ground("The kubelet renews its Lease every 1 seconds [1].", PASSAGES, not_covered=NOT_COVERED)
    assert grounded.sentences == ()  # "1" is only part of "10"


def test_a_sentence_citing_the_wrong_passage_is_removed():
    text = "Uploads are retried three times with exponential backoff [1]."
    grounded = grounding.ground(text, PASSAGES, not_covered=NOT_COVERED)
    assert grounded.sentences == ()
    assert "content words" in grounded.removed[0].reason


def test_a_flag_must_occur_in_the_passage():
    ok = "Set the lease duration with `--leader-elect-lease-duration` [1]."
    bad = "Set the lease duration with `--lease-time` [1]."
    assert grounding.ground(ok, PASSAGES, not_covered=NOT_COVERED).sentences == (ok,)
    assert grounding.ground(bad, PASSAGES, not_covered=NOT_COVERED).sentences == ()


def test_support_may_come_from_any_passage_the_sentence_cites():
    text = "The kubelet renews its Lease every 10 seconds and uploads are retried three times [1][2]."
    assert grounding.ground(text, PASSAGES, not_covered=NOT_COVERED).sentences == (text,)


def test_a_marker_naming_no_given_passage_supports_nothing():
    grounded = grounding.ground("Uploads are retried three times [7].", PASSAGES, not_covered=NOT_COVERED)
    assert grounded.sentences == ()
    assert grounded.removed[0].reason == "cites no passage"


def test_the_header_marker_and_lines_are_not_a_source_of_facts():
    # "2" is the passage's [n] marker and its last line number (in the citation), not a fact it states.
    grounded = grounding.ground("Uploads fail after 2 retries [2].", PASSAGES, not_covered=NOT_COVERED)
    assert grounded.sentences == ()



def test_support_counts_the_innermost_heading_the_model_was_shown_not_the_outer_ones():
    deep = passage(1, "The default is 10800 seconds.", heading=("Virtual IPs", "Session affinity", "Stickiness timeout"))
    # "stickiness" and "timeout" come from the header the model read
    assert grounding.ground("The stickiness timeout default is 10800 seconds [1].", [deep], not_covered=NOT_COVERED).sentences
    # "virtual", "ips", "session" and "affinity" only from the outer headings, which the prompt left out
    grounded = grounding.ground("Virtual IPs session affinity defaults to 10800 seconds [1].", [deep], not_covered=NOT_COVERED)
    assert grounded.sentences == ()
    assert "content words" in grounded.removed[0].reason


def test_the_not_covered_sentence_among_claims_is_dropped_not_counted():
    text = f"Uploads are retried three times [2]. {NOT_COVERED[:-1]} [1]."
    grounded = grounding.ground(text, PASSAGES, not_covered=NOT_COVERED)
    assert grounded.sentences == ("Uploads are retried three times [2].",)
    assert grounded.removed == ()


def _stream(chunks: list[str], final_text: str | None = None):
    shown: list[str] = []
    gate = grounding.GroundedStream(PASSAGES, not_covered=NOT_COVERED, emit=shown.append)
    for chunk in chunks:
        gate.feed(chunk)
    raw = "".join(chunks)
    final = grounding.ground(final_text if final_text is not None else raw, PASSAGES, not_covered=NOT_COVERED)
    kept = gate.finish(final.sentences)
    return shown, kept


def tokens(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_streaming_releases_only_checked_sentences_and_ends_as_the_final_answer():
    good = "The kubelet renews its Lease every 10 seconds [1]."
    bad = "The lease lasts 2s [1]."
    good2 = "Uploads are retried three times [2]."
    shown, kept = _stream(tokens(f"{good} {bad} {good2}"))
    assert "".join(shown) == f"{good} {good2}"
    assert kept == (good, good2)
    assert not any("2s" in piece for piece in shown)


def test_streaming_holds_an_incomplete_sentence_back():
    shown: list[str] = []
    gate = grounding.GroundedStream(PASSAGES, not_covered=NOT_COVERED, emit=shown.append)
    for chunk in tokens("Uploads are retried three times [2"):
        gate.feed(chunk)
    assert shown == []
    gate.feed("].")
    assert shown == ["Uploads are retried three times [2]."]


def test_streaming_never_shows_a_repeat():
    good = "Uploads are retried three times [2]."
    shown, kept = _stream(tokens(f"{good} {good} {good}"), final_text=good)
    assert shown == [good]
    assert kept == (good,)


def test_a_released_sentence_is_never_taken_back():
    good = "Uploads are retried three times [2]."
    shown: list[str] = []
    gate = grounding.GroundedStream(PASSAGES, not_covered=NOT_COVERED, emit=shown.append)
    gate.feed(good)
    # The final answer disagrees (e.g. cut differently): the shown sentence stays, nothing is added.
    assert gate.finish(("The kubelet renews its Lease every 10 seconds [1].",)) == (good,)
    assert shown == [good]


def test_a_sentence_that_only_restates_the_question_is_removed():
    # SmolLM2's echo: every word is in the passage, because retrieval found the question's words there.
    question = "How often does the kubelet renew its Lease?"
    echo = "Question: How often does the kubelet renew its Lease [1]."
    answer = "The kubelet renews its Lease every 10 seconds [1]."
    grounded = grounding.ground(f"{echo} {answer}", PASSAGES, not_covered=NOT_COVERED, question=question)
    assert grounded.sentences == (answer,)
    assert grounded.removed[0].reason == "only restates the question"
    # without the question, the echo reads as supported: the rule needs it
    assert grounding.ground(echo, PASSAGES, not_covered=NOT_COVERED).sentences == (echo,)


def test_a_sentence_that_says_nothing_is_removed():
    grounded = grounding.ground("This is a [2].", PASSAGES, not_covered=NOT_COVERED)
    assert grounded.sentences == () and grounded.removed[0].reason == "says nothing"


def test_the_stream_applies_the_question_rule_too():
    shown: list[str] = []
    question = "How many times are uploads retried?"
    gate = grounding.GroundedStream(PASSAGES, not_covered=NOT_COVERED, emit=shown.append, question=question)
    for chunk in tokens("How many times are uploads retried [2]. Uploads are retried three times [2]."):
        gate.feed(chunk)
    assert shown == ["Uploads are retried three times [2]."]
