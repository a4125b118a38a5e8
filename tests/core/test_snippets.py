"""Snippets and line matching: which words count as query terms (pure functions)."""

from ragls.core.snippets import snippet_and_lines, term_matcher


def test_prefix_match_is_case_insensitive_and_tolerates_suffixes():
    matches = term_matcher(["Policies", "pod"])  # prefixes "polici" (length - 2) and "pod" (short: whole)
    assert matches("policies") and matches("POLICIES") and matches("Policied") and matches("Pods")
    assert not matches("policy") and not matches("spod") and not matches("deployment")


def test_short_terms_must_match_from_the_start_and_metacharacters_are_literal():
    matches = term_matcher(["c++", "a.b", "(x"])
    assert matches("a.bc") and matches("C++x") and matches("(x")  # escaped: literal characters
    assert not matches("axb") and not matches("cc")
    assert not term_matcher(["x|y"])("y")


def test_no_terms_match_nothing():
    assert not term_matcher([])("anything")
    assert not term_matcher(["", ""])("anything")


def test_matched_lines_and_highlight():
    text = "alpha\nthe retry policy\nbeta\nPolicies apply"
    assert snippet_and_lines(text, 10, term_matcher(["retries", "policy"]))[1] == (11, 13)
    assert snippet_and_lines("the retry policy", 1, term_matcher(["policy"])) == ("the retry **policy**", (1,))
    snippet, _ = snippet_and_lines(text, 1, term_matcher(["retry"]), max_lines=2)
    assert snippet == "alpha\nthe **retry** policy"  # the densest 2-line window


def test_long_line_with_many_terms():
    terms = [f"term{i}xyz" for i in range(40)]
    line = " ".join(["word", "term7xyzzy", "other"] * 2000)
    snippet, lines = snippet_and_lines(line, 1, term_matcher(terms), width=len(line))
    assert lines == (1,)
    assert snippet.count("**term7xyzzy**") == 2000
