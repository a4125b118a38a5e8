"""Which files ragls indexes, and as what: a kind (prose flavour or code) and a language."""

from __future__ import annotations

__all__ = ["language_for"]

_PROSE_EXTENSIONS = {
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".mkd": "markdown",
    ".rst": "rst", ".rest": "rst",
    ".adoc": "asciidoc", ".asciidoc": "asciidoc", ".asc": "asciidoc",
    ".txt": "text", ".text": "text",
}
_CODE_EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
    ".vue": "vue", ".svelte": "svelte",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala", ".sc": "scala", ".groovy": "groovy", ".gradle": "groovy",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hh": "cpp",
    ".hpp": "cpp", ".hxx": "cpp", ".ipp": "cpp", ".m": "objc", ".mm": "objc",
    ".cs": "csharp", ".fs": "fsharp", ".fsx": "fsharp", ".swift": "swift", ".dart": "dart",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby", ".php": "php", ".pl": "perl",
    ".pm": "perl", ".lua": "lua", ".r": "r", ".jl": "julia", ".ex": "elixir", ".exs": "elixir",
    ".erl": "erlang", ".hrl": "erlang", ".hs": "haskell", ".ml": "ocaml", ".mli": "ocaml",
    ".clj": "clojure", ".cljs": "clojure", ".zig": "zig", ".nim": "nim", ".v": "verilog",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".fish": "shell", ".ps1": "powershell",
    ".bat": "batch", ".cmd": "batch",
    ".sql": "sql", ".proto": "protobuf", ".graphql": "graphql", ".gql": "graphql",
    ".tf": "hcl", ".hcl": "hcl", ".nix": "nix",
    ".html": "html", ".htm": "html", ".css": "css", ".scss": "css", ".sass": "css",
    ".less": "css", ".xml": "xml", ".svg": None,  # svg: markup blobs, not worth indexing
    ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonc": "json",
    ".json5": "json", ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".properties": "ini",
    ".cmake": "cmake", ".mk": "make", ".dockerfile": "dockerfile",
}
# Files recognised by their whole name (lower-cased), with or without an extension.
_NAMED_FILES = {
    "makefile": ("code", "make"), "gnumakefile": ("code", "make"),
    "dockerfile": ("code", "dockerfile"), "containerfile": ("code", "dockerfile"),
    "cmakelists.txt": ("code", "cmake"), "justfile": ("code", "make"),
    "rakefile": ("code", "ruby"), "gemfile": ("code", "ruby"), "vagrantfile": ("code", "ruby"),
    "procfile": ("code", "yaml"), "jenkinsfile": ("code", "groovy"),
    ".gitignore": None, ".dockerignore": None,
}
# Prose files conventionally without an extension: README, LICENSE, CHANGELOG, ...
_PROSE_STEMS = {
    "readme", "license", "licence", "copying", "changelog", "changes", "history", "news",
    "authors", "contributors", "contributing", "notice", "todo", "install", "security",
    "code_of_conduct", "maintainers", "codeowners", "patents", "thanks", "credits",
}


def language_for(path: str) -> tuple[str, str] | None:
    """``(kind, language)`` for a supported file, else None. ``language`` is "" for prose."""
    name = path.rsplit("/", 1)[-1]
    lower = name.lower()
    if lower in _NAMED_FILES:
        return _NAMED_FILES[lower]
    dot = lower.rfind(".")
    ext = lower[dot:] if dot > 0 else ""
    if ext in _PROSE_EXTENSIONS:
        return (_PROSE_EXTENSIONS[ext], "")
    if ext in _CODE_EXTENSIONS:
        language = _CODE_EXTENSIONS[ext]
        return ("code", language) if language else None
    stem = lower[:dot] if dot > 0 else lower
    if stem in _PROSE_STEMS and (not ext or ext in (".old", ".en")):
        return ("text", "")
    if lower.startswith("dockerfile."):
        return ("code", "dockerfile")
    return None
