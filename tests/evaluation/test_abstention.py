"""Abstention does not depend on the workspace's size (issue 18): a real index on disk each time."""

from __future__ import annotations

import pytest

from ragls.index.workspace_index import WorkspaceIndex
from ragls.settings import IndexSettings

README = """# Storage client

## Installation

Install the client with pip and point it at your bucket.

## Upload retries

Failed uploads are retried up to three attempts, waiting twice as long before each one.
A retry starts again from the last confirmed part, so large files do not start over.

## Downloads

Downloads stream to disk and verify their checksum at the end.
"""

FILLER = {
    "docs/colours.md": "# Theme\n\nThe theme uses dark blue headings and a grey sidebar on every page.\n",
    "docs/release.md": "# Releases\n\nWe publish a release every month and keep a changelog of every change.\n",
}


def _index(tmp_path, files):
    root = tmp_path / "ws"
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    index = WorkspaceIndex(root, IndexSettings(), index_path=tmp_path / "index")
    index.sync()
    return index


@pytest.mark.parametrize("extra", [{}, FILLER], ids=["one file", "three files"])
def test_a_covered_question_is_answered_and_an_unrelated_one_declined_at_any_size(tmp_path, extra):
    # The question's own words ("many", "times") are not in the file: in a one-file workspace plain
    # idf gave those absent words most of the weight and declined (issue 18: 0.384 alone, 0.539 among 3 files).
    index = _index(tmp_path, {"README.md": README, **extra})
    try:
        answered = index.search("How many times are uploads retried?")
        assert answered.covered, answered.confidence
        assert answered.hits[0].chunk.heading[-1] == "Upload retries"
        for question in ("What is a good recipe for sourdough bread?", "How do I configure Terraform state locking?"):
            declined = index.search(question)
            assert not declined.covered, (question, declined.confidence)
    finally:
        index.close()


def _services(topics: int) -> dict[str, str]:
    """A session-stickiness page, a page that mentions OpenShift, one about cord-blood grafts, and
    ``topics`` filler pages that use the questions' common words (route, annotation, enables...)."""
    files = {
        "docs/affinity.md": (
            "# Session affinity\n\n## Session stickiness\n\n"
            "An annotation on the route enables sticky sessions: set sessionAffinity to ClientIP to send\n"
            "every request of one client to the same backend.\n"
        ),
        "docs/platforms.md": "# Platforms\n\nSome teams run the proxy on OpenShift; the install guide covers the operator there.\n",
        "docs/blood.md": "# Grafts\n\nUmbilical cord blood grafts restore the immune repertoire within a year.\n",
    }
    for n in range(topics):
        files[f"docs/topics/t{n}.md"] = f"# Topic {n}\n\nThe route annotation of widget {n} enables sessions for gadget {n}.\n"
    return files


def test_a_rare_name_that_the_best_passage_does_not_mention_declines(tmp_path):
    # A large workspace (the weight of a rare name reaches the default 5.0 from ~1,600 chunks on), where
    # "OpenShift" is rare and not on the page about sticky sessions: a question about OpenShift's
    # sticky sessions is about something the workspace does not cover, though that page has its
    # other words. With the rule off (absent_name_min_weight 0) the session page "covered" it.
    import dataclasses

    index = _index(tmp_path, _services(2000))
    question = "Which OpenShift route annotation enables sticky sessions?"
    try:
        declined = index.search(question)
        assert not declined.covered, declined.confidence
        assert index.search("Which route annotation enables sticky sessions?").covered
        assert index.search("Which route annotation enables sticky sessions for ClientIP?").covered
        # An acronym the passage spells out is mentioned: UCB is "umbilical cord blood".
        answered = index.search("How soon do UCB grafts restore the immune repertoire?")
        assert answered.covered, answered.confidence
        assert answered.hits[0].chunk.path == "docs/blood.md"
        index.retriever.params = dataclasses.replace(index.retriever.params, absent_name_min_weight=0.0)
        assert index.search(question).covered, "without the rule the session page covers it"
    finally:
        index.close()


def test_a_light_verb_of_the_question_counts_half_in_its_coverage(tmp_path):
    # "how much JSON does a Pod *take* up", "how do I *make* …": the verb carries the question's grammar.
    # Absent from the passage, it must not weigh like an absent topic word.
    index = _index(tmp_path, {"README.md": README})
    try:
        light = index.search("Where do failed uploads get their retry from?")
        topical = index.search("Where do failed uploads borrow their retry from?")
        assert light.hits[0].chunk.heading[-1] == topical.hits[0].chunk.heading[-1] == "Upload retries"
        assert light.confidence > topical.confidence
    finally:
        index.close()


def test_a_synonym_in_the_passage_covers_the_questions_word(tmp_path):
    # "the manifests folder" asked of a page that says "the manifests directory"
    page = (
        "# Static manifests\n\n"
        "The agent watches the manifests directory and starts every manifest it finds there.\n"
        "A manifest moved out of the directory is stopped within twenty seconds.\n"
    )
    index = _index(tmp_path, {"docs/static.md": page, **FILLER})
    try:
        asked = index.search("After I move a manifest out of the manifests folder, when is it stopped?")
        assert asked.covered, asked.confidence
        assert asked.hits[0].chunk.path == "docs/static.md"
        # the same question with a word of no synonym group and absent from the page covers less
        other = index.search("After I move a manifest out of the manifests bucket, when is it stopped?")
        assert asked.confidence > other.confidence
    finally:
        index.close()
