"""Turning free user text into the parts of a hybrid lexical query (pure, no Tantivy).

Any text is a valid query: we never hand user text to a query parser. We only extract words,
identifiers and adjacent pairs, which the retriever turns into term and phrase queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragls.core.identifiers import identifiers_in, is_compound, split_identifier
from ragls.core.letters import fold_letters

# Question words and function words: they carry no topic, and in BM25 they only add noise.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can cannot could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just let me more most my myself no nor not of off on once only or other ought our ours ourselves
    out over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours yourself yourselves
    s t don doesn isn use used using way ways tell explain describe mean means
    don't doesn't didn't isn't wasn't weren't can't couldn't won't wouldn't shouldn't haven't hasn't
    i'm i've i'd it's that's there's what's
    roughly approximately exactly precisely besides actually really basically anyway""".split()
)

# Verbs that carry the question's grammar, not its topic ("How do I *make* the API server check …",
# "Where does the port *come* from", "how much JSON does a Pod *take* up"): rare in the passages, so
# their idf would make a sentence that happens to say "makes" look like the answer (extractive
# answers), and a passage without them look off topic (retrieval's coverage). Half weight in both.
LIGHT_VERBS = frozenset(
    "make makes get gets set put keep let lets happen happens work works need needs want come comes go goes take takes give gives see ask asks say says".split()
)
LIGHT_VERB_WEIGHT = 0.5

# Words that a question and a page use for the same thing, whichever the writer picked ("the
# manifests *folder*" for "the manifests *directory*", "repo" for "repository"):
# general computing vocabulary, not any project's. Retrieval searches and covers a question's word
# through its synonyms too, and an extractive answer matches them.
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("folder", "directory", "dir"),
    ("repo", "repository"),
    ("env", "environment"),
    ("arg", "argument"),
    ("param", "parameter"),
    ("app", "application"),
)
_SYNONYMS = {word: tuple(w for w in group if w != word) for group in SYNONYM_GROUPS for word in group}


def synonyms_of(word: str) -> tuple[str, ...]:
    """The other words of ``word``'s synonym group (plurals too: "folders" -> directory, dir)."""
    word = word.lower()
    for singular in (word, word[:-1] if word.endswith("s") else "", word[:-3] + "y" if word.endswith("ies") else ""):
        if singular and singular in _SYNONYMS:
            return _SYNONYMS[singular]
    return ()


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


@dataclass(frozen=True, slots=True)
class QueryParts:
    text: str
    words: tuple[str, ...]  # lower-cased content words in order (stopwords dropped unless nothing else)
    identifiers: tuple[str, ...]  # identifier-looking tokens as written: retry_policy, HTTPResponse, a.b
    subwords: tuple[str, ...]  # identifier sub-words: http, response, retry, policy
    symbols: tuple[str, ...]  # candidate exact symbol names, lower-cased (dotted parts too)
    pairs: tuple[tuple[str, str], ...]  # adjacent content words, for phrase proximity
    # A question in words ("how are secrets kept out of the index"), not a code lookup
    # ("HTTPResponse", "retry_policy default"): its answer is more likely prose than code.
    natural_language: bool = False
    # Words that held Greek letters, as spelled out ("pi" for π): shown matches take them whole.
    spelled_out: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.words and not self.symbols


def looks_like_code(word: str) -> bool:
    return "_" in word.strip("_") or "." in word or any(c.isupper() for c in word[1:]) or (
        any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
    )


def analyze_query(text: str, *, max_words: int = 64) -> QueryParts:
    raw = text if isinstance(text, str) else ""
    # Words are matched as the index analyses them: Greek letters spelled out (IFN-γ ~ IFN-gamma).
    folded = fold_letters(raw)
    tokens = [m.group(0).lower().replace("’", "'") for m in _WORD.finditer(folded)][: max_words * 2]
    spelled_out: frozenset[str] = frozenset()
    if folded is not raw:  # folding keeps word boundaries, so the words pair up
        written = [m.group(0).lower() for m in _WORD.finditer(raw)][: max_words * 2]
        spelled_out = frozenset(f for w, f in zip(written, tokens) if w.replace("’", "'") != f)
    content = [t for t in tokens if t not in STOPWORDS]
    if not content:  # "how does it work": keep what there is rather than nothing
        content = tokens
    content = content[:max_words]
    # (folded too: σ_max is looked up as sigma_max, the way the index holds its name)
    identifiers = tuple(dict.fromkeys(i for i in identifiers_in(folded) if len(i) > 1))[:max_words]
    subwords: list[str] = []
    for ident in identifiers:
        if is_compound(ident) or "." in ident:
            subwords.extend(split_identifier(ident))
    symbols: list[str] = []
    short = len(content) <= 2  # "Answerer", "retry policy": likely a name being looked up
    for ident in identifiers:
        if not short and not looks_like_code(ident):
            continue  # a prose word in a question ("how does ragls index") is not a symbol lookup
        lowered = ident.lower()
        symbols.append(lowered)
        if "." in lowered:
            symbols.extend(part for part in lowered.split(".") if len(part) > 1)
        if "_" in lowered.strip("_"):
            symbols.append(lowered.rsplit(".", 1)[-1].replace("_", ""))
    # "http response" may name HTTPResponse / http_response: symbols are also indexed joined.
    symbols.extend(a + b for a, b in zip(content, content[1:]) if a.isalnum() and b.isalnum())
    pairs = tuple((a, b) for a, b in zip(content, content[1:]) if a != b)
    return QueryParts(
        text=raw,
        words=tuple(content),
        identifiers=identifiers,
        subwords=tuple(dict.fromkeys(subwords)),
        symbols=tuple(dict.fromkeys(s for s in symbols if s not in STOPWORDS)),
        pairs=pairs,
        natural_language=len(content) >= 3 and not any(looks_like_code(i) for i in identifiers),
        spelled_out=spelled_out,
    )


# "What is a scheduler (for)?", "What are operators?", "What does a linter do?": a definition question.
_ASKS_DEFINITION = re.compile(r"^\s*what(?:'s| is| are| does)\s+(?:an?\s+|the\s+)?(.+?)(?:\s+(?:for|do|mean))?\s*\??\s*$", re.I)


def definition_subject(question: str) -> str:
    """The subject a definition question asks about ("What is a work pool for?" -> "work pool",
    "What is the backoff of the retry_policy?" -> "backoff"), or "" for any other question or a
    subject of more than three words (that is a question about something, not a definition)."""
    definition = _ASKS_DEFINITION.match(question) if isinstance(question, str) else None
    if not definition:
        return ""
    phrase = re.split(r"\s+of\s+", definition.group(1), maxsplit=1)[0]
    words = [w for w in re.findall(r"[^\W_]+", phrase) if w.lower() not in STOPWORDS]
    return " ".join(words) if 0 < len(words) <= 3 else ""
