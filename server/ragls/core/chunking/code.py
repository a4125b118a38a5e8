"""Code: definitions found by a line scanner, each chunk carrying the names it defines.

Code structure comes from a line scanner that understands indentation, decorators, comments and
multi-line strings (per language family: :mod:`ragls.core.chunking.syntax`) rather than from
``ast``: ``ast.parse`` runs at about 3.5 MB/s, too slow for the ~10 MB/s the indexer needs on large
trees, and it gives nothing for the other languages. ``tests/core`` checks the scanner's Python
definitions against ``ast`` on real files.

A long container (class, impl, namespace) is split into its header and its members; runs of
one-line definitions, and runs of other code, are packed together up to ``max_lines``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragls.core.chunking.syntax import MULTILINE_OPENERS, NO_TOKENS, Syntax, statement_kind, syntax_for
from ragls.core.chunking.windows import make_chunks, paragraph_ends, windows
from ragls.core.lines import normalized
from ragls.core.types import Chunk


@dataclass(slots=True)
class _Unit:
    """A definition, or the code between definitions, as inclusive line indexes."""

    start: int
    end: int
    kind: str  # definition kind ("def", "class", "fn", ...) or "" for other code
    name: str
    def_line: int = -1  # the index of the line holding the definition keyword


class CodeScan:
    """Per-line facts for one code file: inside a multi-line string/comment, indentation."""

    def __init__(self, text: str, lines: list[str], syntax: Syntax) -> None:
        self.lines = lines
        self.syntax = syntax
        n = len(lines)
        self.masked = bytearray(n)  # 1: the line continues a string/comment that began above
        if syntax.tokens is not NO_TOKENS:
            self._mask(normalized(text), syntax.tokens, n)

    def _mask(self, norm: str, tokens: re.Pattern[str], n: int) -> None:
        """Set ``masked`` from the tokens of ``norm`` that span lines.

        Scanning the whole text for tokens was a third of chunking's time on code, yet almost
        every token fits on its line. Where the token pattern has known openers, the scan starts
        only at the lines that hold one, goes token by token, and stops at the first token that
        begins on a later line than the scan has reached. Every line start it skips is outside
        all tokens (a token over a line start spans lines, so it began on a line with an opener,
        and the scan from there covered it), so each restart finds exactly the tokens that a scan
        from the beginning of the text finds there.
        """
        masked = self.masked
        openers = MULTILINE_OPENERS.get(tokens)
        if openers is None:
            starts = [0]  # the whole text in one scan
        else:
            starts = sorted({norm.rfind("\n", 0, m.start()) + 1 for o in openers for m in o.finditer(norm)})
        pos, line = 0, 0  # line: the number of the line that holds offset pos
        scanned = 0  # every token that begins before this offset has been seen
        for first in starts:
            if first < scanned:
                continue
            eol = norm.find("\n", first)  # the end of the line the scan has reached
            for m in tokens.finditer(norm, first):
                start, end = m.span()
                if openers is not None and 0 <= eol < start:
                    scanned = eol + 1  # a token on a later line: resume at the next opener
                    break
                if norm.find("\n", start, end) < 0:
                    continue  # single-line tokens never hide a statement start
                line += norm.count("\n", pos, start)
                last = line + norm.count("\n", start, end)
                masked[line + 1:min(last, n - 1) + 1] = b"\x01" * (min(last, n - 1) - line)
                pos, line = end, last
                eol = norm.find("\n", end)
            else:
                return  # no tokens after this point

    def indent(self, i: int) -> int:
        line = self.lines[i]
        return len(line) - len(line.lstrip())

    def units(self, lo: int, hi: int, level: int, member: bool) -> list[_Unit]:
        """Definitions and the code between them among lines ``lo..hi`` whose statements start at
        indentation ``level``. Leading comments and decorators belong to the next definition."""
        lines, masked = self.lines, self.masked
        kind_of = statement_kind(self.syntax, member)
        units: list[_Unit] = [_Unit(lo, hi, "", "")]
        prefix = -1  # first line of the comment/decorator run right above, or -1
        in_decorator = False
        after_def = False
        for i in range(lo, hi + 1):
            if masked[i]:
                continue
            line = lines[i]
            if level:
                stripped = line.lstrip()
                indent = len(line) - len(stripped)
                statement = indent == level and stripped != ""
            else:  # not empty and not indented by a space or tab (a form feed starts a statement)
                statement = line != "" and line[0] not in " \t"
            if not statement:
                # Blank, deeper or (level > 0) shallower. These matter only while a comment or
                # decorator run is open: a blank line closes the run and ends a decorator; a
                # deeper line (a body, a decorator's multi-line arguments) closes a comment run
                # unless a decorator is open; a shallower one changes nothing. So they are looked
                # at only then.
                if prefix >= 0 or in_decorator:
                    rest = line.lstrip()
                    if not rest:
                        prefix, in_decorator = -1, False
                    elif not in_decorator and (level == 0 or len(line) - len(rest) > level):
                        prefix = -1
                continue
            m = kind_of.match(stripped if level else line)
            what = m.lastgroup if m is not None else None
            if what == "_comment":
                if prefix < 0:
                    prefix = i
                continue
            if what == "_decorator":
                if prefix < 0:
                    prefix = i
                in_decorator = True
                continue
            if what == "_continues":
                continue
            in_decorator = False
            if m is not None:  # a definition
                groups = m.groupdict()
                name = groups.get("name") or groups.get("name2") or groups.get("name3") or ""
                kind = groups.get("kind") or groups.get("kind2") or "def"
                if groups.get("receiver"):
                    name = f"{groups['receiver']}.{name}"
                start = prefix if prefix >= 0 else i
                self._begin(units, start, kind, name.strip("\"'`"), i)
                after_def = True
            elif after_def:
                self._begin(units, prefix if prefix >= 0 else i, "", "", i)
                after_def = False
            prefix = -1
        if units[0].start > units[0].end or (len(units) > 1 and units[1].start == lo):
            units.pop(0)
        return units

    @staticmethod
    def _begin(units: list[_Unit], start: int, kind: str, name: str, def_line: int) -> None:
        units[-1].end = start - 1  # the previous unit ends where this one begins
        units.append(_Unit(start, start, kind, name, def_line))



def chunk_code(path: str, text: str, lines: list[str], language: str, max_lines: int, overlap: int) -> list[Chunk]:
    """Chunks of a code file in ``language`` (``lines``: ``split_lines(text)``)."""
    scan = CodeScan(text, lines, syntax_for(language))
    units = _close_units(scan.units(0, len(lines) - 1, 0, member=False), len(lines) - 1)
    out: list[Chunk] = []
    _emit_units(out, path, scan, language, units, (), max_lines, overlap, depth=0)
    return out


def _close_units(units: list[_Unit], hi: int) -> list[_Unit]:
    """Each unit ends where the next begins; the last ends at ``hi``."""
    for a, b in zip(units, units[1:]):
        a.end = b.start - 1
    if units:
        units[-1].end = hi
    return [u for u in units if u.start <= u.end]


_TINY = 3  # units this short (one-liners, prototypes) are packed together


def _emit_units(
    out: list[Chunk], path: str, scan: CodeScan, language: str, units: list[_Unit],
    scope: tuple[str, ...], max_lines: int, overlap: int, depth: int,
) -> None:
    lines = scan.lines
    qual = ".".join(scope)

    def qualified(name: str) -> str:
        return f"{qual}.{name}" if qual and name else name

    prefer = paragraph_ends(lines)
    # Each unit's size once: the packing loop below looks again at the unit that ends a run.
    sizes = [_content_size(lines, u.start, u.end) for u in units]
    i = 0
    while i < len(units):
        unit = units[i]
        size = sizes[i]
        if unit.kind and size > max_lines and unit.kind in scan.syntax.containers and depth < 4:
            if _emit_container(out, path, scan, language, unit, scope + (unit.name,), max_lines, overlap, depth):
                i += 1
                continue
        if unit.kind and size > _TINY:
            name = qualified(unit.name)
            out.extend(make_chunks(
                path, lines, windows(lines, unit.start, unit.end, max_lines, overlap, prefer), "code", language,
                symbols=(name,) if name else (), doc=_doc_for(scan, unit),
            ))
            i += 1
            continue
        # Runs of other code, and runs of tiny definitions: packed up to max_lines.
        j = i
        total = 0
        names: list[str] = []
        while j < len(units):
            u = units[j]
            usize = sizes[j]
            if j > i and (bool(u.kind) != bool(units[i].kind) or u.kind and usize > _TINY
                          or total + usize > max_lines):
                break  # tiny definitions pack with each other, other code with other code
            if u.kind and u.name:
                names.append(qualified(u.name))
            elif not u.kind and not scope and scan.syntax.assignment is not None:
                names.extend(_assigned_names(scan, u))
            total += usize
            j += 1
            if u.kind and usize > _TINY:
                break
        doc = _doc_for(scan, units[i]) if units[i].kind else (_module_doc(scan, units[i]) if not scope else "")
        out.extend(make_chunks(
            path, lines, windows(lines, units[i].start, units[j - 1].end, max_lines, overlap, prefer), "code", language,
            symbols=tuple(dict.fromkeys(names)), doc=doc,
        ))
        i = j


def _content_size(lines: list[str], lo: int, hi: int) -> int:
    while hi > lo and not lines[hi].strip():
        hi -= 1
    return hi - lo + 1


def _emit_container(
    out: list[Chunk], path: str, scan: CodeScan, language: str, unit: _Unit, scope: tuple[str, ...],
    max_lines: int, overlap: int, depth: int,
) -> bool:
    """Split a long class/impl/namespace into its header and members. False: no members found."""
    lines = scan.lines
    body_lo = unit.def_line + 1
    level = -1
    for k in range(body_lo, unit.end + 1):
        if not scan.masked[k] and lines[k].strip():
            stripped = lines[k].lstrip()
            if stripped.startswith(("{", "}")) and len(stripped.rstrip()) == 1:
                continue
            level = len(lines[k]) - len(stripped)
            break
    base = scan.indent(unit.def_line)
    if level <= base:
        return False
    members = _close_units(scan.units(body_lo, unit.end, level, member=True), unit.end)
    defs = [u for u in members if u.kind]
    if not defs:
        return False
    header_end = defs[0].start - 1
    name = ".".join(scope)
    rest = [u for u in members if u.start > header_end]
    doc = _doc_for(scan, unit)
    if header_end >= unit.start:
        out.extend(make_chunks(
            path, lines, windows(lines, unit.start, header_end, max_lines, overlap, paragraph_ends(lines)), "code", language,
            symbols=(name,), doc=doc,
        ))
    _emit_units(out, path, scan, language, rest, scope, max_lines, overlap, depth + 1)
    return True


def _doc_for(scan: CodeScan, unit: _Unit) -> str:
    """A definition's own documentation (the syntax's ``docstring`` hook) or the comment block right above it."""
    lines = scan.lines
    hook = scan.syntax.docstring
    if hook is not None and unit.def_line >= 0:
        doc = hook(lines, unit.def_line, unit.end)
        if doc:
            return _cap(doc)
    if unit.def_line <= unit.start:
        return ""  # nothing above the definition line (most definitions): no comment block
    prefix = scan.syntax.prefix
    comments = []
    for k in range(unit.start, unit.def_line):
        stripped = lines[k].strip()
        if prefix and stripped.startswith(prefix):
            continue
        comment = _COMMENT_MARK.sub("", stripped)
        if comment:
            comments.append(comment)
    return _cap("\n".join(comments).strip())


_COMMENT_MARK = re.compile(r"^(?:///?!?|/\*\*?|\*/|\*|#+!?|--+|;+)\s?|\s*\*/$")


def _cap(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def _module_doc(scan: CodeScan, unit: _Unit) -> str:
    """The file's own documentation, for the code that opens the file (Python: its docstring)."""
    hook = scan.syntax.module_docstring
    if unit.start == 0 and hook is not None:
        return _cap(hook(scan.lines, unit.end))
    return ""


def _assigned_names(scan: CodeScan, unit: _Unit) -> list[str]:
    pattern = scan.syntax.assignment
    names = []
    for k in range(unit.start, unit.end + 1):
        line = scan.lines[k]
        # "=" in line: most module-level lines are imports and calls, which the regex would reject.
        if line and line[0] not in " \t#" and "=" in line and not scan.masked[k]:
            m = pattern.match(line)
            if m:
                names.append(m.group(1))
    return names
