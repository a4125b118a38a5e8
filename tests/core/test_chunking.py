"""Chunk boundaries, heading paths and symbols, as tables; the line-range invariant with hypothesis."""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ragls.core.chunking import chunk_document, language_for, split_lines


def spans(chunks):
    return [(c.start_line, c.end_line) for c in chunks]


def assert_invariant(text, chunks):
    lines = split_lines(text)
    for c in chunks:
        assert 1 <= c.start_line <= c.end_line <= len(lines)
        assert c.text == "\n".join(lines[c.start_line - 1:c.end_line])
    covered = set()
    for c in chunks:
        covered.update(range(c.start_line, c.end_line + 1))
    for number, line in enumerate(lines, 1):
        if line.strip():
            assert number in covered, f"line {number} not in any chunk: {line!r}"


# --- file kinds ------------------------------------------------------------------------------

@pytest.mark.parametrize("path, expected", [
    ("docs/a.md", ("markdown", "")),
    ("docs/a.MDX", ("markdown", "")),
    ("guide.rst", ("rst", "")),
    ("book.adoc", ("asciidoc", "")),
    ("notes.txt", ("text", "")),
    ("README", ("text", "")),
    ("sub/LICENSE", ("text", "")),
    ("CHANGELOG", ("text", "")),
    ("server/app.py", ("code", "python")),
    ("types.pyi", ("code", "python")),
    ("web/App.tsx", ("code", "typescript")),
    ("main.go", ("code", "go")),
    ("lib.rs", ("code", "rust")),
    ("Main.java", ("code", "java")),
    ("x.hpp", ("code", "cpp")),
    ("Makefile", ("code", "make")),
    ("Dockerfile", ("code", "dockerfile")),
    ("pyproject.toml", ("code", "toml")),
    ("ci.yml", ("code", "yaml")),
    ("image.png", None),
    ("icon.svg", None),
    ("archive.tar.gz", None),
    ("noext", None),
])
def test_language_for(path, expected):
    assert language_for(path) == expected


@pytest.mark.parametrize("text, expected", [
    ("a\nb\n", ["a", "b"]),
    ("a\r\nb", ["a", "b"]),
    ("a\rb\r\n\nc", ["a", "b", "", "c"]),
    ("form\x0cfeed\nx", ["form\x0cfeed", "x"]),  # editors do not break lines at \f
    ("", []),
])
def test_split_lines_counts_like_an_editor(text, expected):
    assert split_lines(text) == expected


# --- markdown --------------------------------------------------------------------------------

MARKDOWN = """\
---
title: Leases
weight: 30
---

Intro paragraph.

## Node heartbeats {#node-heart-beats}

Heartbeat text.

```bash
# not a heading
echo hi
```

## Leader election

### Election details

Details.

Setext Title
------------

Under setext.
"""


def test_markdown_sections_heading_paths_and_front_matter():
    chunks = chunk_document("docs/leases.md", MARKDOWN)
    assert [(c.start_line, c.end_line, c.heading) for c in chunks] == [
        (1, 6, ("Leases",)),  # front matter joins the preamble; its title heads the path (no H1)
        (8, 15, ("Leases", "Node heartbeats")),  # "{#anchor}" dropped; "# not a heading" stays inside
        (17, 21, ("Leases", "Leader election", "Election details")),  # bare "## Leader election" joins its child
        (23, 26, ("Leases", "Setext Title")),
    ]
    assert all(c.kind == "markdown" and c.language == "" for c in chunks)
    assert_invariant(MARKDOWN, chunks)


@pytest.mark.parametrize("text, expected", [
    # An H1 present: the front-matter title is not prepended.
    ("---\ntitle: T\n---\n# Top\n\nx\n## Sub\ny\n", [(1, 3, ()), (4, 6, ("Top",)), (7, 8, ("Top", "Sub"))]),
    # TOML front matter.
    ("+++\ntitle = \"Toml\"\n+++\n## A\nbody\n", [(1, 3, ("Toml",)), (4, 5, ("Toml", "A"))]),
    # Setext H1 and H2; "---" after a blank line is a thematic break, not a heading.
    ("Title\n=====\n\ntext\n\n---\n\nSub\n---\nmore\n", [(1, 6, ("Title",)), (8, 10, ("Title", "Sub"))]),
    # Headings close sibling levels: "## B" pops "### A1".
    ("# R\n## A\n### A1\nx\n## B\ny\n", [(1, 4, ("R", "A", "A1")), (5, 6, ("R", "B"))]),
    # Tilde fences; an indented "# x" is code, not a heading.
    ("# A\n~~~\n# no\n~~~\n    # no either\n# B\nz\n", [(1, 5, ("A",)), (6, 7, ("B",))]),
    # An unclosed fence hides every later heading.
    ("# A\n```\n# x\n# y\n", [(1, 4, ("A",))]),
])
def test_markdown_table(text, expected):
    chunks = chunk_document("a.md", text)
    assert [(c.start_line, c.end_line, c.heading) for c in chunks] == expected
    assert_invariant(text, chunks)


