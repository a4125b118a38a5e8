"""Greek letters spelled out for matching: ``IFN-γ`` and ``IFN-gamma`` are the same term.

Technical and scientific text writes Greek letters both ways (``TNF-α`` / ``TNF-alpha``,
``β-catenin`` / ``beta-catenin``, ``μs`` / ``mus``), and Tantivy's tokenizer keeps ``γ`` and
``gamma`` apart. Folding every Greek letter to its Latin name, in the indexed text and in the query
alike, makes both spellings one term. This is analysis only: what is shown and cited is always the
text as written (the index stores it; ``schema.prepared_to_document``).

Folding never adds or removes a line, a space or a word boundary: a letter becomes a run of Latin
letters in the same place (``αvβ8`` -> ``alphavbeta8``, one token either way). Only letters used as
symbols are folded — runs of at most three Greek letters (``γ``, ``αβ`` T cells); a longer run is a
word of Greek prose and stays as written (spelled out, it would be an unreadable term that the
analyzer's 40-character limit may even drop).
"""

from __future__ import annotations

import re

_NAMES = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma "
    "tau upsilon phi chi psi omega"
).split()
_LOWER = "αβγδεζηθικλμνξοπρστυφχψω"
_UPPER = "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ"

_TABLE = {ord(c): name for c, name in zip(_LOWER, _NAMES)}
_TABLE.update({ord(c): name for c, name in zip(_UPPER, _NAMES)})
_TABLE.update(
    {
        ord("ς"): "sigma",  # final sigma
        ord("µ"): "mu",  # U+00B5 MICRO SIGN, the "µ" of µs and µm on most keyboards
        ord("ϐ"): "beta",
        ord("ϑ"): "theta",
        ord("ϕ"): "phi",
        ord("ϖ"): "pi",
        ord("ϰ"): "kappa",
        ord("ϱ"): "rho",
        ord("ϵ"): "epsilon",
    }
)
_ANY = re.compile("[" + "".join(map(chr, sorted(_TABLE))) + "]")
_GREEK = "\u0370-\u03ff\u1f00-\u1fff"  # Greek and Coptic, Greek Extended (accented letters)
_SYMBOL_RUN = re.compile(f"(?<![{_GREEK}])[{_GREEK}]{{1,3}}(?![{_GREEK}])|\u00b5")


def fold_letters(text: str) -> str:
    """``text`` with every Greek letter replaced by its lower-case Latin name.

    Returns ``text`` itself (no copy) when there is nothing to fold: indexing calls this on every
    chunk, and nearly all of them are ASCII.
    """
    if text.isascii() or _ANY.search(text) is None:
        return text
    return _SYMBOL_RUN.sub(_spell_out, text)


def _spell_out(match: re.Match) -> str:
    return match.group(0).translate(_TABLE)
