"""ragls.lsp.convert: columns in every position encoding, citation ranges and links."""

from pathlib import Path

import pytest

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
    lines = {0: "# T", 1: "first 😀 line", 2: "second line"}
    citation = Citation(id=1, path="docs/a b.md", start_line=2, end_line=3, root=str(tmp_path))
    seen = []

    def line_of(path: Path, line: int):
        seen.append((path, line))
        return lines.get(line)

    rng = convert.citation_range(citation, line_of)
    assert (rng.start.line, rng.start.character) == (1, 0)
    assert (rng.end.line, rng.end.character) == (2, len("second line"))
    assert seen == [(tmp_path / "docs" / "a b.md", 2)]
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
    line_of = lambda path, line: path.read_text().split("\n")[line]  # noqa: E731
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
