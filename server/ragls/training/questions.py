"""Questions a person could ask about a workspace, made from its own passages (pure).

Each :class:`Candidate` pairs a question with the 1-3 short sentences of one passage (the *gold*
passage) that answer it, and a *key*: the one fact the answer turns on (a number, a flag, a defined
name, or the answer's first sentence for a heading). Four kinds:

- ``number``: a sentence stating a value with a unit or of a named quantity ("the request timeout is
  30 seconds"); the question names what the number measures ("What is the request timeout?").
- ``flag``: a command-line flag a passage explains (prose mentioning ``--flag``, or an argparse/click
  option with its help text).
- ``definition``: a documented definition in code (name + docstring) or a defining sentence in prose
  ("A Pod is the smallest ...", "**Term**: ...").
- ``heading``: a section heading turned into a question ("Install the client" -> "How do I install
  the client?"), answered by the section's first sentences.

The rules are about documentation and code in general (English prose, Markdown/reST, Python-like
code); nothing here knows any particular workspace. Templates are picked with a random generator
seeded per passage, so the same seed gives the same questions in any order of processing.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from ragls.core.extractive import clean_inline, prose_sentences
from ragls.core.types import Chunk

KINDS = ("number", "flag", "definition", "heading")

# A target sentence must be short and must survive the answer grammar: words of at most 40
# characters (URLs are longer) and no square brackets (they are the citation markers).
MAX_SENTENCE_WORDS = 40
MIN_SENTENCE_WORDS = 4
MAX_ANSWER_WORDS = 60
_MAX_WORD_CHARS = 40


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: str
    question: str
    sentences: tuple[str, ...]  # the target's sentences as written in the gold passage (cleaned)
    key: str  # the fact the answer turns on (must occur in the gold passage)
    chunk: Chunk  # the gold passage


def usable_sentence(text: str) -> bool:
    """A sentence that can be a target as it stands: short, no brackets, no over-long words, and
    not an introduction to something that follows (``... the following command:``)."""
    words = text.split()
    return (
        MIN_SENTENCE_WORDS <= len(words) <= MAX_SENTENCE_WORDS
        and "[" not in text
        and "]" not in text
        and all(len(w) <= _MAX_WORD_CHARS for w in words)
        and not text.rstrip().endswith((":", ",", ";"))
        and "{{" not in text
        and ">>>" not in text
        and not re.search(r"[:;] - ", text)  # a list flattened into one line
        and not re.search(r"</?[a-zA-Z][^>]*>", text)  # left-over HTML is markup, not an answer
    )


def _words(text: str) -> int:
    return len(text.split())


_CONTINUES = re.compile(r"^(?:It|Its|This|These|They|That|Those|The same|In that case|Otherwise)\b")


def _take_sentences(
    sentences: Sequence[str], first: int, rng: random.Random, most: int = 3, key: str | None = None
) -> tuple[str, ...]:
    """The sentence at ``first`` and up to ``most - 1`` usable ones right after it, within the word
    budget (the number taken varies, so targets are not all the same length). With ``key``, a
    following sentence is taken only when it goes on about the same thing (names the key or opens
    with a pronoun): in reference pages the next sentence is often about the next field."""
    wanted = rng.randint(1, most)
    taken = [sentences[first]]
    total = _words(sentences[first])
    for sentence in sentences[first + 1 :]:
        if len(taken) >= wanted or not usable_sentence(sentence) or total + _words(sentence) > MAX_ANSWER_WORDS:
            break
        if key is not None and key not in sentence and not _CONTINUES.match(sentence):
            break
        taken.append(sentence)
        total += _words(sentence)
    return tuple(taken)


def _rng(seed: int, chunk: Chunk, kind: str) -> random.Random:
    # Seeded from the passage, not from a running stream: the questions of a passage do not depend
    # on which passages came before it.
    return random.Random(f"{seed}|{chunk.path}|{chunk.start_line}|{kind}")


# --- numbers ---------------------------------------------------------------------------------

_TIME_UNITS = r"ms|milliseconds?|µs|microseconds?|ns|nanoseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|weeks?|months?|years?"
_SIZE_UNITS = r"[KMGTP]i?B|[KMGTP]i|[kKMG]b|bytes?|kilobytes?|megabytes?|gigabytes?|terabytes?|bits?"
_COUNT_UNITS = (
    r"%|percent|characters?|chars|lines?|tokens?|files?|requests?|connections?|threads?|processes|workers?|"
    r"items?|entries|retries|attempts|times|levels?|digits?|columns?|rows?|cores?|CPUs?|passages?|results?"
)
_UNIT = rf"(?:{_TIME_UNITS}|{_SIZE_UNITS}|{_COUNT_UNITS})"
# Words that name a quantity: a sentence "the X limit is 5" states a number even without a unit.
_QUANTITY_WORDS = frozenset(
    """default maximum minimum max min limit limits number size count timeout interval period duration
    threshold length port capacity rate ratio version value weight priority depth width height delay
    retention ttl budget quota lifetime age frequency percentage total amount backoff deadline
    grace replicas""".split()
)
_LINKS = r"is|are|defaults to|is set to|are set to|is limited to|must be|should be|can be|of"
_NUMBER = re.compile(
    rf"(?P<measure>(?:[\w`'\-]+\s+){{0,4}}?[\w`'\-]+)\s+(?P<link>{_LINKS})\s+"
    rf"(?:about\s+|approximately\s+|around\s+|at\s+most\s+|at\s+least\s+|up\s+to\s+|only\s+|roughly\s+)?"
    rf"(?P<value>(?<![\w.\-/])\d+(?:[.,]\d+)*(?:\s?(?P<unit>{_UNIT}))?)(?![\w.]?\d)(?!\w)"
)
_DETERMINERS = frozenset("the a an this that its your their our my his her each every any".split())
# A measure is the noun phrase right before the verb: cut at the last clause word.
_CLAUSE_WORDS = frozenset(
    """and or but which that if when so then where while because whose after before since until
    unless although though as by for with in on at from into within than over per across during""".split()
)
_PRONOUNS = frozenset("it this that there these those they we you he she one which what who here".split())


def _measure(raw: str) -> str | None:
    words = raw.split()
    for i in range(len(words) - 1, -1, -1):
        if words[i].lower() in _CLAUSE_WORDS:
            words = words[i + 1 :]
            break
    # "consumes counters the limit" -> "limit": the noun phrase starts at its determiner.
    for i in range(len(words) - 1, 0, -1):
        if words[i].lower() in _DETERMINERS:
            words = words[i:]
            break
    while words and words[0].lower() in _DETERMINERS:
        words = words[1:]
    if not words or all(w.lower() in _PRONOUNS or w.lower() in _DETERMINERS for w in words):
        return None
    if words[0].lower() in _PRONOUNS or any(any(ch.isdigit() for ch in w) for w in words):
        return None  # a measure with a number in it is a comparison, not a name
    return " ".join(words)


def _time_unit(unit: str | None) -> bool:
    return bool(unit) and re.fullmatch(_TIME_UNITS, unit) is not None


def number_candidates(chunk: Chunk, sentences: Sequence[str], context: str, seed: int) -> list[Candidate]:
    rng = _rng(seed, chunk, "number")
    for position, sentence in enumerate(sentences):
        if not usable_sentence(sentence):
            continue
        for match in _NUMBER.finditer(sentence):
            measure = _measure(match.group("measure"))
            if measure is None:
                continue
            unit = match.group("unit")
            named_quantity = any(w.lower().strip("`") in _QUANTITY_WORDS for w in measure.split())
            if match.group("link") == "of" and not unit:
                continue  # "one of 3" / "version of 2": no measure without a unit
            if not named_quantity and (not unit or len(measure.split()) == 1):
                continue  # "the update is at most 130%": one word that names no quantity
            verb = "are" if match.group("link").startswith("are") else "is"
            templates = [f"What {verb} the {measure}?"]
            if "value" not in measure.lower():
                templates.append(f"What value {verb} the {measure} set to?")
            if _time_unit(unit):
                templates += [f"How long {verb} the {measure}?"]
            plain = " ".join(w for w in measure.split() if w.lower() != "default")
            if plain != measure and plain:
                templates += [f"By default, what {verb} the {plain}?"]
            question = rng.choice(templates)
            # One word ("limit") names a quantity only together with where it applies.
            if context and (len(measure.split()) == 1 or rng.random() < 0.5):
                question = f"{question[:-1]} in {context}?" if rng.random() < 0.5 else f"In {context}, {question[0].lower()}{question[1:]}"
            value = re.sub(r"\s+", " ", match.group("value"))
            answer = _take_sentences(sentences, position, rng, most=2, key=measure)
            return [Candidate("number", question, answer, value, chunk)]
    return []


# --- flags -----------------------------------------------------------------------------------

_FLAG = re.compile(r"(?<![\w\-])--[a-zA-Z][\w\-]{1,38}(?![\w\-])")
_CODE_SPAN = re.compile(r"`([^`]+)`")
# argparse / click / optparse options with their help text, on one line or across a call.
_OPTION_HELP = re.compile(
    r"""["'](--[a-zA-Z][\w\-]{1,38})["'][^()]{0,200}?\bhelp\s*=\s*(?:\(\s*)?(?P<q>["'])(?P<help>[^"'\n]{12,240})(?P=q)""",
    re.DOTALL,
)


def _command_before(sentence: str, flag: str) -> str | None:
    """The command a flag belongs to, when a code span shows it: ``kubectl apply --prune`` ->
    ``kubectl apply``."""
    for span in _CODE_SPAN.findall(sentence):
        if flag in span.split():
            words = []
            for word in span.split():
                if word == flag or word.startswith("-"):
                    break
                words.append(word)
            if words and re.fullmatch(r"[\w.\-]+", words[0]):
                return " ".join(words[:2])
    return None


def flag_candidates(chunk: Chunk, sentences: Sequence[str], context: str, seed: int) -> list[Candidate]:
    rng = _rng(seed, chunk, "flag")
    if chunk.kind == "code":
        match = _OPTION_HELP.search(chunk.text)
        if not match:
            return []
        flag, help_text = match.group(1), clean_inline(match.group("help"))
        sentence = f"`{flag}`: {help_text}"
        if not usable_sentence(sentence):
            return []
        program = chunk.path.rsplit("/", 1)[-1]
        question = rng.choice([
            f"What does the `{flag}` option of `{program}` do?",
            f"What is `{flag}` for in `{program}`?",
            f"What happens when I pass `{flag}` to `{program}`?",
        ])
        return [Candidate("flag", question, (sentence,), flag, chunk)]
    for position, sentence in enumerate(sentences):
        if not usable_sentence(sentence):
            continue
        flags = _FLAG.findall(sentence)
        if not flags:
            continue
        flag = flags[0]
        command = _command_before(sentence, flag)
        templates = [f"What does the `{flag}` flag do?", f"What is `{flag}` used for?", f"When should I use `{flag}`?"]
        if command:
            templates = [f"What does `{flag}` do for `{command}`?", f"Why would I pass `{flag}` to `{command}`?"]
        question = rng.choice(templates)
        if not command and context and rng.random() < 0.5:
            question = f"{question[:-1]} in {context}?"
        return [Candidate("flag", question, _take_sentences(sentences, position, rng, most=2, key=flag), flag, chunk)]
    return []


# --- definitions -----------------------------------------------------------------------------

_TERM_STOP = frozenset(
    """it this that there these those here each every some one what which who why how when where such
    other another its our your their his her my we you they he she all any both no not most many much
    only if in on for to by with from as at of setting using although though because since while once
    unless whether during after before until""".split()
)
_PROSE_DEFINITION = re.compile(
    r"^(?P<term>`[^`]{1,40}`|[A-Za-z][\w\-]*(?:\s+[\w\-]+){0,3}?)\s+"
    r"(?P<verb>is|are|refers to|means)\s+(?:an?|the|one|any)\s+\S"
)
_LIST_DEFINITION = re.compile(r"^(?:\*\*|`)(?P<term>[^*`]{1,40})(?:\*\*|`)\s*(?::|—|–| - )\s*\S")


def _definition_from_prose(sentence: str) -> tuple[str, str] | None:
    """(term, how to ask) for a defining sentence, or None."""
    match = _LIST_DEFINITION.match(sentence)
    if match:
        term = match.group("term").strip()
        return term, "is"
    match = _PROSE_DEFINITION.match(sentence)
    if not match:
        return None
    words = match.group("term").split()
    det = words[0].lower() if words[0].lower() in ("a", "an", "the") else ""
    if det:
        words = words[1:]
    # Without an article only a name defines ("Kubernetes is a ...", "`crictl` is a ..."); "setting
    # it is a ..." does not.
    if not words or len(words) > 3 or (not det and not words[0][:1].isupper() and not words[0].startswith("`")):
        return None
    if any(w.lower().strip("`") in _TERM_STOP for w in words):
        return None
    term = " ".join(words)
    verb = "are" if match.group("verb") == "are" else "is"
    return (f"{det} {term}" if det else term), verb


# A file that opens with a docstring, possibly after comments (a module's header chunk).
_MODULE_HEADER = re.compile(r"""(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*[rRbBuU]{0,2}["']""")


def _doc_sentences(doc: str) -> list[str]:
    # Docstring prose only: reST field lists and doctest lines are not sentences to quote.
    kept = "\n".join(line for line in doc.split("\n") if not line.strip().startswith((":", ">>>", "...", "@")))
    return [s.text for s in prose_sentences(kept.split("\n\n", 1)[0], 1) if not s.text.endswith("?")]


def definition_candidates(chunk: Chunk, sentences: Sequence[str], context: str, seed: int) -> list[Candidate]:
    rng = _rng(seed, chunk, "definition")
    if chunk.kind == "code":
        if not chunk.symbols or not chunk.doc or "test" in chunk.path.lower().rsplit("/", 1)[-1]:
            return []
        # A later window of a long definition carries its docstring but not its text: only the
        # chunk that shows the docstring can answer.
        if chunk.doc.strip().split("\n", 1)[0].strip()[:60] not in chunk.text:
            return []
        doc = _doc_sentences(chunk.doc)
        if not doc:
            return []
        module = _MODULE_HEADER.match(chunk.text) is not None and chunk.start_line <= 5
        # A module's opening docstring describes the file, not the first name assigned under it.
        name = chunk.path.rsplit("/", 1)[-1] if module else chunk.symbols[0]
        lead = f"`{name}`: {doc[0]}"
        if not usable_sentence(lead) or lead.endswith("?"):
            return []
        is_class = re.match(r"\s*(?:@\S+\s+)*class\s", chunk.text) is not None
        short = name.rsplit(".", 1)[-1]
        if module:
            templates = [f"What is `{name}` for?", f"What does the module `{name}` do?", f"What is in `{name}`?"]
        elif is_class:
            templates = [f"What is the `{name}` class?", f"What is `{name}` for?", f"What does the class `{name}` represent?"]
        elif "." in name:
            owner = name.rsplit(".", 1)[0]
            templates = [f"What does `{name}` do?", f"What does the `{short}` method of `{owner}` do?", f"What is `{name}` for?"]
        else:
            templates = [f"What does `{name}` do?", f"What is the purpose of `{name}`?", f"Can you explain what `{name}` does?"]
        rest = [s for s in doc[1:2] if usable_sentence(s)] if rng.random() < 0.5 else []
        return [Candidate("definition", rng.choice(templates), (lead, *rest), name, chunk)]
    for position, sentence in enumerate(sentences):
        if not usable_sentence(sentence):
            continue
        found = _definition_from_prose(sentence)
        if found is None:
            continue
        term, verb = found
        bare = re.sub(r"^(?:a|an|the)\s+", "", term, flags=re.IGNORECASE)
        templates = [f"What {verb} {term}?", f"Can you define {bare}?", f"What does {bare} mean?"]
        if context and context.lower() != bare.lower():
            templates.append(f"In {context}, what {verb} {term}?")
        answer = _take_sentences(sentences, position, rng, most=2, key=bare)
        return [Candidate("definition", rng.choice(templates), answer, bare.strip("`*"), chunk)]
    return []


# --- headings --------------------------------------------------------------------------------

# Common verbs of task headings ("Install X", "Configuring X"); general English, any workspace.
_VERBS = frozenset(
    """access add allow annotate apply ask assign attach authenticate authorize avoid back build cache
    call change check choose clean compute configure connect control convert create customise customize
    debug declare define delete deploy deprecate detach disable drain edit enable encrypt expand export
    expose extend fetch filter find format generate get handle import index inspect install label limit
    list load log make manage measure migrate monitor mount move open package parse prepare print
    provide publish pull push read reduce register release remove rename replace reset restart restore
    restrict retry rotate run scale schedule search secure select send serve set share sign sort specify
    start stop store switch test track train translate troubleshoot tune update upgrade use validate
    verify view watch work write""".split()
)
# Headings that name a part of every document rather than a subject: no question to ask.
_GENERIC_HEADINGS = frozenset(
    """what's next|whats next|next steps|see also|references|reference|further reading|related|contents|
    table of contents|license|licence|changelog|feedback|acknowledgements|acknowledgments|notes|footnotes|
    index|examples|example|todo|usage|api|misc|other|appendix|credits|authors""".replace("\n", "").split("|")
)
_OVERVIEW_HEADINGS = frozenset("overview|introduction|summary|about|background".split("|"))
_QUESTION_WORDS = ("what", "how", "why", "when", "where", "which", "who", "can", "should", "do", "does", "is", "are")


def _base_verb(word: str) -> str | None:
    """``Installing`` -> ``install``, ``Setting`` -> ``set``, ``Using`` -> ``use``; None if not a verb."""
    lowered = word.lower()
    if lowered in _VERBS:
        return lowered
    if lowered.endswith("ing") and len(lowered) > 4:
        stem = lowered[:-3]
        for guess in (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else ""):
            if guess in _VERBS:
                return guess
    return None


def _sentence_case(text: str) -> str:
    """Lower-case the first word of a sentence-case heading ("Container probes" -> "container
    probes"); names and title-case headings stay as written."""
    words = text.split()
    if len(words) >= 2 and words[0][:1].isupper() and words[0][1:].islower() and words[1][:1].islower():
        return words[0].lower() + text[len(words[0]) :]
    return text


_STEP_PREFIX = re.compile(r"^(?:(?:step|part|stage|phase|chapter)\s+\d+\s*[:.)\-–—]?\s*|\d+(?:\.\d+)*[.)]?\s+)", re.IGNORECASE)


def heading_question(leaf: str, context: str, ambiguous: bool, rng: random.Random) -> str | None:
    leaf = _STEP_PREFIX.sub("", leaf.strip()).rstrip(".:")
    lowered = leaf.lower()
    if not leaf or lowered in _GENERIC_HEADINGS or len(leaf.split()) > 12:
        return None
    with_context = bool(context) and (ambiguous or rng.random() < 0.3)
    if lowered in _OVERVIEW_HEADINGS:
        if not context:
            return None
        return rng.choice([f"Give me an overview of {context}.", f"What is {context} about?", f"Can you summarise {context}?"])
    if lowered.startswith("how to ") and len(leaf) > 7:
        question = f"How do I {leaf[7:]}?"
        return f"{question[:-1]} in {context}?" if with_context else question
    first = lowered.split()[0]
    # A heading that asks already: "Why is my upload slow?", or "Why SciFact stays below 0.7".
    if (leaf.endswith("?") and first in _QUESTION_WORDS) or first in _QUESTION_WORDS[:6]:
        leaf = leaf.rstrip("?")
        return f"{leaf} ({context})?" if with_context else f"{leaf}?"
    words = leaf.split()
    verb = _base_verb(words[0])
    if verb is not None and len(words) >= 2:
        phrase = f"{verb} {' '.join(words[1:])}"
        templates = [f"How do I {phrase}?", f"How can I {phrase}?", f"What are the steps to {phrase}?"]
        question = rng.choice(templates)
        return f"{question[:-1]} in {context}?" if with_context else question
    subject = _sentence_case(leaf)
    if with_context:
        subject = f"{subject} in {context}"
    return rng.choice([
        f"What can you tell me about {subject}?",
        f"Tell me about {subject}.",
        f"What should I know about {subject}?",
        f"Can you explain {subject}?",
    ])


def _starts_with_heading(chunk: Chunk, leaf: str) -> bool:
    """The chunk opens its section (a later window of a long section carries the heading too, but
    not the section's first sentences)."""
    lines = chunk.text.split("\n")
    if any(leaf in clean_inline(line) for line in lines[:2]):
        return True
    # A page's first chunk: its title may come from front matter a few lines down.
    return chunk.start_line == 1 and any(leaf in clean_inline(line) for line in lines[:12])


def heading_candidates(chunk: Chunk, sentences: Sequence[str], context: str, ambiguous: bool, seed: int) -> list[Candidate]:
    if chunk.kind == "code" or not chunk.heading:
        return []
    leaf = clean_inline(chunk.heading[-1])
    if not leaf or not _starts_with_heading(chunk, leaf):
        return []
    # The answer opens the section: its first sentence, or the next when the first is too long to
    # quote (or lost words to markup).
    first = next((i for i, sentence in enumerate(sentences[:3]) if usable_sentence(sentence)), None)
    if first is None:
        return []
    rng = _rng(seed, chunk, "heading")
    question = heading_question(leaf, context if context != leaf else "", ambiguous, rng)
    if question is None:
        return []
    answer = _take_sentences(sentences, first, rng, most=3)
    return [Candidate("heading", question, answer, answer[0], chunk)]


# --- all of a workspace ----------------------------------------------------------------------

def _context(chunk: Chunk) -> str:
    """What a person would name to say where: the page title (top heading), else the file name."""
    if chunk.heading and len(chunk.heading) > 1:
        title = clean_inline(chunk.heading[0])
        if title and len(title.split()) <= 8:
            return title
    return ""


# Template markup that renders text the source does not hold ({{< glossary_tooltip term_id="x" >}}
# without text=, {{% param %}}): cleaning removes it and leaves a sentence with a hole in it.
_HOLE_MARKUP = re.compile(r"\{\{[<%](?![^}]*\btext=)[^}]*[>%]\}\}")


def chunk_sentences(chunk: Chunk) -> list[str]:
    """The prose sentences of a passage, cleaned; "" in place of a sentence that lost words to
    markup (kept as a gap, so that the sentences around it are not taken as one run)."""
    if chunk.kind == "code":
        return []
    lines = chunk.text.split("\n")
    found = []
    for sentence in prose_sentences(chunk.text, chunk.start_line):
        raw = "\n".join(lines[sentence.start_line - chunk.start_line : sentence.end_line - chunk.start_line + 1])
        found.append("" if _HOLE_MARKUP.search(raw) else sentence.text)
    return found


def candidates(chunks: Iterable[Chunk], seed: int) -> list[Candidate]:
    """Every candidate of every chunk, at most one per kind per chunk, in chunk order."""
    chunks = list(chunks)
    # A heading that several files share ("Configuration") needs its page named to be answerable.
    leaf_files = Counter()
    for path, leaf in {(c.path, clean_inline(c.heading[-1]).lower()) for c in chunks if c.heading}:
        leaf_files[leaf] += 1
    found: list[Candidate] = []
    for chunk in chunks:
        sentences = chunk_sentences(chunk)
        context = _context(chunk)
        found += number_candidates(chunk, sentences, context, seed)
        found += flag_candidates(chunk, sentences, context, seed)
        found += definition_candidates(chunk, sentences, context, seed)
        if chunk.heading:
            ambiguous = leaf_files[clean_inline(chunk.heading[-1]).lower()] > 1
            found += heading_candidates(chunk, sentences, context, ambiguous, seed)
    return found
