"""Identifier-aware tokens: ``HTTPResponse``, ``http_response`` and ``httpResponse`` all become
``http response``.

Tantivy's regex tokenizer has no look-around, so camelCase cannot be split inside Tantivy; we split
in Python and index the sub-words in their own field.
"""

from __future__ import annotations

import functools
import re

# A "word" in code or prose: letters/digits/underscore runs; dots and dashes separate words.
_WORD = re.compile(r"[^\W_]+(?:_+[^\W_]+)*", re.UNICODE)
# Sub-word boundaries inside one identifier: ABCDef -> ABC Def, fooBar -> foo Bar, v2Api -> v2 Api
_SUBWORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SEPARATORS = re.compile(r"[_\W]+")
# Identifiers as they appear in text: dotted names too (session.retry_policy)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def split_identifier(name: str) -> list[str]:
    return list(_split_cached(name))


@functools.lru_cache(maxsize=65536)  # identifiers repeat a lot within a codebase
def _split_cached(name: str) -> tuple[str, ...]:
    """Lower-cased sub-words of one identifier: ``parseHTTPResponse2`` -> parse, http, response, 2."""
    parts: list[str] = []
    for piece in _SEPARATORS.split(name):
        if not piece:
            continue
        if piece.isascii():
            parts.extend([word.lower() for word in _SUBWORD.findall(piece)])  # strings, no match objects
        else:  # case boundaries of non-ASCII scripts are not worth guessing: keep the word whole
            parts.append(piece.lower())
    return tuple(parts)


def subword_tokens(text: str) -> list[str]:
    """Sub-word tokens of every word in ``text``, in order (for the identifier field)."""
    tokens: list[str] = []
    for word in _WORD.findall(text):
        tokens.extend(_split_cached(word))
    return tokens


# Where a word changes case: the scan starts at upper-case letters only (rare in text, so the regex
# engine skips ahead at C speed). Either the letter follows a lower-case letter or digit inside a
# word (fooBar: the match starts at B; the caller finds the word's start), or it starts a word whose
# rest mixes cases (FooBar, HTTPResponse — not Foo, FOO, F1).
_CASE_CHANGE = re.compile(
    r"[A-Z](?:(?<=[a-z0-9][A-Z])[A-Za-z0-9]*"
    r"|(?<![A-Za-z0-9][A-Z])(?=[A-Za-z0-9]*[a-z])[a-z0-9]*[A-Z][A-Za-z0-9]*)"
)
_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _camel_words_python(text: str) -> list[str]:
    """The camelCase/PascalCase words in ``text``, in order: each maximal run of ASCII letters and
    digits that starts with a lower-case letter and holds an upper-case one (fooBar), or starts with
    an upper-case letter and holds a lower-case and another upper-case one (FooBar, HTTPResponse;
    not Foo, FOO, A1B). A run starting with a digit (2fooBar) is not an identifier.

    The C twin ``ragls._speedups.camel_words`` is used when it was built (tested equal): this runs
    on every indexed chunk, and even here, where a regex finds the few case changes and only the
    words around them are looked at in Python, it is the largest Python cost of indexing.
    """
    words: list[str] = []
    for match in _CASE_CHANGE.finditer(text):
        start = first = match.start()
        if start and text[start - 1] in _ASCII_ALNUM:
            while first and text[first - 1] in _ASCII_ALNUM:
                first -= 1
            # fooBar splits; 2fooBar is not an identifier, and A1B has no lower-case letter
            if not "a" <= text[first] <= "z":
                continue
        words.append(text[first : match.end()])
    return words


try:
    from ragls._speedups import camel_words
except ImportError:  # built without a C compiler: the same words, a few times slower
    camel_words = _camel_words_python
NATIVE_SPEEDUPS = camel_words is not _camel_words_python


def camel_subwords(text: str) -> list[str]:
    """Sub-words of the camelCase/PascalCase words in ``text``: what a plain tokenizer misses.

    (Snake_case, kebab-case and dotted names already split at their punctuation in Tantivy's
    tokenizers, so only case changes need Python's help.)
    """
    tokens: list[str] = []
    for word in camel_words(text):
        tokens.extend(_split_cached(word))
    return tokens


def is_compound(name: str) -> bool:
    """True when ``name`` splits into more than one sub-word (camelCase, snake_case, ...)."""
    return len(split_identifier(name)) > 1


def identifiers_in(text: str) -> list[str]:
    """Identifier-looking words in ``text`` (keeps dotted names whole)."""
    return IDENTIFIER.findall(text)
