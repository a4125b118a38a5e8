"""ragls.lsp.convert: lines and columns in every position encoding, ranges, citations and links;
and the same conversions end to end (hover and ask on the real server)."""

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.capabilities import ServerCapabilitiesBuilder

from ragls.core.lines import Position, Span, text_in
from ragls.core.types import Answer, Citation
from ragls.lsp import convert

LINE = "a😀b é"  # 😀 is astral: 2 UTF-16 units, 4 UTF-8 bytes; é is 2 UTF-8 bytes


@pytest.mark.parametrize(
    ("encoding", "columns"),
    [
        ("utf-16", [0, 1, 3, 4, 5, 6]),
        ("utf-8", [0, 1, 5, 6, 7, 9]),
        ("utf-32", [0, 1, 2, 3, 4, 5]),
    ],
)
def test_columns_round_trip(encoding, columns):
    for index, column in enumerate(columns):
        assert convert.codepoints_to_column(LINE, index, encoding) == column
        assert convert.column_to_codepoints(LINE, column, encoding) == index
    assert convert.line_length(LINE, encoding) == columns[-1]


def test_columns_inside_a_character_or_past_the_end_are_clamped():
    assert convert.column_to_codepoints(LINE, 2, "utf-16") == 1  # inside the surrogate pair
    assert convert.column_to_codepoints(LINE, 3, "utf-8") == 1  # inside the emoji's bytes
    assert convert.column_to_codepoints(LINE, 99, "utf-16") == len(LINE)
    assert convert.column_to_codepoints(LINE, -1, "utf-16") == 0


def test_citation_range_covers_whole_lines(tmp_path):
    lines = {1: "# T", 2: "first 😀 line", 3: "second line"}  # keyed by core (1-based) line number
    citation = Citation(id=1, path="docs/a b.md", start_line=2, end_line=3, root=str(tmp_path))
    seen = []

    def line_of(path: Path, line: int):
        seen.append((path, line))
        return lines.get(line)

    rng = convert.citation_range(citation, line_of)
    assert (rng.start.line, rng.start.character) == (1, 0)
    assert (rng.end.line, rng.end.character) == (2, len("second line"))
    assert seen == [(tmp_path / "docs" / "a b.md", 3)]  # the lookup is asked for core line 3
    one_line = Citation(id=1, path="docs/a b.md", start_line=2, end_line=2, root=str(tmp_path))
    assert convert.citation_range(one_line, line_of).end.character == 13  # UTF-16: the emoji counts 2
    assert convert.citation_range(one_line, line_of, "utf-8").end.character == 15


def test_citation_link_opens_the_first_line_and_survives_markdown(tmp_path):
    citation = Citation(id=2, path="docs/x (draft)/a b.md", start_line=12, end_line=20, root=str(tmp_path))
    link = convert.citation_link(citation)
    label, target = link[1:-1].split("](")
    assert label == "docs/x (draft)/a b.md:12-20"
    assert target.endswith("/docs/x%20%28draft%29/a%20b.md#L12")
    assert "(" not in target and ")" not in target and " " not in target
    assert convert.uri_to_path(target.split("#")[0]) == tmp_path / "docs" / "x (draft)" / "a b.md"


