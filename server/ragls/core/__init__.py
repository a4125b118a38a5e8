"""Pure core of ragls: plain dataclasses and functions, no Tantivy, no pygls, no llama.cpp.

Everything here is deterministic and testable with data tables.
"""