def test_long_markdown_section_splits_with_overlap_and_keeps_heading():
    body = []
    for p in range(12):
        body += [f"para {p} line {k}" for k in range(4)] + [""]
    text = "# Big\n\n" + "\n".join(body) + "\n"
    chunks = chunk_document("big.md", text, max_lines=20, overlap=3)
    assert len(chunks) >= 3
    assert all(c.heading == ("Big",) for c in chunks)
    assert all(c.end_line - c.start_line + 1 <= 20 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):
        assert b.start_line <= a.end_line + 1  # no gap
        assert a.end_line - b.start_line + 1 <= 3  # at most `overlap` shared lines
        assert not split_lines(text)[a.end_line].strip()  # cut at a paragraph break
    assert_invariant(text, chunks)


def test_long_section_is_not_cut_inside_a_fence_when_avoidable():
    code = [f"    line {k}" for k in range(15)]
    text = "# S\n\n" + "\n".join(["intro"] * 8) + "\n\n```\n" + "\n".join(code) + "\n```\n\nafter\n"
    chunks = chunk_document("f.md", text, max_lines=20, overlap=2)
    lines = split_lines(text)
    fence_open, fence_close = 11, 11 + 16  # 1-based
    for c in chunks[:-1]:
        assert not (fence_open <= c.end_line < fence_close), (spans(chunks), lines[c.end_line - 1])
    assert_invariant(text, chunks)


def test_k8s_style_page_without_h1_uses_title():
    pages = sorted(Path("/work/shared/eval/k8s-docs/docs").glob("concepts_architecture_leases.md"))
    if not pages:
        pytest.skip("k8s-docs not available")
    text = pages[0].read_text()
    chunks = chunk_document("leases.md", text)
    assert chunks[0].heading == ("Leases",)
    assert ("Leases", "Leader election") in [c.heading for c in chunks]
    assert_invariant(text, chunks)


# --- reST and AsciiDoc -----------------------------------------------------------------------

RST = """\
=========
 Project
=========

Intro.

Install
=======

Linux
-----

Use apt.

Proxy
~~~~~

Set HTTP_PROXY.

Usage
=====

Run it::

    Not a title
    -----------
"""


def test_rst_levels_follow_first_seen_styles():
    chunks = chunk_document("doc.rst", RST)
    assert [(c.start_line, c.end_line, c.heading) for c in chunks] == [
        (1, 5, ("Project",)),
        (7, 13, ("Project", "Install", "Linux")),
        (15, 18, ("Project", "Install", "Linux", "Proxy")),
        (20, 26, ("Project", "Usage")),
    ]
    assert_invariant(RST, chunks)


def test_asciidoc_headings_and_listing_blocks():
    text = "= Guide\n\nIntro.\n\n== Setup\n\n----\n== not a heading\n----\n\n=== Deep\n\nx\n"
    chunks = chunk_document("g.adoc", text)
    assert [(c.start_line, c.end_line, c.heading) for c in chunks] == [
        (1, 3, ("Guide",)), (5, 9, ("Guide", "Setup")), (11, 13, ("Guide", "Setup", "Deep")),
    ]


def test_plain_text_packs_paragraphs():
    text = "\n\n".join("\n".join(f"p{p} l{k}" for k in range(3)) for p in range(10)) + "\n"
    chunks = chunk_document("notes.txt", text, max_lines=12, overlap=0)
    assert spans(chunks)[0] == (1, 11)  # three paragraphs (11 lines) fit, the fourth does not
    assert all(c.kind == "text" and c.heading == () for c in chunks)
    assert_invariant(text, chunks)


# --- python ----------------------------------------------------------------------------------

PYTHON = '''\
"""Module docstring."""
import os

DEFAULT_TIMEOUT = 30

# Comment that belongs to retry.
@decorator(
    attempts=3,
)
def retry(fn):
    """Retry a call."""
    return fn


class Session:
    """A session."""

    timeout = 1

    def open(self):
        return 1

    @property
    def closed(self):
        # says whether it is closed
        return False

    class Inner:
        def deep(self):
            return 2


async def main():
    await x()


if __name__ == "__main__":
    main()
'''


