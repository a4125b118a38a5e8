"""Extractive answers and query analysis: pure functions, data tables."""

from __future__ import annotations

import pytest

from ragls.core.extractive import NOT_COVERED, extractive_answer, prose_sentences, symbol_answer
from ragls.core.query import analyze_query
from ragls.core.types import Chunk, Hit, SearchResult

DOC = """---
title: Guide
---
# Retries

The client retries failed requests automatically.
Retries are configured with the `retry_policy` setting
in `client.toml`.

```toml
# not prose: retry_policy = 3
```

- Backoff doubles after each attempt, up to thirty seconds.
"""


def hit(
    text: str, path: str = "docs/guide.md", start: int = 1, kind: str = "markdown", symbols=(), doc="",
    language: str = "", heading=(), root: str = "",
) -> Hit:
    lines = text.split("\n")
    chunk = Chunk(path, start, start + len(lines) - 1, text, kind, language, tuple(heading), tuple(symbols), doc)
    return Hit(chunk, score=1.0, root=root)


def test_sentences_carry_exact_line_ranges_and_skip_markup():
    sentences = prose_sentences(DOC, 1)
    assert [(s.start_line, s.end_line) for s in sentences] == [(6, 6), (7, 8), (14, 14)]
    assert sentences[1].text == "Retries are configured with the `retry_policy` setting in `client.toml`."
    assert all("not prose" not in s.text and "title" not in s.text for s in sentences)


def test_answer_cites_the_lines_of_its_sentences():
    result = SearchResult("how are retries configured", (hit(DOC),), covered=True)
    answer = extractive_answer("how are retries configured", result)
    assert not answer.abstained
    assert answer.text.endswith("[1]")
    (citation,) = answer.citations
    # (the sentence on line 6 only mentions retries: it does not say how they are configured)
    assert (citation.path, citation.start_line, citation.end_line) == ("docs/guide.md", 7, 8)


def test_not_covered_abstains_without_citations():
    result = SearchResult("q", (hit(DOC),), covered=False)
    answer = extractive_answer("what is the meaning of life", result)
    assert answer.abstained and answer.citations == () and answer.text == NOT_COVERED


def test_symbol_answer_prefers_definitions_and_returns_none_for_silence():
    code = hit("def send_request(session):\n    return 1", path="src/c.py", start=10, kind="code", symbols=["send_request"], doc="Send a request with retries.")
    answer = symbol_answer("send_request", [code])
    assert answer is not None and "Send a request with retries." in answer.text
    assert (answer.citations[0].start_line, answer.citations[0].end_line) == (10, 11)
    assert symbol_answer("unrelated_name", [hit(DOC)]) is None


@pytest.mark.parametrize(
    "text, words, symbols, subwords",
    [
        ("How are retries configured?", ("retries", "configured"), ("retries", "configured"), ()),
        ("what does session.retry_policy do", ("session", "retry", "policy"), ("session.retry_policy", "session", "retry_policy"), ("session", "retry", "policy")),
        ("HTTPResponse", ("httpresponse",), ("httpresponse",), ("http", "response")),
        ('foo( a"b', ("foo", "b"), ("foo",), ()),
        ("", (), (), ()),
        ("😀", (), (), ()),
    ],
)
def test_query_analysis(text, words, symbols, subwords):
    parts = analyze_query(text)
    assert parts.words == words
    assert parts.symbols[: len(symbols)] == symbols
    assert parts.subwords == subwords


def test_symbol_answer_ignores_code_that_only_uses_the_name():
    user = hit("def helper(ix) -> WorkspaceIndex:\n    return ix", path="src/u.py", kind="code", symbols=["helper"], doc="")
    prose = hit("# Index\n\nThe WorkspaceIndex owns the Tantivy writer of one folder.", path="docs/a.md")
    answer = symbol_answer("WorkspaceIndex", [user, prose])
    assert answer is not None and [c.path for c in answer.citations] == ["docs/a.md"]


@pytest.mark.parametrize(
    "text, natural",
    [
        ("How are secrets kept out of the index?", True),
        ("what does retry_policy default to", False),
        ("HTTPResponse", False),
        ("retry policy", False),  # two words: a name lookup as much as a question
    ],
)
def test_natural_language_questions_are_told_from_code_lookups(text, natural):
    assert analyze_query(text).natural_language is natural


