"""ragls: ask your workspace — a local language server with cited answers."""

__version__ = "0.1.0"
