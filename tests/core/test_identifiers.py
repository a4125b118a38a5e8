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


# --- camelCase words: the C speed-up and its Python twin -----------------------------------------

import importlib  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ragls.core import identifiers  # noqa: E402

# Case changes, digits, separators, non-ASCII letters of every string width (Latin-1, BMP, astral):
# the C code reads each string kind separately.
_CAMEL_TEXT = st.text(alphabet=st.sampled_from(list("aZbYz09_ .-\n") + ["é", "Ω", "γ", "ẞ", "😀"]), max_size=60)


def test_the_c_speedups_are_built():
    """setup.sh installs with a C compiler: a missing extension here means the install fell back to
    the (tested, slower) Python twins without anyone noticing."""
    native = importlib.import_module("ragls._speedups")
    assert identifiers.camel_words is native.camel_words
    assert identifiers.NATIVE_SPEEDUPS


@pytest.mark.parametrize(
    "text, words",
    [
        ("parse HTTPResponse, fooBar and Foo.BarBaz", ["HTTPResponse", "fooBar", "BarBaz"]),
        ("FOO Foo F1 A1B 2fooBar 2FooBar x1Y ABc AB1c snake_case", ["x1Y", "ABc", "AB1c"]),
        ("éfooBar fooBaré foo_barBaz", ["fooBar", "fooBar", "barBaz"]),
        ("γ-fooBar 😀XmlHttp", ["fooBar", "XmlHttp"]),  # 2- and 4-byte strings
        ("", []),
    ],
)
def test_camel_words(text, words):
    assert identifiers._camel_words_python(text) == words
    assert identifiers.camel_words(text) == words


@settings(max_examples=2000, deadline=None)
@given(text=_CAMEL_TEXT)
def test_the_c_camel_words_equal_the_python_twin(text):
    assert identifiers.camel_words(text) == identifiers._camel_words_python(text)


def test_camel_words_rejects_non_strings():
    with pytest.raises(TypeError, match="expects str"):
        importlib.import_module("ragls._speedups").camel_words(b"fooBar")