def test_covered_topic_without_a_stating_sentence_points_at_the_sections():
    page = hit(
        "## Neovim\n\n```lua\nvim.lsp.start({cmd = {'ragls', '--stdio'}})\n```", path="docs/EDITORS.md", start=40,
        heading=("Editors", "Neovim"),
    )
    answer = extractive_answer("How do I configure Neovim to use the server?", SearchResult("q", (page,), covered=True))
    assert not answer.abstained
    assert answer.text == "The closest passages are *Editors > Neovim* [1]."
    assert (answer.citations[0].start_line, answer.citations[0].end_line) == (40, 44)


def test_symbol_answer_does_not_cite_the_line_being_hovered():
    notes = hit("Release notes\n\nThe session now reads retry_policy from the settings file.", path="notes.txt", kind="text", root="/ws")
    docs = hit("# Retry policy\n\nThe `retry_policy` decides how often a failed request is sent again.", path="docs/retry.md", root="/ws")
    everything = symbol_answer("retry_policy", [notes, docs])
    assert [c.path for c in everything.citations] == ["notes.txt", "docs/retry.md"]
    hovering = symbol_answer("retry_policy", [notes, docs], reading=("/ws", "notes.txt", 3))
    assert [(c.path, c.start_line) for c in hovering.citations] == [("docs/retry.md", 3)]
    # another line of the same file, or the same path in another folder, is still a source
    assert len(symbol_answer("retry_policy", [notes, docs], reading=("/ws", "notes.txt", 1)).citations) == 2
    assert len(symbol_answer("retry_policy", [notes, docs], reading=("/other", "notes.txt", 3)).citations) == 2
    # hovering the only mention: nothing else to say, no hover
    assert symbol_answer("retry_policy", [notes], reading=("/ws", "notes.txt", 3)) is None


def test_a_module_docstring_describes_the_module_not_its_first_constant():
    header = '"""In-process llama.cpp backend: one Llama object, several LoRA adapters."""\n\nimport ctypes\n\nGGUF_MAGIC = b"GGUF"'
    module = Hit(Chunk("server/llama_backend.py", 1, 5, header, "code", "python", symbols=("GGUF_MAGIC",), doc="In-process llama.cpp backend: one Llama object, several LoRA adapters."), 1.0)
    result = SearchResult("llama backend adapters", (module,), covered=True)
    answer = extractive_answer("llama backend adapters", result)
    assert answer.text.startswith("`llama_backend.py`: In-process llama.cpp backend")
    assert "GGUF_MAGIC" not in answer.text
    assert answer.citations[0].title == "server/llama_backend.py"  # the module, not its first names
    # a hover on the constant says where it is defined, without lending it the module's docstring
    hover = symbol_answer("GGUF_MAGIC", [module])
    assert hover.text == '`GGUF_MAGIC` is defined here (`GGUF_MAGIC = b"GGUF"`). [1]'
    assert (hover.citations[0].start_line, hover.citations[0].end_line) == (5, 5)  # its own line
    # a definition keeps its own docstring, comments above it included
    function = hit(
        "# retries\ndef send(request):\n    '''Send with retries.'''", path="src/c.py", kind="code", language="python",
        symbols=["send"], doc="Send with retries.",
    )
    assert symbol_answer("send", [function]).text == "`send` is defined here: Send with retries. [1]"


def test_hover_on_a_name_in_a_packed_chunk_names_that_name_and_its_line():
    from ragls.core.chunking import chunk_document

    source = "def f():\n    pass\n\ndef g():\n    return f()\n\nTIMEOUT = 3\nRETRIES = 5\n"
    chunks = chunk_document("pkg/small.py", source)
    packed = next(c for c in chunks if "g" in c.symbols)
    assert packed.symbols[0] != "g"  # several tiny definitions share one chunk
    answer = symbol_answer("g", [Hit(packed, 1.0)])
    assert answer.text == "`g` is defined here (`def g():`). [1]"
    assert (answer.citations[0].start_line, answer.citations[0].end_line) == (4, 4)
    constants = next(c for c in chunks if "RETRIES" in c.symbols)
    answer = symbol_answer("RETRIES", [Hit(constants, 1.0)])
    assert answer.text == "`RETRIES` is defined here (`RETRIES = 5`). [1]" and answer.citations[0].start_line == 8
