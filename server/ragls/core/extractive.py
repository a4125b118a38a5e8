"""Answers without a model: the sentences of the best passages that address the question, each
followed by its citation (pure).

Every sentence is quoted from a retrieved passage and cited with the exact lines it came from, so an
extractive answer can never cite something it did not read.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
from dataclasses import dataclass
from typing import Sequence
from importlib import resources

from ragls.core.query import LIGHT_VERB_WEIGHT, LIGHT_VERBS, analyze_query, definition_subject, looks_like_code, synonyms_of
from ragls.core.letters import fold_letters
from ragls.core.snippets import match_prefix, question_matcher, snippet_and_lines
from ragls.core.types import Answer, Chunk, Citation, Hit, SearchResult

# The same sentence a model must use (grammars/*.gbnf), so clients can recognise an abstention.
NOT_COVERED = resources.files("ragls.prompts").joinpath("not_covered.txt").read_text(encoding="utf-8").strip()

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[*_])")
# A period after these ends no sentence ("e.g. `x`", "i.e. the kubelet", "vs. Deployments"): a
# sentence cut there is half a thought, and a target or answer ending "(e.g [1]." teaches nonsense.
_ABBREVIATION_END = re.compile(r"(?:^|[\s(])(?:e\.g|i\.e|vs|cf|approx|incl|esp|viz|resp|et al|Fig|Eq|Sect?|Mr|Ms|Dr)\.$", re.I)


def split_sentences(text: str) -> list[str]:
    """``text`` split at sentence ends (a period, ``!`` or ``?``, space, then what can start a
    sentence), not after an abbreviation; each part is a slice of ``text`` (the whitespace at the
    cuts dropped), so ``text.find(part)`` locates it."""
    parts: list[str] = []
    start = 0
    for cut in _SENTENCE_END.finditer(text):
        if _ABBREVIATION_END.search(text[start : cut.start()]):
            continue
        parts.append(text[start : cut.start()])
        start = cut.end()
    parts.append(text[start:])
    return parts
# Hugo/Jekyll shortcodes: {{< glossary_tooltip text="Pods" term_id="pod" >}} reads as "Pods", and
# without a text as its term ({{< glossary_tooltip term_id="cel" >}} -> "cel"), never as nothing:
# "You can use {{< glossary_tooltip term_id="cel" >}} to filter" must not read "You can use to filter".
_TOOLTIP = re.compile(r"\{\{[<%]\s*glossary_tooltip\b([^}]*?)[>%]\}\}")
_TOOLTIP_TEXT = re.compile(r"""\btext\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TOOLTIP_TERM = re.compile(r"""\bterm_id\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SHORTCODE = re.compile(r"\{\{[<%].*?[>%]\}\}")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_QUOTE_MARK = re.compile(r"^\s*(?:>\s?)+")
# HTML in Markdown (generated reference pages): block tags end a sentence, inline tags are dropped,
# <code> stays code.
_BLOCK_TAG = re.compile(r"</?(?:p|div|li|ul|ol|tr|td|th|table|tbody|thead|br|hr|h[1-6]|dd|dt|dl|blockquote|pre|label|section|details|summary)\b[^>]*>", re.I)
_CODE_TAG = re.compile(r"</?code\b[^>]*>", re.I)
_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)

# Caps on what an answer may quote: a sentence longer than this is cut at list separators,
# clauses or words into pieces of at most this length (a 50,000-character line, a whole list
# written on one line), and an extractive answer holds at most ``MAX_ANSWER_CHARS``.
MAX_SENTENCE_CHARS = 400
MAX_ANSWER_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start_line: int
    end_line: int
    list_item: bool = False  # from a list item or a definition-list entry ("term" / ": definition")


def _tooltip(match: re.Match[str]) -> str:
    args = match.group(1)
    found = _TOOLTIP_TEXT.search(args) or _TOOLTIP_TERM.search(args)
    return next((g for g in found.groups() if g is not None), "") if found else ""


def clean_inline(text: str) -> str:
    """Markup as a reader sees it: shortcodes rendered (or dropped), links as their text, HTML tags
    dropped (``<code>`` as backticks) and entities decoded; inline code is kept as code."""
    text = _TOOLTIP.sub(_tooltip, text)
    text = _SHORTCODE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _COMMENT.sub("", text)
    text = _CODE_TAG.sub("`", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    return re.sub(r"\s+", " ", text).strip()


# Where a too-long sentence may be cut, best first: list items written on one line ("a - b - c"),
# clauses, then any space.
_CUTS = (re.compile(r"\s[-*•]\s"), re.compile(r"[;:]\s"), re.compile(r",\s"), re.compile(r"\s"))


def _pieces(text: str, limit: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """(begin, end) spans that cover ``text`` in pieces of at most ``limit`` characters, each cut
    at the farthest separator of the best kind within reach (``_CUTS``), or hard at ``limit``."""
    spans, begin = [], 0
    while len(text) - begin > limit:
        window = text[begin : begin + limit + 1]
        end = begin + limit
        for cut in _CUTS:
            ends = [m.end() for m in cut.finditer(window) if m.end() > limit // 4]
            if ends:
                end = begin + ends[-1]
                break
        spans.append((begin, end))
        begin = end
    spans.append((begin, len(text)))
    return spans


def _markup_only(stripped: str) -> bool:
    return (
        not stripped
        or stripped.startswith(("#", "|", "<!--", ".. ", "==", "--"))
        or re.fullmatch(r"[=\-~^\"'`#*+_.:]{3,}", stripped) is not None
        or (stripped.startswith(("{{", "<")) and not clean_inline(stripped))
    )


def prose_sentences(text: str, start_line: int) -> list[Sentence]:
    """Sentences of the prose in a passage with their line ranges; headings, code fences, front
    matter, tables and markup-only lines are left out, and no sentence is longer than
    ``MAX_SENTENCE_CHARS`` (longer ones are cut into pieces, each with its own lines)."""
    sentences: list[Sentence] = []
    paragraph: list[tuple[int, str]] = []
    paragraph_is_item = [False]  # does the paragraph being gathered open with a list mark?
    in_fence = False
    in_front_matter = start_line == 1 and text.startswith(("---", "+++"))

    def add(raw: str, begin: int, line_of_char: list[int], list_item: bool) -> None:
        for piece_begin, piece_end in _pieces(raw):
            piece = raw[piece_begin:piece_end]
            cleaned = clean_inline(piece)
            if len(cleaned) > MAX_SENTENCE_CHARS:  # markup made it no shorter (rare): cut the text
                cleaned = cleaned[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0] + " …"
            if len(_WORD.findall(cleaned)) < 4:
                continue
            first = begin + piece_begin
            last = min(begin + max(piece_end - 1, piece_begin), len(line_of_char) - 1)
            sentences.append(Sentence(cleaned, line_of_char[first], line_of_char[last], list_item))

    def flush() -> None:
        if not paragraph:
            return
        joined, line_of_char = "", []
        list_item = paragraph_is_item[0] or any(line.lstrip().startswith(": ") for _, line in paragraph[1:])
        for line_no, line in paragraph:
            piece = line.strip() + " "
            joined += piece
            line_of_char.extend([line_no] * len(piece))
        paragraph.clear()
        position = 0
        for block in [*_BLOCK_TAG.split(joined)]:
            block_begin = joined.find(block, position) if block else position
            position = block_begin + len(block)
            inner = 0
            for part in split_sentences(block):
                begin = block.find(part, inner)
                inner = begin + len(part)
                if part.strip():
                    add(part, block_begin + begin, line_of_char, list_item)

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
        line = _QUOTE_MARK.sub("", line)  # "> a quoted note" reads as its text
        if "{{" in line:  # rendered before sentences are cut: "`x`. {{< tooltip text="Pods" >}} run" is two
            line = _SHORTCODE.sub("", _TOOLTIP.sub(_tooltip, line))
        stripped = line.strip()
        if _markup_only(stripped):
            flush()
            continue
        if _LIST_MARK.match(line):
            flush()
            paragraph_is_item[0] = True
            paragraph.append((line_no, _LIST_MARK.sub("", line)))
            continue
        if not paragraph:
            paragraph_is_item[0] = False
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


# What kind of answer a question asks for, from its wording (pure pattern matching on the question;
# nothing about any workspace): a quantity, a command-line flag, a named field or setting. A sentence
# of that kind is more likely the answer than one that only repeats the question's words.
_ASKS_QUANTITY = re.compile(
    r"\bhow (?:long|often|many|much|big|large|soon|far|old|frequently|close|high|low|small)\b"
    r"|\b(?:what|which)(?: is| are)?(?: the)? (?:size|limit|timeout|interval|period|duration|default|maximum|minimum|"
    r"max|min|length|number|count|port|percentage|rate|age|version|value|amount)s?\b|\bat what (?:age|size|point)\b",
    re.I,
)
_ASKS_FLAG = re.compile(r"\b(?:flags?|options?|arguments?|switch(?:es)?|command[- ]line|parameters?)\b", re.I)
_ASKS_NAME = re.compile(r"\b(?:fields?|settings?|property|properties|keys?|labels?|annotations?|attributes?|parameters?|values?|prefix|name)\b", re.I)
# Worth of a question's code-like name written verbatim in a sentence (k8s tune split: 0.1 cited the
# gold page once more, 0.2-0.3 less; docs/EVALUATION.md, session 9).
_NAME_BONUS = 0.1
_NUMBER = re.compile(r"\d")
_QUANTITY = re.compile(
    r"\b\d+(?:\.\d+)?\s?(?:%|percent|[KMGTP]i?B?\b|[KMGTP]i\b|bytes?|ms|s|m|h|d|seconds?|minutes?|hours?|days?|weeks?|"
    r"months?|years?|characters?|times|replicas|pods?|nodes?|cores?|CPUs?)\b|\b\d+(?:\.\d+)?(?:ms|s|m|h|Mi|Gi|Ki)\b",
)
_FLAG = re.compile(r"(?<![\w-])--?[a-zA-Z][\w-]*")
_CODE = re.compile(r"`[^`]+`")


# "How do I …", "How can the server pick up …", "How to …": a how-to, whoever the subject is.
_ASKS_HOW = re.compile(r"\bhow (?:do|does|can|could|should|would|will|to)\b", re.I)
_ARTICLE = frozenset({"a", "an", "the"})
# An instruction: what a how-to is answered by ("To use a non-default service account, set the
# `spec.serviceAccountName` field …", "Specify `--authorization-mode=ABAC` …", "you can remove its
# `schedulingGates` …"), not a description that shares its words.
_INSTRUCTION = re.compile(
    r"^(?:(?:To|For|If you want to) [^,]{3,120}, )?(?:(?:then|first|simply) )?(?:you (?:can|must|need to|should|have to) )?"
    r"(?:set|use|run|add|specify|pass|create|enable|disable|configure|remove|delete|edit|apply|install|call|start|"
    r"define|mark|label|annotate|include|provide|change|update|replace|restart|mount|attach|give|put|turn)\b",
    re.I,
)
# (k8s tune split: 0.1 and 0.15 alike, 0.3 worse; docs/EVALUATION.md, session 9)
_INSTRUCTION_BONUS = 0.15


def _opens_with_subject(question: str, sentence: str) -> bool:
    """Does ``sentence`` open with the subject of a definition question ("What is a work
    pool?": "A work pool runs …", "Work pools are …"), not merely mention it early ("Create a work
    pool from …", "For example, the `pool.yaml` …")?"""
    subject = definition_subject(question)
    if not subject:
        return False
    wanted = [match_prefix(w.lower()) for w in subject.split()]
    words = [w.lower() for w in _WORD.findall(sentence)[: len(wanted) + 1]]
    if words and words[0] in _ARTICLE:
        words = words[1:]
    return len(words) >= len(wanted) and all(w.startswith(p) for w, p in zip(words, wanted))


def _answer_kind_bonus(question: str, sentence: str) -> float:
    """How much a sentence looks like the kind of answer the question asks for (0 .. 0.4)."""
    bonus = 0.0
    if _ASKS_QUANTITY.search(question):
        bonus += 0.35 if _QUANTITY.search(sentence) else 0.15 if _NUMBER.search(sentence) else 0.0
    if _ASKS_FLAG.search(question) and _FLAG.search(sentence):
        bonus += 0.3
    elif _ASKS_NAME.search(question) and _CODE.search(sentence):
        bonus += 0.15
    elif _ASKS_HOW.search(question) and (_FLAG.search(sentence) or _CODE.search(sentence)):
        # a how-to is answered by the flag, command or setting to use; a flag as much as when the
        # question asks for one ("which flag …")
        bonus += 0.3 if _FLAG.search(sentence) else 0.15
    if _ASKS_HOW.search(question) and _INSTRUCTION.match(sentence):
        bonus += _INSTRUCTION_BONUS
    if _opens_with_subject(question, sentence):  # "A _work pool_ runs …", "Operators are …"
        bonus += 0.3
    return min(bonus, 0.4)


Scored = tuple[float, int, int, Sentence]  # (score, rank of its hit, position in the hit, sentence)


def _scored_sentences(
    question: str, hits: Sequence[Hit], places: Sequence[float] | None = None
) -> tuple[list[Scored], dict[int, list[Sentence]]]:
    """The candidate sentences of ``hits`` (sharing enough words with ``question``), best first,
    and every sentence of each hit by rank. See :func:`extractive_answer` for the scoring.
    ``places``: the place in the ranking each hit is discounted for (default: its rank)."""
    parts = analyze_query(question)
    # (a possessive asks about its noun: "Pod's" is matched as "pod")
    terms = list(dict.fromkeys(re.sub(r"'s?$", "", t.lower()) for t in (*parts.words, *parts.subwords)))
    whole = {t.lower() for t in parts.spelled_out}
    # prefix length -> prefix -> the terms it stands for (a word matches a term when it starts with
    # the term's prefix; spelled-out Greek letters match whole words only)
    by_length: dict[int, dict[str, list[str]]] = {}
    for t in terms:
        if t not in whole:
            # (a synonym stands for the term: "directory" in a sentence answers "folder"; not a
            # short one, whose prefix starts other words: "app" in "apply", "repo" in "report")
            for prefix in dict.fromkeys(match_prefix(w) for w in (t, *(synonym for synonym in synonyms_of(t) if len(synonym) >= 5))):
                by_length.setdefault(len(prefix), {}).setdefault(prefix, []).append(t)
    all_prefixes = sorted({p for table in by_length.values() for p in table}, key=len, reverse=True)
    starts = re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, all_prefixes)) + r")[^\W_]*") if all_prefixes else None
    # A sentence sharing a single word with a long question is rarely an answer to it.
    needed = 1 if len(set(parts.words)) <= 2 else 2
    candidates: list[tuple[int, int, Sentence, frozenset[str]]] = []
    sentences_by_rank: dict[int, list[Sentence]] = {}
    seen: set[str] = set()
    # A sentence that quotes the whole question talks about the question (a FAQ entry's heading, an
    # evaluation note, a test) rather than answering it.
    quoted = " ".join(w.lower() for w in _WORD.findall(question))
    quoted = quoted if len(quoted.split()) >= 5 else ""
    for rank, hit in enumerate(hits):
        sentences_by_rank[rank] = _sentences_of(hit)
        for position, sentence in enumerate(sentences_by_rank[rank]):
            key = re.sub(r"\W+", " ", sentence.text).strip().lower()
            if key in seen:
                continue  # overlapping chunks (a window of a long section, an overlay) repeat sentences
            seen.add(key)
            if quoted and quoted in " ".join(w.lower() for w in _WORD.findall(sentence.text)):
                continue
            folded = fold_letters(sentence.text).lower()
            found = {t for t in whole if re.search(rf"(?<![^\W_]){re.escape(t)}(?![^\W_])", folded)} if whole else set()
            # one scan finds the words that start with some prefix; only those are looked up
            for word in set(starts.findall(folded)) if starts is not None else ():
                for length, table in by_length.items():
                    found.update(table.get(word[:length], ()))
            matched = frozenset(found)
            if len(matched) >= needed:
                candidates.append((rank, position, sentence, matched))
    if not candidates:
        return [], sentences_by_rank
    total = len(candidates)
    weight = {t: math.log(1 + total / (1 + sum(t in m for *_, m in candidates))) for t in terms}
    for t in weight:
        if t in LIGHT_VERBS:
            weight[t] *= LIGHT_VERB_WEIGHT
    all_weight = sum(weight.values()) or 1.0
    # A name of the question written as in the question (`spec.validations`, `targetPort`): its words
    # alone also match "the validations of the spec"; the name itself is the specific thing asked about.
    names = [
        re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)", re.I)
        for name in dict.fromkeys(parts.identifiers) if looks_like_code(name)
    ]
    named = [{k for k, name in enumerate(names) if name.search(sentence.text)} for *_, sentence, _m in candidates]
    # (worth less the more candidates write it: a name in every sentence tells none apart)
    name_worth = [_NAME_BONUS * (1 - sum(k in found for found in named) / total) for k in range(len(names))]
    scored = []
    for (rank, position, sentence, matched), found in zip(candidates, named):
        # (summed in a fixed order: a set's order changes with the process's hash seed, and so would
        # the float rounding that breaks a tie between two sentences)
        share = sum(weight[t] for t in sorted(matched)) / all_weight + sum(name_worth[k] for k in sorted(found))
        place = places[rank] if places is not None else rank
        score = (share + _answer_kind_bonus(question, sentence.text)) / (1 + 0.1 * place)
        score -= 0.001 * max(0, len(sentence.text) - 250)
        if parts.natural_language and hits[rank].chunk.kind == "code":
            score *= 0.5  # a question in words is better answered by prose than by "`x` is defined here"
        scored.append((score, rank, position, sentence))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return scored, sentences_by_rank


