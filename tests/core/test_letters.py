from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ragls.core.letters import fold_letters
from ragls.core.query import analyze_query
from ragls.core.snippets import term_matcher


@pytest.mark.parametrize(
    "text, folded",
    [
        ("IFN-γ", "IFN-gamma"),
        ("TNFα and TGF-β1", "TNFalpha and TGF-beta1"),
        ("αvβ8 integrin", "alphavbeta8 integrin"),
        ("γδ T cells", "gammadelta T cells"),
        ("Δ of 5 µm (U+00B5) and 5 μm (U+03BC)", "delta of 5 mum (U+00B5) and 5 mum (U+03BC)"),
        ("ΩMEGA", "omegaMEGA"),
        ("λόγος ή λέξη", "λόγος ή λέξη"),  # Greek words (runs of 4+ letters) stay; a lone ή is not in the table
        ("καλημέρα σας", "καλημέρα sigmaalphasigma"),
        ("plain ascii", "plain ascii"),
        ("", ""),
    ],
)
def test_fold_letters(text, folded):
    assert fold_letters(text) == folded


def test_nothing_to_fold_returns_the_same_object():
    text = "naïve café — no Greek here"
    assert fold_letters(text) is text


@given(st.text())
def test_folding_keeps_lines_and_whitespace(text):
    folded = fold_letters(text)
    assert len(folded.splitlines()) == len(text.splitlines())
    assert [c for c in folded if c.isspace()] == [c for c in text if c.isspace()]
    assert fold_letters(folded) == folded  # idempotent: a query folded twice is the same query


def test_query_words_are_folded_like_the_index():
    parts = analyze_query("Do mice without IFN-γ resist EAM?")
    assert "gamma" in parts.words and "γ" not in parts.words
    assert parts.text == "Do mice without IFN-γ resist EAM?"


def test_spelled_out_letters_match_whole_words_in_shown_passages():
    parts = analyze_query("What is π in the µs pipeline?")
    assert parts.spelled_out == {"pi", "mus"}
    matches = term_matcher([*parts.words, *parts.subwords], whole=parts.spelled_out)
    assert [w for w in ("π", "pi", "µs", "μs", "pipeline", "pick", "must", "pipelines") if matches(w)] == [
        "π", "pi", "µs", "μs", "pipeline", "pipelines",
    ]
    assert analyze_query("plain words").spelled_out == frozenset()
