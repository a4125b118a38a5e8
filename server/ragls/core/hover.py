"""Which word is under the cursor, and is it worth a hover?

Hover is on the typing path: editors ask for it whenever the mouse rests on a word, so most
requests must be answered "nothing" at once, without touching the index. This module decides that
from the text alone. It works on one line's text, in *code point* columns (the core's convention,
:mod:`ragls.core.lines`); LSP's positions are converted in ``ragls.lsp.convert``.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from ragls.core.identifiers import IDENTIFIER, split_identifier

# One identifier segment; dotted names are built from several (``session.retry_policy``).
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Segments joined by dots, optionally separated by `?.`/`::`/`->` in other languages: we only join
# plain dots, the separator every language (and prose) uses for "member of".

# Receivers that say nothing about *what* is being looked up: ``self.retry_policy`` is about
# ``retry_policy``.
_RECEIVERS = frozenset({"self", "this", "cls", "super", "me", "it"})

MIN_LENGTH = 3

# Keywords and built-in names of the languages people keep next to their docs. A hover on these
# would explain the language, not the workspace.
_KEYWORDS = frozenset(
    kw.lower()
    for kw in (
        *keyword.kwlist,
        *keyword.softkwlist,
        # Python built-ins that read like keywords
        *"print len range str int float bool dict list set tuple bytes object type isinstance "
        "super self cls open enumerate zip map filter sorted reversed min max sum any all repr "
        "hash iter next getattr setattr hasattr property staticmethod classmethod Exception "
        "ValueError TypeError KeyError IndexError RuntimeError".split(),
        # JavaScript / TypeScript
        *"var let const function return typeof instanceof new delete void undefined null this "
        "switch case default break continue throw catch finally extends implements interface "
        "enum export import from package private protected public static yield async await "
        "readonly declare namespace module require console string number boolean symbol any "
        "unknown never keyof infer satisfies abstract constructor get set of".split(),
        # Go / Rust / Java / C / C++ / C#
        *"func chan defer go goto map range select struct fallthrough type var package "
        "fn impl trait mut ref pub crate mod use loop match move unsafe where dyn box "
        "char short long double signed unsigned sizeof typedef union volatile register extern "
        "auto inline template typename virtual override final friend operator explicit "
        "noexcept nullptr include define ifdef ifndef endif pragma "
        "class synchronized throws transient native strictfp boolean byte "
        "using sealed partial internal params out base event delegate decimal".split(),
        # shell, Ruby, Lua, SQL, YAML-ish values
        *"then else elif fi esac done do echo export local function end unless until begin "
        "rescue ensure elsif nil true false yes no on off "
        "select insert update delete where from join group order having limit values into "
        "create table drop alter index".split(),
    )
)

# The most frequent English words (and a few doc-prose staples). A hover on "the" or "when" in a
# README is noise; rarer words ("kubelet", "ingress") are left to retrieval to judge.
_COMMON_WORDS = frozenset(
    """
    the be to of and a in that have i it for not on with he as you do at this but his by from they
    we say her she or an will my one all would there their what so up out if about who get which go
    me when make can like time no just him know take people into year your good some could them see
    other than then now look only come its over think also back after use two how our work first
    well way even new want because any these give day most us is are was were been being has had
    does did done said made used using uses make makes many much more such very each every both few
    those through should may might must shall here where why while until since before between under
    again once same own off down too above below next last long great little right left old big high
    small large different following example examples note notes see also however therefore thus
    section page file files line lines text value values name names data list item items number
    thing things part parts set sets run runs show shows need needs find found call called
    true false none null yes no ok okay todo fixme xxx
    """.split()
)


@dataclass(frozen=True, slots=True)
class IdentifierAt:
    """The identifier under a column: its (possibly dotted) name and where it sits on its line."""

    name: str  # e.g. "session.retry_policy" (dotted prefix up to the segment under the cursor)
    start: int  # code point column of its first character
    end: int  # code point column just after its last character


def identifier_at(line: str, column: int) -> IdentifierAt | None:
    """The identifier at code point ``column`` of ``line``, or None.

    For a dotted name the result runs from the start of the chain to the end of the segment under
    the cursor: on ``retry_policy`` in ``session.retry_policy.max_attempts`` it is
    ``session.retry_policy`` — what the user is pointing at, qualified by what it belongs to. A
    cursor just after the last character of a word still counts (editors report that position when
    the mouse rests on a word's right edge).
    """
    if column < 0:
        return None
    for chain in IDENTIFIER.finditer(line):
        if not chain.start() <= column <= chain.end():
            continue
        for segment in _SEGMENT.finditer(line, chain.start(), chain.end()):
            if segment.start() <= column <= segment.end():
                return IdentifierAt(line[chain.start() : segment.end()], chain.start(), segment.end())
    return None


def _segment_worth(segment: str) -> bool:
    if len(segment) < MIN_LENGTH or segment.isdigit():
        return False
    lowered = segment.lower()
    if lowered in _KEYWORDS or lowered in _COMMON_WORDS:
        return False
    # snake_case / camelCase names are the workspace's own vocabulary even when each part is common
    # ("retry_policy", "maxRetries"); a single sub-word must itself be rare enough.
    parts = [p for p in split_identifier(segment) if not p.isdigit()]
    if len(parts) > 1:
        return True
    return bool(parts) and len(parts[0]) >= MIN_LENGTH


def hover_symbol(name: str) -> str | None:
    """The symbol to look up for a hovered identifier, or None when a hover would be noise.

    Drops receivers (``self.``, ``this.``) and answers None for keywords, common English words and
    very short names. A dotted name is worth a hover when its last segment is, or when it is a real
    member chain of two or more meaningful segments (``os.environ`` is worth it, ``self.x`` is not).
    """
    segments = [s for s in name.split(".") if s]
    while segments and segments[0].lower() in _RECEIVERS:
        segments = segments[1:]
    if not segments:
        return None
    if _segment_worth(segments[-1]):
        return ".".join(segments)
    # "config.name": the last segment is a common word, but the chain names something specific
    last = segments[-1]
    if (
        len(segments) >= 2
        and any(_segment_worth(s) for s in segments[:-1])
        and len(last) >= MIN_LENGTH
        and last.lower() not in _KEYWORDS
    ):
        return ".".join(segments)
    return None