def best_sentence_lines(question: str, hit: Hit) -> tuple[int, int] | None:
    """The file lines (1-based inclusive) of the sentence of ``hit`` that would answer ``question``
    best, scored as :func:`extractive_answer` scores it (idf weights from this hit's sentences);
    None when no sentence shares enough words with the question."""
    scored, _ = _scored_sentences(question, (hit,))
    if not scored:
        return None
    sentence = scored[0][3]
    return sentence.start_line, sentence.end_line


def extractive_answer(question: str, result: SearchResult, **options) -> Answer:
    """:func:`extractive_answer_and_passages`' answer (same ``options``)."""
    return extractive_answer_and_passages(question, result, **options)[0]


def extractive_answer_and_passages(
    question: str,
    result: SearchResult,
    *,
    max_sentences: int = 3,
    max_per_passage: int = 2,
    keep_ratio: float = 0.6,
    context: Sequence[Hit] = (),
) -> tuple[Answer, tuple[Hit, ...]]:
    """The sentences of the retrieved passages that best answer ``question``, each cited.

    A sentence scores the idf-weighted share of the question's terms it holds (weights from the
    candidate sentences themselves: a word in every sentence says little about which one answers),
    plus a bonus when it is the kind of answer asked for (``_answer_kind_bonus``), less for later
    passages and for length. The best sentence is always given; others only when they score at least
    ``keep_ratio`` of it (a weak second sentence is usually from a page about something else), at
    most ``max_sentences``, ``max_per_passage`` per passage and ``MAX_ANSWER_CHARS`` in all. The same
    sentence from two overlapping passages is given once.

    ``context``: more passages of the retrieved pages (``Answerer.page_context``). A page that
    ranks high is usually the right one even where its best-matching passage is not the one that
    states the answer ("the default interval is 15 seconds" two sections away from the words of
    "how often does the autoscaler check"). A context passage is discounted as if it ranked
    ``CONTEXT_PLACES`` below its page's best hit. Not for a question of one or two words.

    Also returns the passages its sentences come from, best sentence first (for
    :func:`passages_for_model`); :func:`extractive_answer` is the answer alone.
    """
    if not result.covered or not result.hits:
        return Answer(text=NOT_COVERED, citations=(), abstained=True), ()
    # A question of one or two words ("What is a DaemonSet for?") is about the whole page: every
    # section matches it alike, so the rest of the page only crowds out the passages retrieval chose.
    if len(set(analyze_query(question).words)) <= 2:
        context = ()
    hits, places = _with_context(result.hits, context)
    scored, sentences_by_rank = _scored_sentences(question, hits, places)
    if not scored:
        # Retrieval found the topic but no sentence states it (a page of code samples, a table):
        # point at the best sections instead of pretending the workspace is silent.
        return _pointer_answer(result.hits[:2]), tuple(result.hits[:2])
    best = scored[0][0]
    chosen: list[tuple[int, int, Sentence]] = []
    per_passage: dict[int, int] = {}
    length = 0
    taken: set[tuple[int, int]] = set()  # (rank, position) of every sentence in the answer
    for score, rank, position, sentence in scored:
        if (rank, position) in taken:
            continue  # already in the answer as part of the list under a lead-in
        if chosen and score < keep_ratio * best:
            continue
        if per_passage.get(rank, 0) >= max_per_passage:
            continue
        following = sentences_by_rank[rank][position + 1 :]
        sentence, joined = _with_continuation(sentence, following, position, {p for r, p in taken if r == rank})
        if chosen and length + len(sentence.text) > MAX_ANSWER_CHARS:
            continue
        per_passage[rank] = per_passage.get(rank, 0) + 1
        chosen.append((rank, position, sentence))
        taken.update((rank, p) for p in range(position, position + 1 + joined))
        length += len(sentence.text)
        if len(chosen) >= max_sentences:
            break
    by_score = tuple(hits[rank] for rank in dict.fromkeys(rank for rank, _position, _sentence in chosen))
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
        hit = hits[rank] if rank < len(result.hits) else with_snippet(hits[rank], question)
        lo, hi = spans[rank]
        citations.append(
            Citation(id=n, path=hit.chunk.path, start_line=lo, end_line=hi, title=_title(hit), snippet=hit.snippet, root=hit.root)
        )
    return Answer(text=" ".join(pieces), citations=tuple(citations), abstained=False), by_score


