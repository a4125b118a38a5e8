"""``textDocument/hover``: what the workspace says about the identifier under the cursor.

Hover runs whenever the mouse rests on a word, so it must answer fast and mostly answer nothing:
keywords, common words and short names are refused from the text alone
(:mod:`ragls.core.hover`) before the index is touched.
"""

from __future__ import annotations

from lsprotocol import types

from ragls.core.hover import hover_symbol, identifier_at
from ragls.core.lines import line_at
from ragls.lsp import convert
from ragls.lsp.language_server import RaglsServer


async def hover(server: RaglsServer, params: types.HoverParams) -> types.Hover | None:
    await server.until_ready()
    if not server.settings.hover.enabled or server.answerer is None:
        return None
    text = await server.document_text_async(params.text_document.uri)
    if text is None:
        return None
    line_number = convert.to_core_line(params.position.line)
    line = line_at(text, line_number)
    if line is None:
        return None
    found = identifier_at(line, convert.column_to_codepoints(line, params.position.character, server.encoding))
    if found is None:
        return None
    symbol = hover_symbol(found.name)
    if symbol is None:
        return None
    where = server.document_folder(params.text_document.uri)
    # the hovered line itself is not cited: the user is reading it
    reading = (where[0].key, where[1], line_number) if where else None  # key: the resolved root
    answer = await server.in_pool(server.answerer.explain_symbol, symbol, reading=reading)
    if answer is None or answer.abstained or not answer.citations:
        return None  # a hover without a source would be noise
    index_complete = server.workspaces.index_complete if server.workspaces else False
    return convert.hover(
        answer,
        convert.word_range(line_number, line, found.start, found.end, server.encoding),
        index_complete=index_complete,
    )