def test_python_definitions_decorators_and_docs():
    chunks = chunk_document("pkg/mod.py", PYTHON)
    assert [(c.start_line, c.end_line, c.symbols, c.doc) for c in chunks] == [
        (1, 4, ("DEFAULT_TIMEOUT",), "Module docstring."),
        (6, 12, ("retry",), "Retry a call."),
        (15, 30, ("Session",), "A session."),
        (33, 34, ("main",), ""),
        (37, 38, (), ""),
    ]
    assert all(c.kind == "code" and c.language == "python" and c.heading == () for c in chunks)
    assert_invariant(PYTHON, chunks)


def test_long_python_class_splits_into_methods():
    chunks = chunk_document("pkg/mod.py", PYTHON, max_lines=10, overlap=1)
    table = [(c.start_line, c.end_line, c.symbols) for c in chunks]
    assert (15, 18, ("Session",)) in table  # header: class line, docstring, attributes
    assert (20, 21, ("Session.open",)) in table
    assert (23, 26, ("Session.closed",)) in table
    assert (28, 30, ("Session.Inner",)) in table
    assert_invariant(PYTHON, chunks)


def test_tiny_definitions_pack_together_but_not_with_other_code():
    text = "import a\n\ndef f(): pass\ndef g(): pass\n\nX = f()\n"
    chunks = chunk_document("t.py", text)
    assert [(c.start_line, c.end_line, c.symbols) for c in chunks] == [(1, 1, ()), (3, 4, ("f", "g")), (6, 6, ("X",))]


def test_python_syntax_error_never_raises():
    text = "def broken(:\n    pass\n\nclass Fine:\n    x = '''unterminated\n"
    chunks = chunk_document("bad.py", text)
    assert [s for c in chunks for s in c.symbols] == ["broken", "Fine"]
    assert_invariant(text, chunks)


def test_python_string_at_column_zero_does_not_end_a_function():
    text = 'def f():\n    x = g(\n"""\\\ntext at column zero\n""")\n    return x\n\ndef h():\n    pass\n'
    chunks = chunk_document("s.py", text)
    assert [(c.start_line, c.end_line, c.symbols) for c in chunks] == [(1, 6, ("f",)), (8, 9, ("h",))]


def test_python_top_level_definitions_agree_with_ast_on_stdlib():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    checked = 0
    for name in ("argparse.py", "dataclasses.py", "json/decoder.py", "functools.py", "pathlib.py"):
        path = stdlib / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        chunks = chunk_document(name, text, max_lines=10**6)
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                owners = [c for c in chunks if node.name in c.symbols]
                assert any(c.start_line <= start and c.end_line >= node.end_lineno for c in owners), node.name
                checked += 1
    assert checked > 50


# --- other languages -------------------------------------------------------------------------

JS = """\
import x from "y";

/** Adds numbers. */
export function add(a, b) {
  return a + b;
}

export const mul = (a, b) => {
  return a * b;
};

export class Calc {
  constructor() {
    this.v = 0;
  }
}
"""

TS = """\
export interface Options {
  name: string;
  retries: number;
}

type Id = string | number;

export default async function run(opts: Options): Promise<void> {
  const tpl = `
function notReal() {
`;
  await go(tpl);
}
"""

GO = """\
package main

import "fmt"

// Server serves.
type Server struct {
	addr string
	port int
}

func (s *Server) Start() error {
	fmt.Println(s.addr)
	return nil
}

func main() {
	s := &Server{}
	s.Start()
}
"""

RUST = """\
use std::fmt;

#[derive(Debug)]
pub struct Point {
    x: i32,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.x)
    }
}
"""


@pytest.mark.parametrize("path, text, expected", [
    ("a.js", JS, [(1, 1, ()), (3, 6, ("add",)), (8, 10, ("mul",)), (12, 16, ("Calc",))]),
    ("a.ts", TS, [(1, 4, ("Options",)), (6, 6, ("Id",)), (8, 13, ("run",))]),
    ("main.go", GO, [(1, 3, ()), (5, 9, ("Server",)), (11, 14, ("Server.Start",)), (16, 19, ("main",))]),
    ("lib.rs", RUST, [(1, 1, ()), (3, 6, ("Point",)), (8, 12, ("Point",))]),
])
def test_code_definitions_table(path, text, expected):
    chunks = chunk_document(path, text)
    assert [(c.start_line, c.end_line, c.symbols) for c in chunks] == expected
    assert_invariant(text, chunks)


def test_go_leading_comment_is_the_doc():
    chunks = chunk_document("main.go", GO)
    assert chunks[1].doc == "Server serves."