# How far below its page's best hit a context passage counts (tuned on the k8s tune split: 2..5
# score alike; docs/EVALUATION.md, session 9).
CONTEXT_PLACES = 3


def _with_context(hits: Sequence[Hit], context: Sequence[Hit]) -> tuple[tuple[Hit, ...], list[float]]:
    """``hits`` then the ``context`` passages that are not among them, with the place in the
    ranking each is discounted for."""
    if not context:
        return tuple(hits), list(range(len(hits)))
    first_place: dict[tuple[str, str], int] = {}
    for rank, hit in enumerate(hits):
        first_place.setdefault((hit.root, hit.chunk.path), rank)
    have = {(h.root, h.chunk.path, h.chunk.start_line, h.chunk.end_line) for h in hits}
    extra = [
        h for h in context
        if (h.root, h.chunk.path, h.chunk.start_line, h.chunk.end_line) not in have and (h.root, h.chunk.path) in first_place
    ]
    places = [float(rank) for rank in range(len(hits))]
    places += [first_place[(h.root, h.chunk.path)] + CONTEXT_PLACES for h in extra]
    return (*hits, *extra), places


def with_snippet(hit: Hit, question: str) -> Hit:
    """``hit`` with the snippet and matched lines a search hit has, for a page passage that comes
    without (``WorkspaceIndex.page_hits``) and is shown: cited, or read by a model."""
    if hit.snippet:
        return hit
    snippet, lines = snippet_and_lines(hit.chunk.text, hit.chunk.start_line, question_matcher(analyze_query(question)))
    return dataclasses.replace(hit, snippet=snippet, matched_lines=lines)


