"""Plain data types shared by every layer of ragls.

Lines are 1-based and inclusive everywhere in the core (as users read them in
``path:12-20``). Conversion to LSP's 0-based, UTF-16 positions happens only in
``ragls.lsp.convert``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable unit: a section of a document or a definition in code."""

    path: str  # workspace-relative, POSIX separators
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    text: str  # exactly the lines start_line..end_line of the file
    kind: str  # "markdown" | "rst" | "asciidoc" | "text" | "code"
    language: str = ""  # "python", "javascript", ... ("" for prose)
    heading: tuple[str, ...] = ()  # heading path, outermost first
    symbols: tuple[str, ...] = ()  # names defined in this chunk (qualified: Class.method)
    doc: str = ""  # docstring / leading comments of the definition

    @property
    def heading_path(self) -> str:
        return " > ".join(self.heading)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved passage with its fused score and the score of each signal."""

    chunk: Chunk
    score: float
    components: dict[str, float] = field(default_factory=dict)
    snippet: str = ""  # a few lines around the best match, matches marked with **...**
    matched_lines: tuple[int, ...] = ()  # 1-based file lines that contain query terms
    root: str = ""  # absolute path of the workspace root the chunk belongs to


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    covered: bool  # False: the workspace does not cover the query (abstain)
    confidence: float = 0.0  # 0..1, from the retrieval scores
    elapsed_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Citation:
    id: int  # the [n] marker used in the answer text
    path: str
    start_line: int
    end_line: int
    title: str = ""  # heading path or symbol
    snippet: str = ""
    root: str = ""

    @property
    def location(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"


@dataclass(frozen=True, slots=True)
class Answer:
    text: str  # prose with [n] markers
    citations: tuple[Citation, ...]
    abstained: bool
    source: str = "extractive"  # "extractive" | "model:<name>" | "remote:<name>"
    warnings: tuple[str, ...] = ()
    removed_sentences: int = 0  # model sentences the grounded guard removed (core/grounding.py)
