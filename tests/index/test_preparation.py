"""Worker-side preparation: the fast paths must give exactly what the plain definitions give."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ragls.core.identifiers import camel_subwords, subword_tokens
from ragls.core.types import Chunk
from ragls.index.preparation import _name_part_subwords, meta_json, prepare_chunk, symbol_subwords, symbols_text

_names = st.text(alphabet=st.sampled_from("abXY_Z09.:- \"\\é\n\t\x00"), max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["code", "markdown", "text"]),
    language=st.text(max_size=8),
    heading=st.lists(st.text(max_size=12), max_size=3),
    symbols=st.lists(_names, max_size=3),
    doc=st.text(max_size=40),
)
def test_meta_json_is_json_dumps(kind, language, heading, symbols, doc):
    chunk = Chunk("a.py", 1, 1, "x", kind, language, tuple(heading), tuple(symbols), doc)
    expected = {"k": kind, "l": language, "h": heading, "s": symbols, "d": doc}
    assert meta_json(chunk) == json.dumps(expected, ensure_ascii=False).encode()
    assert json.loads(meta_json(chunk)) == expected


@settings(max_examples=300, deadline=None)
@given(symbols=st.lists(_names, max_size=4))
def test_symbol_subwords_equal_subwords_of_the_joined_names(symbols):
    assert symbol_subwords(tuple(symbols)) == subword_tokens(" ".join(symbols))


def test_camel_subwords_split_only_case_changes():
    text = "parse HTTPResponse, fooBar and Foo.BarBaz; FOO, Foo, F1, A1B, 2fooBar, x1Y, snake_case"
    assert camel_subwords(text) == ["http", "response", "foo", "bar", "bar", "baz", "x", "1", "y"]


def test_prepared_chunk_fields():
    chunk = Chunk(
        "src/http_client.py", 3, 9, "class HTTPClient:\n    def send(self): ...", "code", "python",
        symbols=("HTTPClient", "HTTPClient.send_request"), doc="Sends.",
    )
    start, end, body, title, ident, symbols, meta, as_written = prepare_chunk(chunk)
    assert (start, end, body) == (3, 9, chunk.text)
    assert as_written is None  # the body is the text as written: nothing stored twice
    assert title == "http client"
    # camelCase words of the text, then the sub-words of every defined name
    assert ident.split() == ["http", "client", "http", "client", "http", "client", "send", "request"]
    assert symbols == "httpclient httpclient.send_request send_request sendrequest"
    assert json.loads(meta)["s"] == ["HTTPClient", "HTTPClient.send_request"]


def test_greek_letters_are_spelled_out_in_the_indexed_fields_and_kept_as_written():
    chunk = Chunk("notes/β-cells.md", 1, 2, "IFN-γ and TNF-α\nsignal", "prose", "markdown", heading=("Δ loop",))
    _, _, body, title, _, _, _, as_written = prepare_chunk(chunk)
    assert body == "IFN-gamma and TNF-alpha\nsignal"
    assert title == "delta loop beta cells"
    assert as_written == chunk.text


@given(st.text(alphabet="abcXYZé_19ß", max_size=12))
def test_name_part_fast_path_equals_the_general_split(part):
    assert _name_part_subwords.__wrapped__(part) == tuple(subword_tokens(part))


def test_symbols_text_leaves_out_only_terms_no_query_can_match():
    long_name = "x" * 300
    text = symbols_text(("Config.load", "tool.ruff lint", long_name))
    assert text.split() == ["config.load", "load", long_name]  # "tool.ruff lint" has a space
    assert symbols_text(("a_b",)) == "a_b ab"


def test_python_side_analysis_yields_exactly_the_terms_tantivy_indexed(tmp_path):
    import tantivy

    from ragls.index.schema import analyze_as_indexed, build_schema, prepared_to_document

    text = "IFN-γ and αvβ8 signal; TNF-α Retries ran"
    chunk = Chunk("notes/c.md", 1, 1, text, "markdown", "", heading=("Δ loop",))
    index = tantivy.Index(build_schema(), path=str(tmp_path))
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    writer.add_document(prepared_to_document(chunk.path, prepare_chunk(chunk)))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    terms = analyze_as_indexed(text)
    assert {"gamma", "alphavbeta8", "alpha", "retri"} <= set(terms)
    assert all(searcher.doc_freq("body", term) == 1 for term in terms)
    assert all(searcher.doc_freq("title", term) == 1 for term in analyze_as_indexed("Δ loop"))
