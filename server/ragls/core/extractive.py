"""Answers without a model: the sentences of the best passages that address the question, each
followed by its citation (pure).

Every sentence is quoted from a retrieved passage and cited with the exact lines it came from, so an
extractive answer can never cite something it did not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from ragls.core.query import analyze_query
from ragls.core.snippets import term_matcher
from ragls.core.types import Answer, Chunk, Citation, Hit, SearchResult

# The same sentence a model must use (grammars/*.gbnf), so clients can recognise an abstention.
NOT_COVERED = resources.files("ragls.prompts").joinpath("not_covered.txt").read_text(encoding="utf-8").strip()

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[*_])")
# Hugo/Jekyll shortcodes: {{< glossary_tooltip text="Pods" term_id="pod" >}} reads as "Pods".
_SHORTCODE_TEXT = re.compile(r"\{\{[<%]\s*glossary_tooltip[^}]*?text=\"([^\"]*)\"[^}]*[>%]\}\}")
_SHORTCODE = re.compile(r"\{\{[<%].*?[>%]\}\}")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start_line: int
    end_line: int


def clean_inline(text: str) -> str:
    text = _SHORTCODE_TEXT.sub(r"\1", text)
    text = _SHORTCODE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def prose_sentences(text: str, start_line: int) -> list[Sentence]:
    """Sentences of the prose in a passage with their line ranges; headings, code fences, front
    matter, tables and markup-only lines are left out."""
    sentences: list[Sentence] = []
    paragraph: list[tuple[int, str]] = []
    in_fence = False
    in_front_matter = start_line == 1 and text.startswith(("---", "+++"))

    def flush() -> None:
        if not paragraph:
            return
        joined, line_of_char = "", []
        for line_no, line in paragraph:
            piece = line.strip() + " "
            joined += piece
            line_of_char.extend([line_no] * len(piece))
        position = 0
        for part in _SENTENCE_END.split(joined):
            begin = joined.find(part, position)
            position = begin + len(part)
            cleaned = clean_inline(part)
            if len(_WORD.findall(cleaned)) >= 4:
                end = min(begin + max(len(part) - 1, 0), len(line_of_char) - 1)
                sentences.append(Sentence(cleaned, line_of_char[begin], line_of_char[end]))
        paragraph.clear()

    for offset, line in enumerate(text.split("\n")):
        line_no = start_line + offset
        stripped = line.strip()
        if in_front_matter:
            if offset > 0 and stripped in ("---", "+++"):
                in_front_matter = False
            continue
        if stripped.startswith(("```", "~~~")):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if (
            not stripped
            or stripped.startswith(("#", "|", "<!--", "{{", ".. ", "==", "--"))
            or re.fullmatch(r"[=\-~^\"'`#*+_.:]{3,}", stripped)
        ):
            flush()
            continue
        if _LIST_MARK.match(line):
            flush()
            paragraph.append((line_no, _LIST_MARK.sub("", line)))
            continue
        paragraph.append((line_no, line))
    flush()
    return sentences


# A Python module's header chunk (imports, constants) opens with the module docstring, possibly
# after comments; a definition's chunk opens with comments, decorators or the definition itself.
_MODULE_HEADER = re.compile(r"""(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*[rRbBuU]{0,2}["']""")


def _is_module_header(chunk: Chunk) -> bool:
    # (At the top of the file: a later window of a long function may open with a string line too.)
    return (
        chunk.language == "python" and bool(chunk.doc) and chunk.start_line <= 5
        and _MODULE_HEADER.match(chunk.text) is not None
    )


def _code_sentences(hit: Hit) -> list[Sentence]:
    chunk = hit.chunk
    first_line = chunk.text.split("\n", 1)[0].strip()
    doc = clean_inline(chunk.doc.split("\n\n", 1)[0]) if chunk.doc else ""
    if doc and _is_module_header(chunk):
        # The docstring describes the module, not the first name assigned under it.
        summary = f"`{chunk.path.rsplit('/', 1)[-1]}`: {doc}"
        return [Sentence(summary if summary[-1] in ".!?" else summary + ".", chunk.start_line, chunk.end_line)]
    if chunk.symbols:
        summary = f"`{chunk.symbols[0]}` is defined here"
        summary += f": {doc}" if doc else f" (`{first_line[:120]}`)."
        if summary[-1] not in ".!?":
            summary += "."
        return [Sentence(summary, chunk.start_line, chunk.end_line)]
    return []


def _sentences_of(hit: Hit) -> list[Sentence]:
    if hit.chunk.kind == "code":
        return _code_sentences(hit)
    return prose_sentences(hit.chunk.text, hit.chunk.start_line)


def _title(hit: Hit) -> str:
    chunk = hit.chunk
    if chunk.heading:
        return chunk.heading_path
    if chunk.symbols and not _is_module_header(chunk):
        return ", ".join(chunk.symbols[:3])
    return chunk.path


def extractive_answer(
    question: str,
    result: SearchResult,
    *,
    max_sentences: int = 3,
    max_per_passage: int = 2,
) -> Answer:
    if not result.covered or not result.hits:
        return Answer(text=NOT_COVERED, citations=(), abstained=True)
    parts = analyze_query(question)
    terms = [*parts.words, *parts.subwords]
    matches = term_matcher(terms, whole=parts.spelled_out)
    # A sentence sharing a single word with a long question is rarely an answer to it.
    needed = 1 if len(set(parts.words)) <= 2 else 2
    scored: list[tuple[float, int, int, Sentence]] = []
    for rank, hit in enumerate(result.hits):
        for position, sentence in enumerate(_sentences_of(hit)):
            words = {w.lower() for w in _WORD.findall(sentence.text)}
            matched = sum(1 for w in words if matches(w))
            if matched < needed:
                continue
            # More query words is better; earlier passages are better; very long sentences are worse;
            # a question in words is better answered by prose than by "`x` is defined here".
            score = matched / (1 + 0.35 * rank) - 0.002 * max(0, len(sentence.text) - 200)
            if parts.natural_language and hit.chunk.kind == "code":
                score *= 0.5
            scored.append((score, rank, position, sentence))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    chosen: list[tuple[int, int, Sentence]] = []
    per_passage: dict[int, int] = {}
    for _score, rank, position, sentence in scored:
        if per_passage.get(rank, 0) >= max_per_passage:
            continue
        per_passage[rank] = per_passage.get(rank, 0) + 1
        chosen.append((rank, position, sentence))
        if len(chosen) >= max_sentences:
            break
    if not chosen:
        # Retrieval found the topic but no sentence states it (a page of code samples, a table):
        # point at the best sections instead of pretending the workspace is silent.
        return _pointer_answer(result.hits[:2])
    chosen.sort(key=lambda item: (item[0], item[1]))  # read in passage order, as written
    ids: dict[int, int] = {}
    spans: dict[int, tuple[int, int]] = {}
    pieces = []
    for rank, _position, sentence in chosen:
        n = ids.setdefault(rank, len(ids) + 1)
        lo, hi = spans.get(rank, (sentence.start_line, sentence.end_line))
        spans[rank] = (min(lo, sentence.start_line), max(hi, sentence.end_line))
        pieces.append(f"{sentence.text} [{n}]")
    citations = []
    for rank, n in ids.items():
        hit = result.hits[rank]
        lo, hi = spans[rank]
        citations.append(
            Citation(id=n, path=hit.chunk.path, start_line=lo, end_line=hi, title=_title(hit), snippet=hit.snippet, root=hit.root)
        )
    return Answer(text=" ".join(pieces), citations=tuple(citations), abstained=False)


def _pointer_answer(hits: tuple[Hit, ...]) -> Answer:
    citations = [
        Citation(id=n, path=h.chunk.path, start_line=h.chunk.start_line, end_line=h.chunk.end_line, title=_title(h), snippet=h.snippet, root=h.root)
        for n, h in enumerate(hits, 1)
    ]
    places = " and ".join(f"*{c.title}* [{c.id}]" for c in citations)
    return Answer(text=f"The closest passages are {places}.", citations=tuple(citations), abstained=False)


# A line that defines a name: a definition keyword before it, or an assignment/annotation after it.
_DEFINES = r"(?:\b(?:def|class|fn|func|function|const|let|var|type|struct|interface|enum|trait|module)\s+{0}\b|^\s*{0}\s*[:=])"


def _definition_sentence(chunk: Chunk, name: str, mention: re.Pattern[str]) -> Sentence:
    """The hover sentence for ``name``, one of the names ``chunk`` defines.

    The chunk's docstring belongs to its first definition only: a chunk may pack several small
    definitions, or a module's constants under the module docstring. Any other name is shown with
    the line that defines it, and cited there."""
    doc = clean_inline(chunk.doc.split("\n\n", 1)[0]) if chunk.doc else ""
    if doc and name == chunk.symbols[0] and not _is_module_header(chunk):
        text = f"`{name}` is defined here: {doc}"
        return Sentence(text if text[-1] in ".!?" else text + ".", chunk.start_line, chunk.end_line)
    lines = chunk.text.split("\n")
    defines = re.compile(_DEFINES.format(re.escape(name.rsplit(".", 1)[-1])))
    offset = next((k for k, line in enumerate(lines) if defines.search(line)), None)
    if offset is None:
        offset = next((k for k, line in enumerate(lines) if mention.search(line)), None)
    if offset is None:
        return Sentence(f"`{name}` is defined here.", chunk.start_line, chunk.end_line)
    line = chunk.start_line + offset
    return Sentence(f"`{name}` is defined here (`{lines[offset].strip()[:120]}`).", line, line)


def symbol_answer(
    symbol: str, hits: tuple[Hit, ...] | list[Hit], *, max_sources: int = 3, reading: tuple[str, str, int] | None = None
) -> Answer | None:
    """A hover: where ``symbol`` is defined and what the docs say about it; None when nothing says
    anything about this exact name (a hover must never be noise).

    ``reading``: (folder root, path, 1-based line) of the hover itself. A sentence that merely mentions the name
    on that very line is not cited: the user is reading it already. (A definition there still is:
    its docstring is what a hover on a definition should show.)"""
    last = symbol.rsplit(".", 1)[-1]
    # A mention of the name: `retry_policy` for a hover on `session.retry_policy` too.
    mention = re.compile(rf"(?<!\w){re.escape(last)}(?!\w)")
    pieces: list[str] = []
    citations: list[Citation] = []
    for hit in hits:
        if len(citations) >= max_sources:
            break
        chunk = hit.chunk
        defined = next((s for s in chunk.symbols if s.rsplit(".", 1)[-1] == last), None)
        if defined is not None:
            sentence = _definition_sentence(chunk, defined, mention)
        elif chunk.kind == "code":
            continue  # code that merely uses the name says nothing about it
        else:
            mentions = [
                s for s in _sentences_of(hit)
                if mention.search(s.text)
                and not (reading and (hit.root, chunk.path) == reading[:2] and s.start_line <= reading[2] <= s.end_line)
            ]
            if not mentions:
                continue
            sentence = mentions[0]
        n = len(citations) + 1
        pieces.append(f"{sentence.text} [{n}]")
        citations.append(
            Citation(id=n, path=chunk.path, start_line=sentence.start_line, end_line=sentence.end_line, title=_title(hit), snippet=hit.snippet, root=hit.root)
        )
    if not citations:
        return None
    return Answer(text=" ".join(pieces), citations=tuple(citations), abstained=False)
