"""Query analysis (core/query.py): what of a question retrieval searches for."""

from __future__ import annotations

from ragls.core.query import analyze_query


def test_contractions_are_not_content_words():
    # "don't" matched the heading "Don't overwrite array values" ahead of the page about targetPort.
    words = analyze_query("If I don't set targetPort on a Service, what value doesn’t it get?").words
    assert "don't" not in words and "doesn't" not in words
    assert "targetport" in words and "value" in words


def test_hedging_adverbs_are_not_content_words():
    # "Besides the feature gate, what must I pass …" was declined: "besides" is rare in any docs, so
    # a passage without it looked off topic.
    words = analyze_query("Besides the retry limit, roughly what must I actually pass to the uploader?").words
    assert not {"besides", "roughly", "actually"} & set(words)
    assert {"retry", "limit", "pass", "uploader"} <= set(words)


def test_synonyms_of_a_word_and_of_its_plural():
    from ragls.core.query import synonyms_of

    assert "directory" in synonyms_of("folder") and "folder" in synonyms_of("directories")
    assert "directory" in synonyms_of("Folders")
    assert synonyms_of("pod") == ()
