"""Split a document into retrievable chunks with exact, 1-based inclusive line ranges.

Pure: no I/O. The one invariant everything else relies on (citations, snippets, the index):
``chunk.text == "\\n".join(split_lines(text)[chunk.start_line - 1 : chunk.end_line])``.

Lines are split the way LSP counts them (``\\n``, ``\\r\\n``, ``\\r``), not with
``str.splitlines()``, which also breaks at form feeds, ``\\x85`` and ``\\u2028``: a single form
feed would shift every later citation by one line in the editor.

Prose is split at headings (each chunk carries its heading path); code at definitions (each chunk
carries the names it defines). Code structure comes from a line scanner that understands
indentation, decorators, comments and multi-line strings rather than from ``ast``: ``ast.parse``
runs at about 3.5 MB/s, too slow for the ~10 MB/s the indexer needs on large trees, and it gives
nothing for the other languages. ``tests/core`` checks the scanner's Python definitions against
``ast`` on real files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Callable, Sequence

from ragls.core.types import Chunk

__all__ = ["language_for", "chunk_document", "split_lines"]


# --- file kinds ------------------------------------------------------------------------------

_PROSE_EXTENSIONS = {
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".mkd": "markdown",
    ".rst": "rst", ".rest": "rst",
    ".adoc": "asciidoc", ".asciidoc": "asciidoc", ".asc": "asciidoc",
    ".txt": "text", ".text": "text",
}
_CODE_EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
    ".vue": "vue", ".svelte": "svelte",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala", ".sc": "scala", ".groovy": "groovy", ".gradle": "groovy",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hh": "cpp",
    ".hpp": "cpp", ".hxx": "cpp", ".ipp": "cpp", ".m": "objc", ".mm": "objc",
    ".cs": "csharp", ".fs": "fsharp", ".fsx": "fsharp", ".swift": "swift", ".dart": "dart",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby", ".php": "php", ".pl": "perl",
    ".pm": "perl", ".lua": "lua", ".r": "r", ".jl": "julia", ".ex": "elixir", ".exs": "elixir",
    ".erl": "erlang", ".hrl": "erlang", ".hs": "haskell", ".ml": "ocaml", ".mli": "ocaml",
    ".clj": "clojure", ".cljs": "clojure", ".zig": "zig", ".nim": "nim", ".v": "verilog",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".fish": "shell", ".ps1": "powershell",
    ".bat": "batch", ".cmd": "batch",
    ".sql": "sql", ".proto": "protobuf", ".graphql": "graphql", ".gql": "graphql",
    ".tf": "hcl", ".hcl": "hcl", ".nix": "nix",
    ".html": "html", ".htm": "html", ".css": "css", ".scss": "css", ".sass": "css",
    ".less": "css", ".xml": "xml", ".svg": None,  # svg: markup blobs, not worth indexing
    ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonc": "json",
    ".json5": "json", ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".properties": "ini",
    ".cmake": "cmake", ".mk": "make", ".dockerfile": "dockerfile",
}
# Files recognised by their whole name (lower-cased), with or without an extension.
_NAMED_FILES = {
    "makefile": ("code", "make"), "gnumakefile": ("code", "make"),
    "dockerfile": ("code", "dockerfile"), "containerfile": ("code", "dockerfile"),
    "cmakelists.txt": ("code", "cmake"), "justfile": ("code", "make"),
    "rakefile": ("code", "ruby"), "gemfile": ("code", "ruby"), "vagrantfile": ("code", "ruby"),
    "procfile": ("code", "yaml"), "jenkinsfile": ("code", "groovy"),
    ".gitignore": None, ".dockerignore": None,
}
# Prose files conventionally without an extension: README, LICENSE, CHANGELOG, ...
_PROSE_STEMS = {
    "readme", "license", "licence", "copying", "changelog", "changes", "history", "news",
    "authors", "contributors", "contributing", "notice", "todo", "install", "security",
    "code_of_conduct", "maintainers", "codeowners", "patents", "thanks", "credits",
}


def language_for(path: str) -> tuple[str, str] | None:
    """``(kind, language)`` for a supported file, else None. ``language`` is "" for prose."""
    name = path.rsplit("/", 1)[-1]
    lower = name.lower()
    if lower in _NAMED_FILES:
        return _NAMED_FILES[lower]
    dot = lower.rfind(".")
    ext = lower[dot:] if dot > 0 else ""
    if ext in _PROSE_EXTENSIONS:
        return (_PROSE_EXTENSIONS[ext], "")
    if ext in _CODE_EXTENSIONS:
        language = _CODE_EXTENSIONS[ext]
        return ("code", language) if language else None
    stem = lower[:dot] if dot > 0 else lower
    if stem in _PROSE_STEMS and (not ext or ext in (".old", ".en")):
        return ("text", "")
    if lower.startswith("dockerfile."):
        return ("code", "dockerfile")
    return None


# --- lines -----------------------------------------------------------------------------------

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """The file's lines as an editor (LSP) numbers them; a final line break adds no line."""
    lines = text.split("\n") if "\r" not in text else _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _normalized(text: str) -> str:
    """``text`` with every line break as ``\\n``, so offsets map to lines by counting ``\\n``."""
    return text if "\r" not in text else _LINE_BREAK.sub("\n", text)


