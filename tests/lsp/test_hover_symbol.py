"""Pure tests of ragls.core.hover: which word is under the cursor and whether it deserves a hover."""

import pytest

from ragls.core.hover import IdentifierAt, hover_symbol, identifier_at, line_text

TEXT = "first line\n  x = session.retry_policy.max_attempts + 1\r\nconfigure(maxRetries)\rlast"


@pytest.mark.parametrize(
    ("line", "char", "expected"),
    [
        (1, 6, IdentifierAt("session", 1, 6, 13)),  # on "session"
        (1, 13, IdentifierAt("session", 1, 6, 13)),  # right edge of "session" (the dot)
        (1, 14, IdentifierAt("session.retry_policy", 1, 6, 26)),  # start of retry_policy
        (1, 20, IdentifierAt("session.retry_policy", 1, 6, 26)),
        (1, 30, IdentifierAt("session.retry_policy.max_attempts", 1, 6, 39)),
        (2, 12, IdentifierAt("maxRetries", 2, 10, 20)),  # \r\n line ending
        (3, 1, IdentifierAt("last", 3, 0, 4)),  # lone \r line ending
        (1, 41, None),  # on "+"
        (1, 0, None),  # leading blank
        (9, 0, None),  # past the end
        (-1, 0, None),
    ],
)
def test_identifier_at(line, char, expected):
    assert identifier_at(TEXT, line, char) == expected


def test_line_text_uses_lsp_line_breaks():
    assert line_text("a\u2028b\nc", 0) == "a\u2028b"  # U+2028 is not an LSP line break
    assert line_text("a\nb", 1) == "b"
    assert line_text("a\nb", 2) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("retry_policy", "retry_policy"),
        ("maxRetries", "maxRetries"),
        ("kubelet", "kubelet"),
        ("session.retry_policy", "session.retry_policy"),
        ("self.retry_policy", "retry_policy"),
        ("this.maxRetries", "maxRetries"),
        ("config.name", "config.name"),  # common last word, specific chain
        ("self.x", None),
        ("self", None),
        ("return", None),  # keyword (Python/JS/Go/...)
        ("const", None),
        ("func", None),
        ("the", None),  # common English
        ("example", None),
        ("self.the", None),
        ("config.return", None),  # a keyword never ends a chain worth hovering
        ("ab", None),  # too short
        ("x1", None),
        ("TODO", None),
    ],
)
def test_hover_symbol(name, expected):
    assert hover_symbol(name) == expected
