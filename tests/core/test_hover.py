"""Pure tests of ragls.core.hover: which word is under the cursor and whether it deserves a hover."""

import pytest

from ragls.core.hover import IdentifierAt, hover_symbol, identifier_at

LINE = "  x = session.retry_policy.max_attempts + 1"


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (6, IdentifierAt("session", 6, 13)),  # on "session"
        (13, IdentifierAt("session", 6, 13)),  # right edge of "session" (the dot)
        (14, IdentifierAt("session.retry_policy", 6, 26)),  # start of retry_policy
        (20, IdentifierAt("session.retry_policy", 6, 26)),
        (30, IdentifierAt("session.retry_policy.max_attempts", 6, 39)),
        (39, IdentifierAt("session.retry_policy.max_attempts", 6, 39)),  # right edge of the line's last name
        (41, None),  # on "+"
        (0, None),  # leading blank
        (99, None),  # past the end
        (-1, None),
    ],
)
def test_identifier_at(column, expected):
    assert identifier_at(LINE, column) == expected


def test_identifier_at_counts_code_points():
    # columns are code points: the emoji before the name is one column, not two (UTF-16) or four (UTF-8)
    assert identifier_at("😀 maxRetries", 2) == IdentifierAt("maxRetries", 2, 12)
    assert identifier_at("😀 maxRetries", 1) is None


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
