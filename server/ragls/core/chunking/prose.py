"""Prose: Markdown, reStructuredText and AsciiDoc split at their headings (each chunk carries its
heading path), plain text packed by paragraphs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragls.core.chunking.windows import make_chunks, paragraph_ends, windows
from ragls.core.types import Chunk


def chunk_prose(path: str, lines: list[str], kind: str, max_lines: int, overlap: int) -> list[Chunk]:
    """Chunks of a prose file of ``kind`` ("markdown", "rst", "asciidoc"; anything else is plain text)."""
    if kind == "markdown":
        sections = _markdown_sections(lines)
    elif kind == "rst":
        sections = _rst_sections(lines)
    elif kind == "asciidoc":
        sections = _asciidoc_sections(lines)
    else:
        return _chunk_plain(path, lines, max_lines, overlap)
    return _chunk_sections(path, lines, sections, kind, max_lines, overlap)


@dataclass(slots=True)
class _Section:
    start: int  # 0-based first line (the heading line, or 0 for the preamble)
    level: int  # heading level; 0 for the preamble
    title: str
    head_end: int = -1  # last line of the heading itself (underlines included)


def _chunk_sections(
    path: str, lines: list[str], parsed: tuple[list[_Section], list[bool], str], kind: str,
    max_lines: int, overlap: int,
) -> list[Chunk]:
    sections, in_block, doc_title = parsed
    # Heading path per section, from a stack of (level, title).
    has_top = any(s.level == 1 for s in sections)
    root: tuple[str, ...] = (doc_title,) if doc_title and not has_top else ()
    stack: list[tuple[int, str]] = []
    bounds: list[tuple[int, int, tuple[str, ...]]] = []
    for i, sec in enumerate(sections):
        end = sections[i + 1].start - 1 if i + 1 < len(sections) else len(lines) - 1
        if sec.level:
            while stack and stack[-1][0] >= sec.level:
                stack.pop()
            stack.append((sec.level, sec.title))
        bounds.append((sec.start, end, root + tuple(t for _, t in stack)))

    # A heading followed directly by a deeper heading joins that subsection: the child's heading
    # path already names the parent, and a chunk holding only "## Install" retrieves nothing.
    merged: list[tuple[int, int, tuple[str, ...]]] = []
    pending_start: int | None = None
    for i, (lo, hi, heading) in enumerate(bounds):
        start = lo if pending_start is None else pending_start
        sec = sections[i]
        nxt = sections[i + 1] if i + 1 < len(sections) else None
        if sec.level and nxt is not None and nxt.level > sec.level \
                and all(not lines[j].strip() for j in range(max(sec.head_end, lo) + 1, hi + 1)):  # body blank
            pending_start = start
            continue
        pending_start = None
        merged.append((start, hi, heading))

    def allowed(e: int) -> bool:  # never cut inside a fenced / delimited block if avoidable
        return e + 1 >= len(lines) or not (in_block[e] and in_block[e + 1])

    ends_paragraph = paragraph_ends(lines)

    def prefer(e: int) -> bool:  # a paragraph break outside a block
        return allowed(e) and ends_paragraph(e) and not in_block[e + 1]

    chunks: list[Chunk] = []
    for lo, hi, heading in merged:
        chunks.extend(make_chunks(
            path, lines, windows(lines, lo, hi, max_lines, overlap, prefer, allowed), kind, "", heading,
        ))
    return chunks


_FENCE_OPEN = re.compile(r" {0,3}(`{3,}|~{3,})(.*)$")
_MD_OPENER = re.compile(r" {0,3}[#`~]")  # what a line needs to match _FENCE_OPEN or _ATX
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_HEADING_ATTRS = re.compile(r"\s*\{[#.][^}]*\}\s*$")  # "## Title {#anchor}" (Hugo, kramdown)
_FRONT_TITLE = re.compile(r"""title\s*[:=]\s*(.+?)\s*$""")
# A paragraph line that cannot be the text of a setext heading (list items, quotes, tables...).
_NOT_SETEXT_TEXT = re.compile(r" {0,3}(?:[-*+>|<]|\d+[.)]\s|#{1,6}(?:\s|$)|`{3,}|~{3,})")


def _front_matter_end(lines: list[str]) -> tuple[int, str]:
    """(index of the closing front-matter line, title) or (-1, "")."""
    if not lines or lines[0].rstrip() not in ("---", "+++"):
        return -1, ""
    closer = ("---", "...") if lines[0].rstrip() == "---" else ("+++",)
    for i in range(1, min(len(lines), 500)):
        if lines[i].rstrip() in closer:
            title = ""
            for j in range(1, i):
                m = _FRONT_TITLE.match(lines[j])
                if m:
                    title = _unquote(m.group(1))
                    break
            return i, title
    return -1, ""


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value.strip()


def _clean_title(title: str) -> str:
    return _HEADING_ATTRS.sub("", title).strip()


def _markdown_sections(lines: list[str]) -> tuple[list[_Section], list[bool], str]:
    front_end, title = _front_matter_end(lines)
    sections = [_Section(0, 0, "")]
    in_block = [False] * len(lines)
    fence = ""  # the opening fence run while inside a fenced block
    fence_run = ""  # three of its characters
    i = front_end + 1
    if front_end >= 0:
        for j in range(front_end + 1):
            in_block[j] = True  # front matter: keep it whole when possible
    n = len(lines)
    while i < n:
        line = lines[i]
        if fence:
            in_block[i] = True
            # A closing line holds at least three fence characters: most lines in a block are
            # passed over with one substring test.
            if fence_run in line:
                stripped = line.strip()
                if stripped.startswith(fence[0]) and len(stripped) >= len(fence) and stripped == fence[0] * len(stripped) \
                        and len(line) - len(line.lstrip(" ")) <= 3:
                    fence = ""
            i += 1
            continue
        if not line or line[0] not in " #`~=-\t" and (i + 1 >= n or not _could_be_underline(lines[i + 1])):
            i += 1  # fast path: an ordinary text line
            continue
        # Fence openers and ATX headings both begin with at most 3 spaces and one of "#`~": one
        # match rules both out for indented lines and list items, the most common lines here.
        if _MD_OPENER.match(line):
            m = _FENCE_OPEN.match(line)
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                fence = m.group(1)
                fence_run = fence[0] * 3
                in_block[i] = True
                i += 1
                continue
            m = _ATX.match(line)
            if m:
                sections.append(_Section(i, len(m.group(1)), _clean_title(m.group(2) or ""), i))
                i += 1
                continue
        if i + 1 < n and _could_be_underline(lines[i + 1]) and line.strip() and _SETEXT.match(lines[i + 1]) \
                and not _NOT_SETEXT_TEXT.match(line) and len(line) - len(line.lstrip(" ")) <= 3:
            # The heading text is the whole paragraph above the underline.
            start = i
            while start - 1 > max(front_end, sections[-1].start) and lines[start - 1].strip() \
                    and not _NOT_SETEXT_TEXT.match(lines[start - 1]) and not in_block[start - 1]:
                start -= 1
            text = " ".join(lines[j].strip() for j in range(start, i + 1))
            level = 1 if lines[i + 1].lstrip()[0] == "=" else 2
            sections.append(_Section(start, level, _clean_title(text), i + 1))
            i += 2
            continue
        i += 1
    if len(sections) > 1 and sections[1].start == 0:
        sections.pop(0)  # the document starts with a heading: no preamble
    return sections, in_block, title


def _could_be_underline(line: str) -> bool:
    s = line.strip()
    return bool(s) and s[0] in "=-" and s == s[0] * len(s)


_RST_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _rst_adornment(line: str) -> str:
    """The adornment character when ``line`` is a run of one punctuation character (>= 2)."""
    s = line.rstrip()
    if len(s) < 2 or s[0] not in _RST_PUNCT or s != s[0] * len(s):
        return ""
    return s[0]


def _rst_sections(lines: list[str]) -> tuple[list[_Section], list[bool], str]:
    sections = [_Section(0, 0, "")]
    in_block = [False] * len(lines)
    styles: dict[tuple[str, bool], int] = {}  # adornment style -> level, in order first seen
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        if not line.strip() or line[0] in " \t":
            i += 1
            continue
        over = _rst_adornment(line)
        # Overlined title: adornment, title (may be inset), same adornment.
        if over and i + 2 < n and lines[i + 1].strip() and _rst_adornment(lines[i + 2]) == over \
                and len(lines[i + 2].rstrip()) >= len(lines[i + 1].strip()) and (i == 0 or not lines[i - 1].strip()):
            level = styles.setdefault((over, True), len(styles) + 1)
            sections.append(_Section(i, level, lines[i + 1].strip(), i + 2))
            i += 3
            continue
        if not over and i + 1 < n:
            under = _rst_adornment(lines[i + 1])
            if under and len(lines[i + 1].rstrip()) >= len(line.rstrip()) and (i == 0 or not lines[i - 1].strip()):
                level = styles.setdefault((under, False), len(styles) + 1)
                sections.append(_Section(i, level, line.strip(), i + 1))
                i += 2
                continue
        i += 1
    if len(sections) > 1 and sections[1].start == 0:
        sections.pop(0)
    return sections, in_block, ""


_ADOC_HEADING = re.compile(r"(={1,6}|#{1,6})[ \t]+(\S.*?)[ \t]*$")
_ADOC_DELIMITER = re.compile(r"(-{4,}|\.{4,}|/{4,}|\+{4,}|`{3,})[ \t]*$")


def _asciidoc_sections(lines: list[str]) -> tuple[list[_Section], list[bool], str]:
    sections = [_Section(0, 0, "")]
    in_block = [False] * len(lines)
    delimiter = ""
    for i, line in enumerate(lines):
        if delimiter:
            in_block[i] = True
            if line.rstrip() == delimiter:
                delimiter = ""
            continue
        if not line or line[0] not in "=#-./+`":
            continue
        m = _ADOC_DELIMITER.match(line)
        if m:
            delimiter = m.group(1)
            in_block[i] = True
            continue
        m = _ADOC_HEADING.match(line)
        if m:
            # "= Title" is the document title (level 1); "== Section" level 2, ...
            sections.append(_Section(i, len(m.group(1)), m.group(2), i))
    if len(sections) > 1 and sections[1].start == 0:
        sections.pop(0)
    return sections, in_block, ""


def _chunk_plain(path: str, lines: list[str], max_lines: int, overlap: int) -> list[Chunk]:
    """Paragraphs packed up to ``max_lines``; a longer paragraph is cut into windows."""
    return make_chunks(path, lines, windows(lines, 0, len(lines) - 1, max_lines, overlap, paragraph_ends(lines)), "text", "")