def test_long_java_class_splits_into_methods():
    methods = "\n\n".join(
        f"    public int method{k}(int a) {{\n" + "\n".join(f"        a += {j};" for j in range(6)) + "\n        return a;\n    }"
        for k in range(8))
    text = "package p;\n\npublic class Big {\n    private int x;\n\n" + methods + "\n}\n"
    chunks = chunk_document("Big.java", text, max_lines=30)
    symbols = [s for c in chunks for s in c.symbols]
    assert "Big" in symbols and "Big.method0" in symbols and "Big.method7" in symbols
    assert all(c.end_line - c.start_line + 1 <= 30 for c in chunks)
    assert_invariant(text, chunks)


def test_unstructured_code_falls_back_to_windows():
    text = "\n".join(f"  x{k} = {k}" for k in range(200)) + "\n"
    chunks = chunk_document("data.lua", text, max_lines=50, overlap=5)
    assert len(chunks) >= 4
    assert all(c.end_line - c.start_line + 1 <= 50 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):
        assert a.end_line - b.start_line + 1 == 5
    assert_invariant(text, chunks)


@pytest.mark.parametrize("text", ["", "   \n\n\t\n"])
@pytest.mark.parametrize("path", ["a.md", "a.rst", "a.adoc", "a.txt", "a.py", "a.go", "a.yaml"])
def test_empty_documents_give_no_chunks(path, text):
    assert chunk_document(path, text) == []


# --- the invariant, for every kind -----------------------------------------------------------

_LINE_PIECES = st.sampled_from([
    "", " ", "# Title", "## Sub {#id}", "### x", "```", "~~~", "---", "+++", "===", "title: T",
    "Heading", "=======", "-------", "~~~~~~~", "= Doc", "== Sec", "----", "....", "text line",
    "def f(x):", "    return x", "class C:", "    def m(self):", "        pass", "@dec", "'''",
    '"""', "# comment", "// comment", "/* block", " * more", " */", "function g() {", "}", "{",
    "func (s *S) M() {", "fn main() {", "impl X for Y {", "`", "  indented", "\t\ttabs", "x = 1",
    "key: value", "[section]", "if x:", "else:", "end", "\r", "a\x0cb", "é ü", "\\",
])
_TEXTS = st.lists(_LINE_PIECES, max_size=60).map("\n".join) | st.text(max_size=400)


@settings(max_examples=150, deadline=None)
@given(text=_TEXTS, path=st.sampled_from(
    ["a.md", "a.rst", "a.adoc", "a.txt", "a.py", "a.js", "a.go", "a.rs", "A.java", "a.c", "a.rb",
     "a.sh", "a.lua", "a.yaml", "a.toml", "a.sql", "Makefile", "a.json"]),
       max_lines=st.integers(1, 12), overlap=st.integers(0, 4))
def test_chunks_are_exact_line_ranges_for_any_input(text, path, max_lines, overlap):
    chunks = chunk_document(path, text, max_lines=max_lines, overlap=overlap)
    assert_invariant(text, chunks)
    for c in chunks:
        assert c.end_line - c.start_line + 1 <= max_lines
        assert c.path == path
    assert [c.start_line for c in chunks] == sorted(c.start_line for c in chunks)


# --- The string/comment mask: the opener shortcut equals a scan of the whole text ----------------

from ragls.core.chunking.code import CodeScan  # noqa: E402
from ragls.core.chunking.syntax import MULTILINE_OPENERS  # noqa: E402
from ragls.core.lines import normalized  # noqa: E402


def _mask_by_full_scan(text: str, tokens) -> bytes:
    """The plain definition ``CodeScan._mask`` speeds up: every token of the whole text, and the
    lines after the first of each token that spans lines are masked."""
    norm = normalized(text)
    n = len(split_lines(text))
    masked = bytearray(n)
    for m in tokens.finditer(norm):
        start, end = m.span()
        first = norm.count("\n", 0, start)
        last = min(first + norm.count("\n", start, end), n - 1)
        masked[first + 1:last + 1] = b"\x01" * max(0, last - first)
    return bytes(masked)


_MASK_PIECES = ['"', "'", '"""', "'''", "`", "\\", "/*", "*/", "//", "#", "\n", "\r\n", "\r", "x", " ", "${", "}", "r'", "f\""]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_MASK_PIECES), max_size=40), st.sampled_from(sorted(MULTILINE_OPENERS, key=lambda p: p.pattern)))
def test_mask_from_opener_lines_equals_a_full_scan(pieces, tokens):
    # A token pattern listed in MULTILINE_OPENERS must name every way its tokens can span lines;
    # if a pattern changes and its openers do not, this finds the text where the two disagree.
    text = "".join(pieces)
    lines = split_lines(text)
    scan = CodeScan.__new__(CodeScan)
    scan.masked = bytearray(len(lines))
    scan._mask(normalized(text), tokens, len(lines))
    assert bytes(scan.masked) == _mask_by_full_scan(text, tokens)
