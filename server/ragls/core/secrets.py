"""Secret *values* inside ordinary files: found and redacted before anything is indexed or shown.

File names alone (``core.workspace.is_secret``) keep ``.env`` and private-key files out, but a
token pasted into ``deploy.sh``, a PEM block in ``notes.md`` or ``password: …`` in
``docker-compose.yml`` sits in a file that is rightly indexed. :func:`redact_secrets` replaces each
such value with :data:`REDACTED` and counts them; indexing runs every file and every editor buffer
through it, so the index itself never holds the value and no output (snippets, answers, hovers,
citations) can show it.

Why a small rule set and not ``detect-secrets``: that tool runs two dozen plugins over every line,
which costs more than the whole indexing pipeline (≈ 50 ns a byte); here each rule has literal
gates, all looked for in one pass over the text (``_speedups.secret_gates``, or its Python twin:
one ``in`` scan per gate), and only the rules whose gate occurs run their pattern. The rules follow the formats detect-secrets and gitleaks
know: well-known token prefixes, private-key blocks, credentials in URLs, and literal values
assigned to secret-looking keys (``password``, ``secret``, ``token``, ``api_key``, …).

Line structure is kept exactly: a redaction never adds or removes a line break, so every chunk's
line range still matches the file on disk.
"""

from __future__ import annotations

import math
import re
from collections import Counter

__all__ = ["REDACTED", "redact_secrets"]

REDACTED = "[REDACTED]"

# --- tokens recognisable by their format --------------------------------------------------------

# Each rule has literal gates, looked for with ``in`` (≈ 1.3 ns a character); only a file holding
# one runs the pattern. Each pattern starts with a literal too: a leading ``\b`` or character class
# would cost 20-40 ns a character. The word boundary before a token is checked by hand.
_TOKEN_RULES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (gates, re.compile(pattern))
    for gates, pattern in (
        (("AKIA", "ASIA"), r"A(?:KIA|SIA)[0-9A-Z]{16}(?![0-9A-Za-z])"),  # AWS access key ids
        (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), r"(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})(?![0-9A-Za-z])"),  # GitHub
        (("glpat-",), r"glpat-[A-Za-z0-9_-]{20,}"),  # GitLab
        (("xox",), r"xox[abposr]-[A-Za-z0-9-]{10,}"),  # Slack
        (("hooks.slack",), r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"),
        # Stripe secret keys; OpenAI and Anthropic keys (a digit somewhere: not ``sk-learn-…`` prose)
        (("sk_live_", "sk_test_", "sk-"), r"sk(?:_(?:live|test)_[0-9A-Za-z]{16,}|-(?:proj-|ant-[a-z0-9]+-)?(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,})"),
        (("AIza",), r"AIza[0-9A-Za-z_-]{35}"),  # Google API keys
        (("npm_",), r"npm_[A-Za-z0-9]{36}(?![0-9A-Za-z])"),
        (("pypi-",), r"pypi-AgE[A-Za-z0-9_-]{50,}"),
        (("SG.",), r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),  # SendGrid
        (("eyJ",), r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # JWT
    )
)

# A private key block: the base64 body between BEGIN and END (or, cut off, as far as it runs).
# The body must be long: a parser's ``if line == "-----BEGIN RSA PRIVATE KEY-----"`` is no key.
_PEM = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?P<body>(?:[A-Za-z0-9+/=\s]|\\[nr]|(?:Proc-Type|DEK-Info|Comment|Version): [^\r\n]*)+?)"
    r"(?=-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[^A-Za-z0-9+/=\s\\]|\Z)"
)
_PEM_MIN_BODY = 40
_NOT_LINE_BREAK = re.compile(r"[^\r\n]+")

# user:password@ in a URL (the password only)
_URL_CREDENTIALS = re.compile(r"://[^\s:/@'\"<>]+:(?P<value>[^\s@/'\"<>]+)@")

# --- literal values assigned to secret-looking keys ----------------------------------------------