def test_ask_result_and_hover_markdown(tmp_path):
    (tmp_path / "d.md").write_text("one\ntwo\n")
    citation = Citation(id=1, path="d.md", start_line=2, end_line=2, title="D", snippet="two", root=str(tmp_path))
    answer = Answer(text="Two is two. [1]", citations=(citation,), abstained=False, warnings=("w",))
    line_of = lambda path, number: path.read_text().split("\n")[number - 1]  # noqa: E731
    result = convert.ask_result(answer, line_of, index_complete=False, warnings=("x",))
    assert result["citations"] == [
        {"id": 1, "uri": (tmp_path / "d.md").as_uri(), "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 3}}, "title": "D", "snippet": "two"}
    ]
    assert result["indexComplete"] is False and result["warnings"] == ["w", "x"]
    markdown = convert.hover_markdown(answer, index_complete=False)
    assert markdown.startswith("Two is two. [1]")
    assert f"[d.md:2-2]({(tmp_path / 'd.md').as_uri()}#L2)" in markdown
    assert "still indexing" in markdown


def test_uri_to_path_ignores_other_schemes():
    assert convert.uri_to_path("untitled:Untitled-1") is None
    assert convert.uri_to_path("file:///tmp/a%20b.md") == Path("/tmp/a b.md")


# --- LSP positions ↔ core lines/columns -------------------------------------------------------------

def test_lines_are_zero_based_in_lsp_and_one_based_in_the_core():
    assert convert.to_core_line(0) == 1
    assert convert.to_core_line(41) == 42
    assert convert.to_lsp_line(1) == 0
    assert convert.to_lsp_line(42) == 41
    assert convert.to_lsp_line(0) == 0  # below the first line: the first line


def test_citation_on_the_first_and_the_last_line_of_a_file(tmp_path):
    lines = {1: "alpha 😀", 2: "beta", 3: "gamma 😀😀"}
    line_of = lambda path, number: lines.get(number)  # noqa: E731
    first = convert.citation_range(Citation(id=1, path="a.md", start_line=1, end_line=1, root=str(tmp_path)), line_of)
    assert (first.start.line, first.start.character, first.end.line, first.end.character) == (0, 0, 0, 8)
    last = convert.citation_range(Citation(id=1, path="a.md", start_line=3, end_line=3, root=str(tmp_path)), line_of, "utf-8")
    assert (last.start.line, last.end.line, last.end.character) == (2, 2, len("gamma 😀😀".encode()))


def test_word_range_puts_a_core_line_back_on_its_lsp_line():
    line = "😀 flux_budget"
    rng = convert.word_range(1, line, 2, 13)
    assert (rng.start.line, rng.start.character, rng.end.line, rng.end.character) == (0, 3, 0, 14)  # UTF-16 units
    rng = convert.word_range(7, line, 2, 13, "utf-8")
    assert (rng.start.line, rng.start.character, rng.end.character) == (6, 5, 16)


def _range(start_line, start_character, end_line, end_character):
    return types.Range(
        start=types.Position(line=start_line, character=start_character),
        end=types.Position(line=end_line, character=end_character),
    )


SELECTED = "first 😀 line\nsecond\nlast 😀"


@pytest.mark.parametrize(
    ("rng", "encoding", "span", "text"),
    [
        # a whole line selected the way editors do: up to column 0 of the next line
        (_range(0, 0, 1, 0), "utf-16", Span(Position(1, 0), Position(2, 0)), "first 😀 line\n"),
        # the emoji alone: 2 UTF-16 units, 4 UTF-8 bytes, 1 code point
        (_range(0, 6, 0, 8), "utf-16", Span(Position(1, 6), Position(1, 7)), "😀"),
        (_range(0, 6, 0, 10), "utf-8", Span(Position(1, 6), Position(1, 7)), "😀"),
        (_range(0, 6, 0, 7), "utf-32", Span(Position(1, 6), Position(1, 7)), "😀"),
        # from after the emoji on the first line to the end of the last line
        (_range(0, 8, 2, 7), "utf-16", Span(Position(1, 7), Position(3, 6)), " line\nsecond\nlast 😀"),
        # past the end of the document: stops at the end of its last line
        (_range(1, 2, 2**31 - 1, 0), "utf-16", Span(Position(2, 2), Position(3, 6)), "cond\nlast 😀"),
    ],
)
def test_to_core_span(rng, encoding, span, text):
    assert convert.to_core_span(SELECTED, rng, encoding) == span
    assert text_in(SELECTED, span) == text


def test_to_core_span_of_a_range_outside_the_text():
    assert convert.to_core_span(SELECTED, _range(3, 0, 4, 0)) is None  # starts past the end
    assert convert.to_core_span(SELECTED, _range(2, 0, 1, 0)) is None  # ends before it starts


# --- the same conversions end to end: the real server, hovering and asking --------------------------

FLUX_DOC = "The `flux_budget` caps how many retries one minute may spend.\nEvery hour the 😀😀 flux_budget resets to its full size.\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The workspace the conftest's ``client`` serves: one document whose both lines mention the symbol."""
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "flux.md").write_text(FLUX_DOC, encoding="utf-8")
    return root


def _negotiated_encoding(client) -> str:
    chosen = ServerCapabilitiesBuilder.choose_position_encoding(client.capabilities)  # as the server chose
    return getattr(chosen, "value", chosen)  # VS Code gets the enum member, Neovim its own "utf-8"


def _units(text: str, encoding: str) -> int:
    """The length of ``text`` in ``encoding``'s code units, counted by Python's own codecs."""
    codec, unit = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}[encoding]
    return len(text.encode(codec)) // unit


async def _hover(client, uri: str, line: int, character: int):
    return await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character))
    )


async def test_hover_on_the_first_and_last_line_cites_the_other_line(client, workspace):
    # The hovered line is the one the user reads, so it is never the cited sentence: a hover on
    # line 1 cites line 2 and a hover on line 2 cites line 1. An off-by-one anywhere between the
    # LSP position and the core line swaps or duplicates them.
    encoding = _negotiated_encoding(client)
    path = workspace / "docs" / "flux.md"
    uri, lines = path.as_uri(), FLUX_DOC.splitlines()
    link = f"({path.as_uri()}#L"

    first = await _hover(client, uri, 0, lines[0].index("flux_budget") + 4)
    assert first is not None
    assert "flux.md:2-2" in first.contents.value and f"{link}2)" in first.contents.value
    assert "flux.md:1-1" not in first.contents.value
    assert (first.range.start.line, first.range.end.line) == (0, 0)

    # the cursor on the right edge of the name, after two astral characters: in the negotiated
    # encoding's units, that column lies past the line's end if read as code points
    start = lines[1].index("flux_budget")
    end_units = _units(lines[1][: start + len("flux_budget")], encoding)
    last = await _hover(client, uri, 1, end_units)
    assert last is not None
    assert "flux.md:1-1" in last.contents.value and f"{link}1)" in last.contents.value
    assert "flux.md:2-2" not in last.contents.value
    assert (last.range.start.line, last.range.end.line) == (1, 1)
    assert (last.range.start.character, last.range.end.character) == (_units(lines[1][:start], encoding), end_units)

    assert await _hover(client, uri, 2, 0) is None  # the empty line after the final line break
    assert await _hover(client, uri, 9, 0) is None  # past the end


async def test_ask_citations_end_at_the_end_of_their_last_line(client, workspace, helpers):
    encoding = _negotiated_encoding(client)
    result = await helpers.ask(client, "When does the flux_budget reset?")
    lines = FLUX_DOC.splitlines()
    assert result["citations"], result
    for citation in result["citations"]:
        start, end = citation["range"]["start"], citation["range"]["end"]
        assert start["character"] == 0 and 0 <= start["line"] <= end["line"] < len(lines)
        assert end["character"] == _units(lines[end["line"]], encoding)
    assert any(c["range"]["end"]["line"] == 1 for c in result["citations"])  # the astral line, in units
