"""Loads the prompt texts (``ragls/prompts``) and grammar templates (``grammars/``) of each mode."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ragls.core.grammar import ANSWER_BOUNDS, HOVER_BOUNDS, GrammarBounds
from ragls.core.prompting import PromptTexts

MODES = ("answer", "hover")

# The grammar templates live at the top of the repository (next to server/); a wheel installs a
# copy under <prefix>/share/ragls/grammars.
_GRAMMAR_DIRS = (
    Path(__file__).resolve().parents[3] / "grammars",  # source tree / editable install
    Path(sys.prefix) / "share" / "ragls" / "grammars",  # a wheel install (pyproject data-files)
)


@dataclass(frozen=True, slots=True)
class ModeResources:
    texts: PromptTexts
    grammar_template: str
    bounds: GrammarBounds


def _prompt(name: str) -> str:
    return resources.files("ragls.prompts").joinpath(name).read_text(encoding="utf-8")


def _grammar(name: str) -> str:
    for directory in _GRAMMAR_DIRS:
        file = directory / name
        if file.is_file():
            return file.read_text(encoding="utf-8")
    raise FileNotFoundError(f"grammar {name} not found in {', '.join(str(d) for d in _GRAMMAR_DIRS)}")


def load_mode(mode: str) -> ModeResources:
    if mode not in MODES:
        raise ValueError(f"unknown answer mode {mode!r} (expected one of {', '.join(MODES)})")
    not_covered = _prompt("not_covered.txt").strip()
    texts = PromptTexts(system=_prompt(f"{mode}_system.md"), question=_prompt("question.md"), not_covered=not_covered)
    bounds = ANSWER_BOUNDS if mode == "answer" else HOVER_BOUNDS
    return ModeResources(texts=texts, grammar_template=_grammar(f"{mode}.gbnf"), bounds=bounds)
