"""ragls.core.lines: 1-based line numbers over LSP line breaks, code point columns, spans."""

import pytest
from hypothesis import given, strategies as st

from ragls.core.lines import Position, Span, line_at, lines_between, normalized, split_lines, text_in

TEXT = "first line\n  x = 1\r\nconfigure(maxRetries)\rlast"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1, "first line"),  # the first line is line 1
        (2, "  x = 1"),  # \r\n ends it
        (3, "configure(maxRetries)"),  # a lone \r ends it
        (4, "last"),  # the last line has no break
        (5, None),
        (0, None),
        (-1, None),
    ],
)
def test_line_at_is_one_based(number, expected):
    assert line_at(TEXT, number) == expected
    assert line_at(TEXT.replace("\r\n", "\n").replace("\r", "\n"), number) == expected  # the fast path agrees


def test_line_at_uses_lsp_line_breaks_only():
    assert line_at("a\u2028b\fc\nd", 1) == "a\u2028b\fc"  # U+2028 and form feeds do not break lines
    assert line_at("a\nb", 2) == "b"
    assert line_at("a\n", 2) == ""  # after a final line break: where the cursor goes next
    assert line_at("a\n", 3) is None


def test_lines_between_is_one_based_inclusive_and_bounded_by_the_text():
    assert lines_between(TEXT, 1, 1) == ["first line"]
    assert lines_between(TEXT, 2, 3) == ["  x = 1", "configure(maxRetries)"]
    assert lines_between(TEXT, 4, 2**31) == ["last"]
    assert lines_between("a\nb\nc", 2, 3) == ["b", "c"]
    assert lines_between(TEXT, 3, 2) == []
    assert lines_between(TEXT, 0, 2) == []
    assert lines_between(TEXT, 9, 12) == []


@given(st.text(alphabet="ab\r\n\u2028\f", max_size=30))
def test_every_line_helper_agrees_with_split_lines(text):
    lines = split_lines(text)
    assert normalized(text).count("\n") in (len(lines), len(lines) - 1)
    for number, line in enumerate(lines, 1):
        assert line_at(text, number) == line
    assert lines_between(text, 1, len(lines) + 5)[: len(lines)] == lines


def test_text_in_slices_code_point_columns():
    text = "a😀b\nsecond\nthird"
    assert text_in(text, Span(Position(1, 1), Position(1, 2))) == "😀"
    assert text_in(text, Span(Position(1, 2), Position(3, 2))) == "b\nsecond\nth"
    assert text_in(text, Span(Position(1, 0), Position(2, 0))) == "a😀b\n"  # ends at column 0 of line 2
    assert text_in(text, Span(Position(3, 0), Position(3, 99))) == "third"
    assert text_in(text, Span(Position(4, 0), Position(4, 1))) == ""
