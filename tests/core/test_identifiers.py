"""Identifier splitting: every spelling of a name meets on the same sub-words."""

from __future__ import annotations

import pytest

from ragls.core.identifiers import identifiers_in, is_compound, split_identifier, subword_tokens


@pytest.mark.parametrize("name, words", [
    ("HTTPResponse", ["http", "response"]),
    ("http_response", ["http", "response"]),
    ("httpResponse", ["http", "response"]),
    ("HttpResponse", ["http", "response"]),
    ("HTTP_RESPONSE", ["http", "response"]),
    ("parseHTTPResponse2", ["parse", "http", "response", "2"]),
    ("v2Api", ["v", "2", "api"]),
    ("__init__", ["init"]),
    ("retry-policy", ["retry", "policy"]),
    ("x", ["x"]),
    ("", []),
    ("größeWert", ["größewert"]),  # non-ASCII: kept whole
])
def test_split_identifier(name, words):
    assert split_identifier(name) == words


@pytest.mark.parametrize("name, compound", [("httpResponse", True), ("retry", False), ("MAX_SIZE", True), ("A", False)])
def test_is_compound(name, compound):
    assert is_compound(name) is compound


def test_subword_tokens_and_identifiers_in_text():
    text = "Call session.retry_policy with maxRetries=3"
    assert subword_tokens(text) == ["call", "session", "retry", "policy", "with", "max", "retries", "3"]
    assert identifiers_in(text) == ["Call", "session.retry_policy", "with", "maxRetries"]