def _windows(
    lines: Sequence[str], lo: int, hi: int, max_lines: int, overlap: int,
    prefer: Callable[[int], bool] | None = None, allowed: Callable[[int], bool] | None = None,
) -> list[tuple[int, int]]:
    """Cover lines ``lo..hi`` (0-based, inclusive) with windows of at most ``max_lines``.

    A window may end after line ``e`` when ``allowed(e)``; among those, one where ``prefer(e)``
    (a paragraph break) wins. Windows overlap by ``overlap`` lines so a sentence cut at a window
    edge is still whole in one of them.
    """
    while lo <= hi and not lines[lo].strip():
        lo += 1
    while hi >= lo and not lines[hi].strip():
        hi -= 1
    out: list[tuple[int, int]] = []
    if lo > hi:
        return out
    start = lo
    while True:
        if hi - start + 1 <= max_lines:
            out.append((start, hi))
            return out
        limit = start + max_lines - 1
        floor = start + max(max_lines // 2, 1) - 1
        end = -1
        for checker in (prefer, allowed):
            if checker is None:
                continue
            for e in range(limit, floor - 1, -1):
                if checker(e):
                    end = e
                    break
            if end >= 0:
                break
        if end < 0:
            end = limit
        out.append((start, end))
        start = max(end + 1 - overlap, start + 1)


def _make_chunks(
    path: str, lines: Sequence[str], ranges: list[tuple[int, int]], kind: str, language: str,
    heading: tuple[str, ...] = (), symbols: tuple[str, ...] = (), doc: str = "",
) -> list[Chunk]:
    """Chunks for 0-based inclusive ranges, trimmed of blank edge lines (blank-only ranges vanish)."""
    out = []
    for lo, hi in ranges:
        while lo <= hi and not lines[lo].strip():
            lo += 1
        while hi >= lo and not lines[hi].strip():
            hi -= 1
        if lo > hi:
            continue
        # Positional (in Chunk's field order, checked below): keywords cost a third more in a
        # frozen dataclass's __init__, and every chunk of every file is built here.
        out.append(Chunk(path, lo + 1, hi + 1, "\n".join(lines[lo:hi + 1]), kind, language, heading, symbols, doc))
    return out


_CHUNK_FIELDS = ("path", "start_line", "end_line", "text", "kind", "language", "heading", "symbols", "doc")
assert tuple(f.name for f in fields(Chunk)) == _CHUNK_FIELDS, "_make_chunks builds Chunk positionally"


# --- entry point -----------------------------------------------------------------------------

def chunk_document(path: str, text: str, *, max_lines: int = 60, overlap: int = 5) -> list[Chunk]:
    """Chunks of one file; [] for an unsupported, empty or whitespace-only file. Never raises on
    any text (a malformed document degrades to window chunks)."""
    if max_lines < 1:
        raise ValueError("max_lines must be at least 1")
    overlap = max(0, min(overlap, max_lines // 2 - 1))
    if not text.strip():
        return []
    kind_language = language_for(path) or ("text", "")
    kind, language = kind_language
    lines = split_lines(text)
    if kind == "markdown":
        sections = _markdown_sections(lines)
    elif kind == "rst":
        sections = _rst_sections(lines)
    elif kind == "asciidoc":
        sections = _asciidoc_sections(lines)
    elif kind == "code":
        return _chunk_code(path, text, lines, language, max_lines, overlap)
    else:
        return _chunk_plain(path, lines, max_lines, overlap)
    return _chunk_sections(path, lines, sections, kind, max_lines, overlap)


# --- prose -----------------------------------------------------------------------------------

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

    def prefer(e: int) -> bool:
        return allowed(e) and e + 1 < len(lines) and not lines[e + 1].strip() and not in_block[e + 1]

    chunks: list[Chunk] = []
    for lo, hi, heading in merged:
        chunks.extend(_make_chunks(
            path, lines, _windows(lines, lo, hi, max_lines, overlap, prefer, allowed), kind, "", heading,
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
    def prefer(e: int) -> bool:
        return e + 1 < len(lines) and not lines[e + 1].strip()

    return _make_chunks(path, lines, _windows(lines, 0, len(lines) - 1, max_lines, overlap, prefer), "text", "")


# --- code ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Syntax:
    """What the line scanner needs to know about one language family."""

    tokens: re.Pattern[str]  # comments and strings; only matches spanning lines matter
    comment: tuple[str, ...]  # line-comment / block-comment openers, for leading comments
    definition: re.Pattern[str]  # matched at a statement start: group "name" (and "kind")
    member: re.Pattern[str] | None = None  # definitions inside a container body
    prefix: tuple[str, ...] = ()  # decorator / attribute openers that belong to the next definition
    continuation: re.Pattern[str] | None = None  # statement-level lines that continue the previous one
    containers: frozenset[str] = frozenset()  # definition kinds whose body holds members
    assignment: re.Pattern[str] | None = None  # module-level names worth listing as symbols
    strings_continue: bool = True  # a line starting with a string literal is not a new statement


# Token patterns are written so the regex engine never backtracks (possessive runs of ordinary
# characters; alternatives inside a token start with different characters): this scan is a third
# of chunking's time on code. They match exactly what the plain forms would (``"(?:\\.|[^"\\\n])*"``,
# a lazy ``"""(?:\\.|[^\\])*?"""``): a quote ends a triple-quoted string only where three meet.
_DQ = r'"(?:[^"\\\n]++|\\.)*+"'
_SQ = r"'(?:[^'\\\n]++|\\.)*+'"
_TRIPLE_DQ = r'"""(?:[^"\\]++|\\.|"(?!""))*+"""'
_TRIPLE_SQ = r"'''(?:[^'\\]++|\\.|'(?!''))*+'''"
_C_TOKENS = re.compile(r"//[^\n]*|/\*.*?\*/|" + _DQ + "|" + _SQ, re.S)
_C_TOKENS_TRIPLE = re.compile(r"//[^\n]*|/\*.*?\*/|" + _TRIPLE_DQ + "|" + _DQ + "|" + _SQ, re.S)
_JS_TOKENS = re.compile(r"//[^\n]*|/\*.*?\*/|`(?:[^`\\]++|\\.)*+`|" + _DQ + "|" + _SQ, re.S)
_HASH_TOKENS = re.compile(r'#[^\n]*|"(?:[^"\\]++|\\.)*+"|' + r"'[^'\n]*'", re.S)
_PY_TOKENS = re.compile(r"#[^\n]*|" + _TRIPLE_DQ + "|" + _TRIPLE_SQ + "|" + _DQ + "|" + _SQ, re.S)
_LUA_TOKENS = re.compile(r"--\[(=*)\[.*?\]\1\]|--[^\n]*|\[(=*)\[.*?\]\2\]|" + _DQ + "|" + _SQ, re.S)
_SQL_TOKENS = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:''|[^'])*'", re.S)
_NO_TOKENS = re.compile(r"(?!x)x")
# What every token that spans lines has on its first line, per token pattern: only a line holding
# one of these can start a multi-line token. A triple-quoted string starts with its quotes, a
# block comment with "/*", a template literal with "`"; a quoted string that continues on the
# next line ends its first line with a backslash (``\\.`` matching the line break); line comments
# never span lines. Patterns not listed here (their strings span lines without a marker) are
# scanned whole. A change to a token pattern must keep its openers complete. Each opener is its
# own literal regex: the engine finds a literal far faster than an alternation of them.
_MULTILINE_OPENERS: dict[re.Pattern[str], tuple[re.Pattern[str], ...]] = {
    tokens: tuple(re.compile(re.escape(opener)) for opener in openers)
    for tokens, openers in (
        (_PY_TOKENS, ('"""', "'''", "\\\n")),
        (_C_TOKENS, ("/*", "\\\n")),
        (_C_TOKENS_TRIPLE, ("/*", '"""', "\\\n")),
        (_JS_TOKENS, ("/*", "`", "\\\n")),
    )
}

_STRING_START = re.compile(r"[rRbBuUfF]{0,2}[\"'`]")
_BRACE_CONTINUATION = re.compile(r"[})\]{]|(?:else|catch|finally|except|elif|where)\b")
_CONTROL = r"(?:if|for|while|switch|catch|return|else|do|try|new|throw|sizeof|case|when|match|elif|with|using|lock|foreach)\b"

_SYNTAX: dict[str, _Syntax] = {
    "python": _Syntax(
        tokens=_PY_TOKENS, comment=("#",), prefix=("@",),
        definition=re.compile(r"(?:async[ \t]+)?(?P<kind>def|class)[ \t]+(?P<name>\w+)"),
        continuation=re.compile(r"[)\]}]|(?:else|elif|except|finally)\b"),
        containers=frozenset({"class"}),
        assignment=re.compile(r"([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)"),
    ),
    "javascript": _Syntax(
        tokens=_JS_TOKENS, comment=("//", "/*", "*"), prefix=("@",),
        definition=re.compile(
            r"(?:export[ \t]+)?(?:default[ \t]+)?(?:declare[ \t]+)?(?:abstract[ \t]+)?(?:async[ \t]+)?"
            r"(?:(?P<kind>function\*?|class|interface|type|enum|namespace|module)[ \t]+(?P<name>[\w$]+)"
            r"|(?:const|let|var)[ \t]+(?P<name2>[\w$]+)[ \t]*(?::[^=]+)?=[ \t]*(?:async[ \t]+)?"
            r"(?:function\b|\([^)]*\)[^=]*=>|[\w$]+[ \t]*=>))"),
        member=re.compile(
            r"(?:(?:public|private|protected|static|readonly|async|get|set|override|abstract|declare)[ \t]+)*"
            r"\*?(?!" + _CONTROL + r")(?P<name>#?[\w$]+)[ \t]*(?:<[^>]*>)?[ \t]*\((?!.*;[ \t]*$)"),
        continuation=_BRACE_CONTINUATION,
        containers=frozenset({"class", "interface", "namespace", "module"}),
    ),
    "go": _Syntax(
        tokens=_JS_TOKENS, comment=("//", "/*", "*"),
        definition=re.compile(
            r"(?:(?P<kind>func)[ \t]+(?:\([ \t]*\w*[ \t]*\*?(?P<receiver>\w+)[^)]*\)[ \t]*)?(?P<name>\w+)"
            r"|(?P<kind2>type)[ \t]+(?P<name2>\w+))"),
        continuation=_BRACE_CONTINUATION,
    ),
    "rust": _Syntax(
        tokens=_C_TOKENS, comment=("//", "/*", "*"), prefix=("#[", "#!["),
        definition=re.compile(
            r"(?:pub(?:\([^)]*\))?[ \t]+)?(?:(?:const|async|unsafe|default|extern[ \t]+\"[^\"]*\")[ \t]+)*"
            r"(?:(?P<kind>fn|struct|enum|trait|mod|type|union|macro_rules!|static|const)[ \t]*(?P<name>\w+)"
            r"|(?P<kind2>impl)\b(?:[ \t]*<[^{]*?>)?[ \t]+(?:[\w:<>, &']+[ \t]+for[ \t]+)?&?(?P<name2>[\w:]+))"),
        member=re.compile(
            r"(?:pub(?:\([^)]*\))?[ \t]+)?(?:(?:const|async|unsafe|default|extern[ \t]+\"[^\"]*\")[ \t]+)*"
            r"(?P<kind>fn|type|const)[ \t]+(?P<name>\w+)"),
        continuation=_BRACE_CONTINUATION,
        containers=frozenset({"impl", "trait", "mod"}),
    ),
    "c": _Syntax(
        tokens=_C_TOKENS, comment=("//", "/*", "*"),
        definition=re.compile(
            r"(?:(?:typedef[ \t]+)?(?:template[ \t]*<[^>]*>[ \t]*)?(?P<kind>struct|class|enum|union|namespace)"
            r"(?:[ \t]+class)?[ \t]+(?:\w+[ \t]+)*?(?P<name>\w+)[ \t]*(?:[:{]|$|final)"
            r"|#[ \t]*define[ \t]+(?P<name3>\w+)"
            r"|(?!" + _CONTROL + r")(?:[\w:*&<>,~]+[ \t]+)*[*&]*(?P<name2>~?[\w:]+)[ \t]*\((?![^\n]*;[ \t]*$))"),
        member=re.compile(
            r"(?:(?P<kind>struct|class|enum|union)[ \t]+(?P<name>\w+)"
            r"|(?!" + _CONTROL + r")(?:[\w:*&<>,~]+[ \t]+)*[*&]*(?P<name2>~?[\w:]+|operator\S+)[ \t]*\((?![^\n]*;[ \t]*$))"),
        continuation=re.compile(r"[})\]{]|(?:else|catch)\b|#[ \t]*(?:endif|else|elif)"),
        containers=frozenset({"class", "struct", "namespace"}),
    ),
    "java": _Syntax(
        tokens=_C_TOKENS_TRIPLE, comment=("//", "/*", "*"), prefix=("@", "["),
        definition=re.compile(
            r"(?:(?:public|private|protected|internal|static|final|abstract|sealed|open|data|inline|value|"
            r"partial|readonly|override|suspend|enum|annotation|companion|inner|fileprivate|export|"
            r"expect|actual|unsafe|extern|async|virtual|new|operator|infix|tailrec|lateinit|const|"
            r"implicit|lazy|case|mutating|convenience|required|final)[ \t]+)*"
            r"(?:(?P<kind>class|interface|enum|record|struct|object|trait|protocol|extension|namespace|"
            r"fun|func|def|void|init|deinit)[ \t]+(?:<[^>]*>[ \t]*)?(?P<name>[\w.]+)"
            r"|(?!" + _CONTROL + r"|return\b)[\w<>\[\],?.@ ]+?[ \t]+(?P<name2>\w+)[ \t]*\((?![^\n]*;[ \t]*$))"),
        continuation=_BRACE_CONTINUATION,
        containers=frozenset({"class", "interface", "enum", "record", "struct", "object", "trait",
                              "protocol", "extension", "namespace"}),
    ),
    "ruby": _Syntax(
        tokens=_HASH_TOKENS, comment=("#",),
        definition=re.compile(r"(?P<kind>def|class|module)[ \t]+(?:self\.)?(?P<name>[\w:.?!=]+)"),
        continuation=re.compile(r"(?:end|else|elsif|rescue|ensure|when|in)\b|[)\]}]"),
        containers=frozenset({"class", "module"}),
    ),
    "php": _Syntax(
        tokens=_C_TOKENS, comment=("//", "/*", "*", "#"), prefix=("#[",),
        definition=re.compile(
            r"(?:(?:abstract|final|readonly|public|private|protected|static)[ \t]+)*"
            r"(?P<kind>function|class|interface|trait|enum)[ \t]+&?(?P<name>\w+)"),
        continuation=_BRACE_CONTINUATION,
        containers=frozenset({"class", "interface", "trait", "enum"}),
    ),
    "lua": _Syntax(
        tokens=_LUA_TOKENS, comment=("--",),
        definition=re.compile(
            r"(?:local[ \t]+)?(?:(?P<kind>function)[ \t]+(?P<name>[\w.:]+)"
            r"|(?P<name2>[\w.]+)[ \t]*=[ \t]*function\b)"),
        continuation=re.compile(r"(?:end|else|elseif|until)\b|[)\]}]"),
    ),
    "shell": _Syntax(
        tokens=_HASH_TOKENS, comment=("#",),
        definition=re.compile(r"(?:function[ \t]+(?P<name>[\w:.-]+)|(?P<name2>[\w:.-]+)[ \t]*\(\))"),
        continuation=re.compile(r"(?:fi|done|esac|else|elif|then|do)\b|[)}]"),
    ),
    "sql": _Syntax(
        tokens=_SQL_TOKENS, comment=("--", "/*", "*"),
        definition=re.compile(
            r"(?i:create)(?:[ \t]+(?i:or[ \t]+replace))?(?:[ \t]+\w+)*?[ \t]+"
            r"(?P<kind>(?i:table|view|function|procedure|index|trigger|type|schema|sequence))"
            r"(?:[ \t]+(?i:if[ \t]+not[ \t]+exists))?[ \t]+(?P<name>[\w.\"`]+)"),
    ),
    "yaml": _Syntax(  # top-level keys are the natural sections of a config file
        tokens=_NO_TOKENS, comment=("#",),
        definition=re.compile(r"(?P<name>[\w.\-\"']+)[ \t]*:(?:[ \t]|$)"),
        continuation=re.compile(r"[-\]}]"), strings_continue=False,
    ),
    "toml": _Syntax(
        tokens=_NO_TOKENS, comment=("#",),
        definition=re.compile(r"\[\[?[ \t]*(?P<name>[^\]]+?)[ \t]*\]\]?"), strings_continue=False,
    ),
    "make": _Syntax(
        tokens=_NO_TOKENS, comment=("#",),
        definition=re.compile(r"(?P<name>[\w./%$(){}-]+)[ \t]*::?(?!=)"),
    ),
    "dockerfile": _Syntax(
        tokens=_NO_TOKENS, comment=("#",),
        definition=re.compile(r"(?i:FROM)[ \t]+\S+(?:[ \t]+(?i:AS)[ \t]+(?P<name>\S+))?"),
    ),
    "generic": _Syntax(tokens=_NO_TOKENS, comment=("#", "//", "--", ";"), definition=re.compile(r"(?!x)x")),
}
_PYTHON = _SYNTAX["python"]
for _alias, _family in {
    "typescript": "javascript", "vue": "javascript", "svelte": "javascript", "kotlin": "java",
    "scala": "java", "groovy": "java", "csharp": "java", "swift": "java", "dart": "java",
    "cpp": "c", "objc": "c", "protobuf": "java", "perl": "shell", "powershell": "shell",
    "ini": "toml", "cmake": "shell", "hcl": "shell", "nix": "shell", "elixir": "ruby",
    "julia": "ruby", "r": "shell", "zig": "rust", "graphql": "java",
}.items():
    _SYNTAX[_alias] = _SYNTAX[_family]


@dataclass(slots=True)
class _Unit:
    start: int  # 0-based inclusive
    end: int
    kind: str  # definition kind ("def", "class", "fn", ...) or "" for other code
    name: str
    def_line: int = -1  # the line holding the definition keyword


_STATEMENT_KIND: dict[tuple[_Syntax, bool], re.Pattern[str]] = {}


def _statement_kind(syntax: _Syntax, member: bool) -> re.Pattern[str]:
    """One regex that tells what a statement is, in the scanner's order of precedence: a
    decorator/attribute opener (group ``_decorator``), else a comment opener (``_comment``), else
    a line that continues the statement above (``_continues``: a closing bracket, ``else``..., or
    a string literal, which at statement level continues a call or expression above), else a
    definition (the language's own groups), else no match.

    One ``match`` per statement instead of up to two ``startswith`` and three ``match`` calls,
    with the same answers: an alternation matches at the start exactly when one of its branches
    does, and the first branch that does decides (and sets the groups)."""
    key = (syntax, member)
    pattern = _STATEMENT_KIND.get(key)
    if pattern is None:
        branches = []
        if syntax.prefix:
            branches.append("(?P<_decorator>" + "|".join(map(re.escape, syntax.prefix)) + ")")
        branches.append("(?P<_comment>" + "|".join(map(re.escape, syntax.comment)) + ")")
        continues = [syntax.continuation.pattern] if syntax.continuation is not None else []
        if syntax.strings_continue:
            continues.append(_STRING_START.pattern)
        if continues:
            branches.append("(?P<_continues>" + "|".join(f"(?:{c})" for c in continues) + ")")
        definition = (syntax.member or syntax.definition) if member else syntax.definition
        branches.append(f"(?:{definition.pattern})")
        for part in (definition, syntax.continuation):
            # Only the pattern text is combined: flags given to re.compile would be lost.
            assert part is None or part.flags == re.UNICODE, f"use inline flags in {part.pattern!r}"
        pattern = _STATEMENT_KIND[key] = re.compile("|".join(branches))
    return pattern


class _CodeScan:
    """Per-line facts for one code file: inside a multi-line string/comment, indentation."""

    def __init__(self, text: str, lines: list[str], syntax: _Syntax) -> None:
        self.lines = lines
        self.syntax = syntax
        n = len(lines)
        self.masked = bytearray(n)  # 1: the line continues a string/comment that began above
        if syntax.tokens is not _NO_TOKENS:
            self._mask(_normalized(text), syntax.tokens, n)

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
        openers = _MULTILINE_OPENERS.get(tokens)
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
        kind_of = _statement_kind(self.syntax, member)
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


def _chunk_code(path: str, text: str, lines: list[str], language: str, max_lines: int, overlap: int) -> list[Chunk]:
    syntax = _SYNTAX.get(language, _SYNTAX["generic"])
    scan = _CodeScan(text, lines, syntax)
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
    out: list[Chunk], path: str, scan: _CodeScan, language: str, units: list[_Unit],
    scope: tuple[str, ...], max_lines: int, overlap: int, depth: int,
) -> None:
    lines = scan.lines
    qual = ".".join(scope)

    def qualified(name: str) -> str:
        return f"{qual}.{name}" if qual and name else name

    def prefer(e: int) -> bool:
        return e + 1 < len(lines) and not lines[e + 1].strip()

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
            out.extend(_make_chunks(
                path, lines, _windows(lines, unit.start, unit.end, max_lines, overlap, prefer), "code", language,
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
        out.extend(_make_chunks(
            path, lines, _windows(lines, units[i].start, units[j - 1].end, max_lines, overlap, prefer), "code", language,
            symbols=tuple(dict.fromkeys(names)), doc=doc,
        ))
        i = j


def _content_size(lines: list[str], lo: int, hi: int) -> int:
    while hi > lo and not lines[hi].strip():
        hi -= 1
    return hi - lo + 1


def _emit_container(
    out: list[Chunk], path: str, scan: _CodeScan, language: str, unit: _Unit, scope: tuple[str, ...],
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
        def prefer(e: int) -> bool:
            return e + 1 < len(lines) and not lines[e + 1].strip()
        out.extend(_make_chunks(
            path, lines, _windows(lines, unit.start, header_end, max_lines, overlap, prefer), "code", language,
            symbols=(name,), doc=doc,
        ))
    _emit_units(out, path, scan, language, rest, scope, max_lines, overlap, depth + 1)
    return True


def _doc_for(scan: _CodeScan, unit: _Unit) -> str:
    """A definition's docstring (Python) or the comment block right above it."""
    lines = scan.lines
    if scan.syntax is _PYTHON and unit.def_line >= 0:
        doc = _python_docstring(lines, unit.def_line, unit.end)
        if doc:
            return doc
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
_DOC_OPEN = re.compile(r"[rRuUbB]{0,2}(\"\"\"|'''|\"|')")


def _python_docstring(lines: list[str], def_line: int, end: int) -> str:
    # The signature ends at the first line (from the def) whose code ends with ":".
    for k in range(def_line, min(end, def_line + 30) + 1):
        code = lines[k]
        if "#" in code:  # most lines have no comment: no split, no new string
            code = code[:code.index("#")]
        if code.rstrip().endswith(":"):
            break
    else:
        return ""
    for k in range(k + 1, end + 1):  # the first statement of the body
        first = lines[k].strip()
        if first:
            break
    else:
        return ""
    m = _DOC_OPEN.match(first)
    if not m:
        return ""
    quote = m.group(1)
    body = first[m.end():]
    if quote in body:
        return _cap(body[:body.index(quote)].strip())
    # Every line of the docstring, stripped (lines hold no line breaks, so this is a dedent).
    parts = [body.strip()]
    for j in range(k + 1, min(end, k + 200) + 1):
        line = lines[j]
        if quote in line:
            parts.append(line[:line.index(quote)].strip())
            break
        parts.append(line.strip())
    return _cap("\n".join(parts).strip())


def _cap(text: str, limit: int = 1000) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def _module_doc(scan: _CodeScan, unit: _Unit) -> str:
    if unit.start == 0 and scan.syntax is _PYTHON:
        k = 0
        while k <= unit.end and (not scan.lines[k].strip() or scan.lines[k].lstrip().startswith("#")):
            k += 1
        if k <= unit.end and _DOC_OPEN.match(scan.lines[k].strip()):
            return _python_docstring(["x:"] + scan.lines[k:unit.end + 1], 0, unit.end - k + 1)
    return ""


def _assigned_names(scan: _CodeScan, unit: _Unit) -> list[str]:
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
