"""Scoring one answer: facts, citation validity and support, repeats, unrelated sentences (pure)."""

from __future__ import annotations

import pytest

from ragls.core.types import Answer, Citation
from ragls.evaluation.answer_scoring import answer_sentences, contains_fact, score_answer

FILES = {
    "docs/a.md": ["# Leases", "The lease lasts 40 seconds.", "Renew it with the", "--lease-renew flag.", "Unrelated sentence about bananas."],
    "docs/b.md": ["Pods are scheduled by the scheduler."],
}


def read(path, root):
    return FILES.get(path)


def cite(n, path="docs/a.md", start=2, end=4):
    return Citation(id=n, path=path, start_line=start, end_line=end)


@pytest.mark.parametrize("text, fact, found", [
    ("lasts 40\n  Seconds here", "40 seconds", True),
    ("use --MAX-PODS", "--max-pods", True),
    ("40seconds", "40 seconds", False),
    ("lasts 4 seconds", "40 seconds", False),
])
def test_facts_match_case_and_whitespace_insensitively(text, fact, found):
    assert contains_fact(text, fact) is found


def test_sentences_end_at_their_markers():
    sentences = answer_sentences("A lasts. [1] B too [1][2] [3]. Tail without a source")
    assert [(s.text, s.cites) for s in sentences] == [("A lasts.", (1,)), ("B too", (1, 2, 3)), ("Tail without a source", ())]


def test_a_correct_cited_answer_scores_full_marks():
    answer = Answer("The lease lasts 40 seconds. [1] Renew it with the --lease-renew flag. [1]", (cite(1),), abstained=False)
    score = score_answer("How long does a lease last and how is it renewed?", answer, facts=["40 seconds", "--lease-renew"], gold_paths=["docs/a.md"], read_lines=read)
    assert (score.facts_found, score.exact, score.gold_cited) == (2, True, True)
    assert (score.citations_valid, score.sentences_supported, score.sentences_repeated, score.sentences_unrelated) == (1, 2, 0, 0)
    assert score.problems == ()


def test_invalid_citations_are_counted_and_named():
    answer = Answer(
        "The lease lasts 40 seconds. [1] Pods are scheduled. [2] Something else. [3]",
        (cite(1, start=2, end=99), cite(2, path="docs/gone.md", start=1, end=1)),
        abstained=False,
    )
    score = score_answer("How long is a lease?", answer, facts=["40 seconds"], read_lines=read)
    assert score.citations == 2 and score.citations_valid == 0
    assert any("outside the file" in p for p in score.problems)
    assert any("no such file" in p for p in score.problems)
    assert any("[3] marker without a citation" in p for p in score.problems)
    assert score.sentences_supported == 0


def test_a_sentence_citing_a_passage_that_lacks_its_fact_is_unsupported():
    answer = Answer("The lease lasts 40 seconds. [1]", (cite(1, path="docs/b.md", start=1, end=1),), abstained=False)
    score = score_answer("How long is a lease?", answer, facts=["40 seconds"], read_lines=read)
    assert score.facts_found == 1 and score.sentences_supported == 0
    assert not score.gold_cited


def test_repeated_and_unrelated_sentences_are_counted():
    answer = Answer(
        "The lease lasts 40 seconds. [1] The lease  lasts 40 seconds. [1] Unrelated sentence about bananas. [2]",
        (cite(1), cite(2, start=5, end=5)),
        abstained=False,
    )
    score = score_answer("How long is a lease valid?", answer, facts=["40 seconds"], read_lines=read)
    assert score.sentences == 3 and score.sentences_repeated == 1 and score.sentences_unrelated == 1


def test_an_abstention_finds_no_facts_even_if_the_text_has_them():
    answer = Answer("40 seconds", (), abstained=True)
    score = score_answer("How long?", answer, facts=["40 seconds"], read_lines=read)
    assert (score.answered, score.facts_found, score.exact, score.sentences, score.words) == (False, 0, False, 0, 0)
