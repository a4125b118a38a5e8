"""Errors the user can act on: the CLI prints them as one line (no traceback), the server shows
them in the folder's status. Kept import-free so the CLI can catch them without loading Tantivy."""

from __future__ import annotations


class UserError(Exception):
    """Something about the user's input or files prevents the operation; nothing was lost."""


class IndexDirError(UserError):
    """The index directory cannot be used as it is; nothing in it was changed."""