def passages_for_model(question: str, answered_from: Sequence[Hit], hits: Sequence[Hit]) -> tuple[Hit, ...]:
    """The passages a model is shown, as many as ``hits``: first those the extractive answer to the
    same question quotes (``answered_from``, best sentence first: :func:`extractive_answer_and_passages`)
    — retrieved ones in rank order, then the others (sections of a top page that retrieval did not
    rank) —, then the other ``hits`` in rank order. When the answer quotes more passages than there
    is room for, its best ones stay.

    The extractive scoring has read every sentence of the best pages; retrieval ranked chunks. A
    fact two sections from the question's words reaches the model only this way (k8s: prompts holding
    every fact 74.7% -> 85.7% of tune questions, 70.7% -> 75.0% of test ones, as many tokens;
    benchmarks/bench_focus.py). Retrieval's order stays first: a small model cites its first passage
    most, and with the extractive answer's best passage first SmolLM2-135M cited the gold page in
    75.8% of tune answers instead of 85.7% (docs/BENCHMARKS.md)."""
    room = len(hits)
    quoted: list[Hit] = []
    for hit in answered_from:
        if hit not in quoted and len(quoted) < room:
            quoted.append(hit)
    ordered = [hit for hit in hits if hit in quoted] + [with_snippet(hit, question) for hit in quoted if hit not in hits]
    return tuple([*ordered, *(hit for hit in hits if hit not in quoted)][:room])


# A lead-in's list is quoted up to this many characters (the list items, cut at an item).
MAX_CONTINUATION_CHARS = 300


def _with_continuation(
    sentence: Sentence, following: list[Sentence], position: int, taken: set[int]
) -> tuple[Sentence, int]:
    """A lead-in ("The cache modes you can choose are:") says nothing by itself:
    the list right under it is the answer. Its first items (up to ``MAX_CONTINUATION_CHARS``, none
    already in the answer) join it; returns the sentence and how many items joined."""
    if not sentence.text.rstrip().endswith(":"):
        return sentence, 0
    text, end_line, added, joined = sentence.text.rstrip(), sentence.end_line, 0, 0
    for offset, item in enumerate(following, 1):
        # (a blank line may separate the lead-in or a definition-list entry from the next)
        if not item.list_item or position + offset in taken or item.start_line > end_line + 2 or added + len(item.text) > MAX_CONTINUATION_CHARS:
            break
        text += (" " if text.endswith(":") else "; ") + item.text.rstrip(" .;")
        end_line = item.end_line
        added += len(item.text)
        joined = offset
    if not joined:
        return sentence, 0
    return Sentence(text.rstrip(":") + ".", sentence.start_line, end_line), joined


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
