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
# Identifiers as they appear in text: dotted names too (session.retry_policy)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def split_identifier(name: str) -> list[str]:
    return list(_split_cached(name))


@functools.lru_cache(maxsize=65536)  # identifiers repeat a lot within a codebase
def _split_cached(name: str) -> tuple[str, ...]:
    """Lower-cased sub-words of one identifier: ``parseHTTPResponse2`` -> parse, http, response, 2."""
    parts: list[str] = []
    for piece in re.split(r"[_\W]+", name):
        if not piece:
            continue
        if piece.isascii():
            parts.extend(m.group(0).lower() for m in _SUBWORD.finditer(piece))
        else:  # case boundaries of non-ASCII scripts are not worth guessing: keep the word whole
            parts.append(piece.lower())
    return tuple(parts)


def subword_tokens(text: str) -> list[str]:
    """Sub-word tokens of every word in ``text``, in order (for the identifier field)."""
    tokens: list[str] = []
    for match in _WORD.finditer(text):
        tokens.extend(split_identifier(match.group(0)))
    return tokens


_UPPER_RUN = re.compile(r"[A-Z][A-Za-z0-9]*")


def camel_subwords(text: str) -> list[str]:
    """Sub-words of the camelCase/PascalCase words in ``text``: what a plain tokenizer misses.

    (Snake_case, kebab-case and dotted names already split at their punctuation in Tantivy's
    tokenizers, so only case changes need Python's help.) This runs on every indexed chunk, so it
    scans only for upper-case letters — C speed — and looks at the few words around them.
    """
    tokens: list[str] = []
    for match in _UPPER_RUN.finditer(text):
        word, start = match.group(), match.start()
        if start and text[start - 1].isascii() and text[start - 1].isalnum():
            # an upper-case letter inside a word (fooBar): take the whole word
            first = start - 1
            while first and text[first - 1].isascii() and text[first - 1].isalnum():
                first -= 1
            word = text[first : match.end()]
            if not word[0].isalpha():
                continue
        elif word.isupper() or word[1:].islower() or len(word) < 2:
            continue  # FOO, Foo, F: no case change inside
        tokens.extend(_split_cached(word))
    return tokens


def is_compound(name: str) -> bool:
    """True when ``name`` splits into more than one sub-word (camelCase, snake_case, ...)."""
    return len(split_identifier(name)) > 1


def identifiers_in(text: str) -> list[str]:
    """Identifier-looking words in ``text`` (keeps dotted names whole)."""
    return IDENTIFIER.findall(text)
