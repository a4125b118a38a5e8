"""LSP method → handler wiring. Handlers stay thin: they delegate to the feature modules."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from ragls.lsp import protocol
from ragls.lsp.ask import ask
from ragls.lsp.error_handling import answers_errors
from ragls.lsp.hover import hover
from ragls.lsp.language_server import RaglsServer
from ragls.lsp.status import status


def create_server(cli_settings: dict | None = None, *, force_polling: bool = False) -> RaglsServer:
    server = RaglsServer(cli_settings, force_polling=force_polling)

    # --- lifecycle ---
    @server.feature(types.INITIALIZE)
    def on_initialize(ls: RaglsServer, params: types.InitializeParams) -> None:
        ls.on_initialize(params)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: RaglsServer, params: types.InitializedParams) -> None:
        await ls.on_initialized()

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: RaglsServer, params: Any) -> None:
        ls.on_shutdown()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: RaglsServer, params: types.DidChangeConfigurationParams) -> None:
        await ls.on_configuration_changed(params)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def on_folders(ls: RaglsServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        ls.on_folders_changed(params)

    # --- documents (pygls keeps the text; we mirror unsaved text into the index) ---
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RaglsServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.documents.opened(params.text_document.uri, params.text_document.text)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: RaglsServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.documents.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RaglsServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.closed(params.text_document.uri)

    # --- features ---
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @answers_errors
    async def on_hover(ls: RaglsServer, params: types.HoverParams) -> types.Hover | None:
        return await hover(ls, params)

    @server.feature(protocol.ASK)
    @answers_errors
    async def on_ask(ls: RaglsServer, params: Any) -> dict:
        return await ask(ls, params)

    @server.feature(protocol.STATUS)
    @answers_errors
    async def on_status(ls: RaglsServer, params: Any = None) -> dict:
        await ls.until_ready()
        return status(ls)

    # --- commands (for clients that cannot send custom requests) ---
    @server.command(protocol.COMMAND_ASK)
    @answers_errors
    async def cmd_ask(ls: RaglsServer, *args: Any) -> dict:
        return await ask(ls, list(args), from_command=True)

    @server.command(protocol.COMMAND_STATUS)
    @answers_errors
    async def cmd_status(ls: RaglsServer, *args: Any) -> dict:
        await ls.until_ready()
        return status(ls)

    @server.command(protocol.COMMAND_REINDEX)
    @answers_errors
    async def cmd_reindex(ls: RaglsServer, *args: Any) -> dict:
        await ls.until_ready()
        if ls.workspaces is None:
            return {"started": False}
        ls.workspaces.reindex()
        return {"started": True}

    return server