# Looked for in the lower-cased text, each behind a literal gate (see _TOKEN_RULES). The AWS
# secret's usual names (``aws_secret_access_key``) hold "secret".
_KEY_WORDS = tuple(
    (gate, re.compile(pattern))
    for gate, pattern in (
        ("passw", r"passw(?:or)?d"), ("pwd", r"pwd"), ("secret", r"secret"), ("token", r"token"),
        ("credential", r"credential"), ("apikey", r"apikey"), ("api_key", r"api_key"), ("api-key", r"api-key"),
    )
)
# Every gate, for one pass over the text (``_speedups.secret_gates``; twin ``_gates_python``):
# (gate, fold) — fold: the keyword gates match either case.
_GATES: tuple[tuple[str, bool], ...] = tuple(
    dict.fromkeys(
        [(gate, False) for gates, _ in _TOKEN_RULES for gate in gates]
        + [("PRIVATE KEY", False), ("://", False)]
        + [(gate, True) for gate, _ in _KEY_WORDS]
    )
)
_GATE_BIT = {gate: 1 << n for n, gate in enumerate(_GATES)}
_TOKEN_MASKS = tuple(sum(_GATE_BIT[(gate, False)] for gate in gates) for gates, _ in _TOKEN_RULES)
_KEY_MASKS = tuple(_GATE_BIT[(gate, True)] for gate, _ in _KEY_WORDS)
_PEM_BIT = _GATE_BIT[("PRIVATE KEY", False)]
_URL_BIT = _GATE_BIT[("://", False)]


