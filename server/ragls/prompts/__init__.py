"""Prompt texts as data files (read with :mod:`importlib.resources`), not strings buried in code.

- ``answer_system.md``: system prompt for ``ragls/ask`` answers (``$not_covered`` is substituted).
- ``hover_system.md``: system prompt for hover explanations.
- ``question.md``: the user turn (``$passages``, ``$question``).
- ``not_covered.txt``: the one sentence the model gives when the passages do not answer.
"""
