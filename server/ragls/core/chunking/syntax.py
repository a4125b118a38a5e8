"""What the code scanner knows about each language family: a table of :class:`Syntax` values.

A syntax says how comments and strings look (only those spanning lines matter: they hide
statement starts), what a definition looks like at a statement start and inside a container body,
which lines continue the statement above, and how a definition documents itself beyond the
comment block above it (``docstring``: Python's docstrings). Languages share a family's syntax
(TypeScript uses JavaScript's); an unknown language gets the generic one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

@dataclass(frozen=True, slots=True)
class Syntax:
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

    # The definition's own documentation, from (lines, index of the definition line, index of the
    # definition's last line); "" for none. None: the language documents only by comments above.
    docstring: Callable[[list[str], int, int], str] | None = None
    # The file's own documentation, from (lines, index of the last line of the file's first unit).
    module_docstring: Callable[[list[str], int], str] | None = None



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
NO_TOKENS = re.compile(r"(?!x)x")
# What every token that spans lines has on its first line, per token pattern: only a line holding
# one of these can start a multi-line token. A triple-quoted string starts with its quotes, a
# block comment with "/*", a template literal with "`"; a quoted string that continues on the
# next line ends its first line with a backslash (``\\.`` matching the line break); line comments
# never span lines. Patterns not listed here (their strings span lines without a marker) are
# scanned whole. A change to a token pattern must keep its openers complete. Each opener is its
# own literal regex: the engine finds a literal far faster than an alternation of them.
MULTILINE_OPENERS: dict[re.Pattern[str], tuple[re.Pattern[str], ...]] = {
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


# --- docstring hooks ---------------------------------------------------------------------------

_DOC_OPEN = re.compile(r"[rRuUbB]{0,2}(\"\"\"|'''|\"|')")


def python_docstring(lines: list[str], def_line: int, end: int) -> str:
    """The docstring of the definition on line index ``def_line`` whose body ends at ``end``, its
    lines stripped; "" when the body does not start with a string."""
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
        return body[:body.index(quote)].strip()
    # Every line of the docstring, stripped (lines hold no line breaks, so this is a dedent).
    parts = [body.strip()]
    for j in range(k + 1, min(end, k + 200) + 1):
        line = lines[j]
        if quote in line:
            parts.append(line[:line.index(quote)].strip())
            break
        parts.append(line.strip())
    return "\n".join(parts).strip()


def python_module_docstring(lines: list[str], end: int) -> str:
    """The module docstring: the first statement among lines ``0..end``, after comments."""
    k = 0
    while k <= end and (not lines[k].strip() or lines[k].lstrip().startswith("#")):
        k += 1
    if k <= end and _DOC_OPEN.match(lines[k].strip()):
        return python_docstring(["x:"] + lines[k:end + 1], 0, end - k + 1)
    return ""


# --- the table ---------------------------------------------------------------------------------

_SYNTAX: dict[str, Syntax] = {
    "python": Syntax(
        tokens=_PY_TOKENS, comment=("#",), prefix=("@",),
        definition=re.compile(r"(?:async[ \t]+)?(?P<kind>def|class)[ \t]+(?P<name>\w+)"),
        continuation=re.compile(r"[)\]}]|(?:else|elif|except|finally)\b"),
        containers=frozenset({"class"}),
        assignment=re.compile(r"([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)"),
        docstring=python_docstring, module_docstring=python_module_docstring,
    ),
    "javascript": Syntax(
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
    "go": Syntax(
        tokens=_JS_TOKENS, comment=("//", "/*", "*"),
        definition=re.compile(
            r"(?:(?P<kind>func)[ \t]+(?:\([ \t]*\w*[ \t]*\*?(?P<receiver>\w+)[^)]*\)[ \t]*)?(?P<name>\w+)"
            r"|(?P<kind2>type)[ \t]+(?P<name2>\w+))"),
        continuation=_BRACE_CONTINUATION,
    ),
    "rust": Syntax(
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
    "c": Syntax(
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
    "java": Syntax(
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
    "ruby": Syntax(
        tokens=_HASH_TOKENS, comment=("#",),
        definition=re.compile(r"(?P<kind>def|class|module)[ \t]+(?:self\.)?(?P<name>[\w:.?!=]+)"),
        continuation=re.compile(r"(?:end|else|elsif|rescue|ensure|when|in)\b|[)\]}]"),
        containers=frozenset({"class", "module"}),
    ),
    "php": Syntax(
        tokens=_C_TOKENS, comment=("//", "/*", "*", "#"), prefix=("#[",),
        definition=re.compile(
            r"(?:(?:abstract|final|readonly|public|private|protected|static)[ \t]+)*"
            r"(?P<kind>function|class|interface|trait|enum)[ \t]+&?(?P<name>\w+)"),
        continuation=_BRACE_CONTINUATION,
        containers=frozenset({"class", "interface", "trait", "enum"}),
    ),
    "lua": Syntax(
        tokens=_LUA_TOKENS, comment=("--",),
        definition=re.compile(
            r"(?:local[ \t]+)?(?:(?P<kind>function)[ \t]+(?P<name>[\w.:]+)"
            r"|(?P<name2>[\w.]+)[ \t]*=[ \t]*function\b)"),
        continuation=re.compile(r"(?:end|else|elseif|until)\b|[)\]}]"),
    ),
    "shell": Syntax(
        tokens=_HASH_TOKENS, comment=("#",),
        definition=re.compile(r"(?:function[ \t]+(?P<name>[\w:.-]+)|(?P<name2>[\w:.-]+)[ \t]*\(\))"),
        continuation=re.compile(r"(?:fi|done|esac|else|elif|then|do)\b|[)}]"),
    ),
    "sql": Syntax(
        tokens=_SQL_TOKENS, comment=("--", "/*", "*"),
        definition=re.compile(
            r"(?i:create)(?:[ \t]+(?i:or[ \t]+replace))?(?:[ \t]+\w+)*?[ \t]+"
            r"(?P<kind>(?i:table|view|function|procedure|index|trigger|type|schema|sequence))"
            r"(?:[ \t]+(?i:if[ \t]+not[ \t]+exists))?[ \t]+(?P<name>[\w.\"`]+)"),
    ),
    "yaml": Syntax(  # top-level keys are the natural sections of a config file
        tokens=NO_TOKENS, comment=("#",),
        definition=re.compile(r"(?P<name>[\w.\-\"']+)[ \t]*:(?:[ \t]|$)"),
        continuation=re.compile(r"[-\]}]"), strings_continue=False,
    ),
    "toml": Syntax(
        tokens=NO_TOKENS, comment=("#",),
        definition=re.compile(r"\[\[?[ \t]*(?P<name>[^\]]+?)[ \t]*\]\]?"), strings_continue=False,
    ),
    "make": Syntax(
        tokens=NO_TOKENS, comment=("#",),
        definition=re.compile(r"(?P<name>[\w./%$(){}-]+)[ \t]*::?(?!=)"),
    ),
    "dockerfile": Syntax(
        tokens=NO_TOKENS, comment=("#",),
        definition=re.compile(r"(?i:FROM)[ \t]+\S+(?:[ \t]+(?i:AS)[ \t]+(?P<name>\S+))?"),
    ),
    "generic": Syntax(tokens=NO_TOKENS, comment=("#", "//", "--", ";"), definition=re.compile(r"(?!x)x")),
}
for _alias, _family in {
    "typescript": "javascript", "vue": "javascript", "svelte": "javascript", "kotlin": "java",
    "scala": "java", "groovy": "java", "csharp": "java", "swift": "java", "dart": "java",
    "cpp": "c", "objc": "c", "protobuf": "java", "perl": "shell", "powershell": "shell",
    "ini": "toml", "cmake": "shell", "hcl": "shell", "nix": "shell", "elixir": "ruby",
    "julia": "ruby", "r": "shell", "zig": "rust", "graphql": "java",
}.items():
    _SYNTAX[_alias] = _SYNTAX[_family]
_GENERIC = _SYNTAX["generic"]


def syntax_for(language: str) -> Syntax:
    return _SYNTAX.get(language, _GENERIC)


_STATEMENT_KIND: dict[tuple[Syntax, bool], re.Pattern[str]] = {}


def statement_kind(syntax: Syntax, member: bool) -> re.Pattern[str]:
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