def _gates_python(text: str, gates: tuple[tuple[str, bool], ...]) -> int:
    """Bit mask of the gates that occur in ``text`` (bit n: ``gates[n]``); a folding gate (given
    in lower case) matches ASCII letters of either case. Twin of ``_speedups.secret_gates``."""
    lowered = None
    mask = 0
    for n, (gate, fold) in enumerate(gates):
        if fold:
            if lowered is None:  # ASCII letters only, as the C twin folds them
                lowered = text.lower() if text.isascii() else text.translate(_ASCII_LOWER)
            mask |= (gate in lowered) << n
        else:
            mask |= (gate in text) << n
    return mask


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ascii_lower(text: str) -> str:
    """``text`` lower-cased with every position kept (the patterns' matches index ``text``).
    ``str.lower`` keeps the length for all but a few letters (İ becomes two characters); only then
    the much slower ASCII-only translation is used."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


try:
    from ragls._speedups import secret_gates as _secret_gates
except ImportError:  # built without a C compiler (or an older build): the same mask, a few times slower
    _secret_gates = _gates_python

_KEY_CHAR = re.compile(r"[\w.-]*")
# after the key: an optional closing quote, an assignment, then a quoted or a bare value
_ASSIGNMENT = re.compile(
    r"""["']?[ \t]*(?:=|:=|=>|:)[ \t]*(?:(?P<q>["'`])(?P<quoted>[^"'`\r\n]*)(?P=q)|(?P<bare>[^\s,;#'"`()\[\]{}<>]+))"""
)
# Keys that *name* a secret or describe it rather than hold it: ``secretName: db-creds`` (a
# Kubernetes Secret's name), ``token_type: bearer``, ``password_file: /run/secrets/db``.
_DESCRIPTIVE_ENDINGS = (
    "name", "names", "ref", "keyref", "type", "types", "file", "path", "dir", "id", "ids", "policy",
    "length", "len", "size", "url", "uri", "endpoint", "mode", "format", "prefix", "suffix", "field",
    "hint", "label", "count", "expires", "expiry", "ttl", "lifetime", "provider", "source", "store",
    "enabled", "required", "header", "namespace", "selector", "volume", "mount", "template",
    "version", "kind", "env", "var", "class", "manager", "count", "limit", "regex", "pattern",
)
_PASSWORD_WORDS = ("password", "passwd", "pwd")
_NOT_VALUES = frozenset({
    "true", "false", "null", "none", "nil", "yes", "no", "on", "off", "required", "optional",
    "string", "str", "bytes", "int", "bool", "boolean", "object", "undefined", "empty", "secret",
    "password", "redacted", "[redacted]", "changeme", "todo", "tbd", "n/a",
})
# Languages where a bare word after ``=`` is a literal (``PASSWORD=hunter2`` in a shell script or
# YAML); in programming languages it is a variable (``password = get_password()``).
_BARE_LITERAL_LANGUAGES = frozenset({
    "", "shell", "powershell", "batch", "yaml", "ini", "toml", "make", "dockerfile", "xml", "html", "cmake",
})


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _is_reference(value: str) -> bool:
    """``${DB_PASSWORD}``, ``{{ .Values.token }}``, ``<your-token>``, ``%(pw)s``, ``$1``, ``***``."""
    return (
        value[:1] in "$<{%@&*" or "${" in value or "{{" in value or "%(" in value
        or value.endswith(">") or len(set(value)) == 1
    )


def _worth_redacting(key: str, value: str) -> bool:
    value = value.strip()
    if not value or _is_reference(value) or value.lower() in _NOT_VALUES or value.startswith(REDACTED):
        return False
    key = key.lower().strip("\"'")
    if key.replace("-", "_").replace(".", "_").rstrip("_").endswith(_DESCRIPTIVE_ENDINGS) and not key.endswith(_PASSWORD_WORDS + ("secret", "token", "key")):
        return False
    if value.replace(".", "").replace("-", "").isdigit():  # ports, timeouts, max_tokens: 512
        return False
    if any(word in key for word in _PASSWORD_WORDS):
        return len(value) >= 4
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    if len(value) >= 12:
        return _entropy(value) >= 3.0
    return len(value) >= 8 and has_digit and has_alpha


def redact_secrets(text: str, language: str = "") -> tuple[str, int]:
    """``text`` with every secret value replaced by :data:`REDACTED`, and how many there were.

    ``language`` is the file's language (``chunking.language_for``; "" for prose): it decides
    whether a bare word after ``password =`` is a literal or a variable."""
    spans: list[tuple[int, int]] = []  # (start, end) of each value to redact
    present = _secret_gates(text, _GATES)  # one pass: which rules can match at all
    if not present:
        return text, 0  # nearly every file

    if present & _PEM_BIT:
        for match in _PEM.finditer(text):
            body = match.group("body")
            if len(body.strip()) >= _PEM_MIN_BODY:
                spans.append(match.span("body"))
    for mask, (_gates, pattern) in zip(_TOKEN_MASKS, _TOKEN_RULES):
        if present & mask:
            spans.extend(m.span() for m in pattern.finditer(text) if _starts_word(text, m.start()))
    if present & _URL_BIT:
        for match in _URL_CREDENTIALS.finditer(text):
            if not _is_reference(match.group("value")):
                spans.append(match.span("value"))
    if any(present & mask for mask in _KEY_MASKS):
        lowered = _ascii_lower(text)
        bare_ok = language in _BARE_LITERAL_LANGUAGES
        for mask, (_gate, word) in zip(_KEY_MASKS, _KEY_WORDS):
            if not present & mask:
                continue
            for match in word.finditer(lowered):
                key_start = match.start()
                while key_start > 0 and (text[key_start - 1].isalnum() or text[key_start - 1] in "_.-"):
                    key_start -= 1
                key_end = _KEY_CHAR.match(text, match.end()).end()
                assigned = _ASSIGNMENT.match(text, key_end)
                if assigned is None:
                    continue
                group = "quoted" if assigned.group("quoted") is not None else "bare"
                if group == "bare" and not bare_ok:
                    continue
                if _worth_redacting(text[key_start:key_end], assigned.group(group)):
                    spans.append(assigned.span(group))
    if not spans:
        return text, 0
    return _apply(text, spans)


def _starts_word(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "_")


def _apply(text: str, spans: list[tuple[int, int]]) -> tuple[str, int]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if start == end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        out.append(text[last:start])
        # Keep the line breaks of a multi-line value (a key block): line numbers must not move.
        out.append(_NOT_LINE_BREAK.sub(REDACTED, text[start:end]) if "\n" in text[start:end] or "\r" in text[start:end] else REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out), len(merged)
