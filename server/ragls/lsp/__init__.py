"""The language server: the only part of ragls that knows LSP (pygls, lsprotocol).

Code map: ``server`` (the entry point: ``serve()``, logging), ``handlers`` (method wiring),
``hover``/``ask``/``status`` (features), ``language_server`` (``RaglsServer``: state and lifecycle),
``documents`` (open buffers and overlays), ``error_handling`` (how a handler fails),
``workspaces`` + ``index_worker`` (folders, the single index writer thread), ``convert`` (the one
place core ↔ LSP types and positions), ``protocol`` (custom messages), ``rpc`` (JSON-RPC details
pygls leaves open), ``progress`` (server-initiated progress bars). Nothing imports back up this list.
"""
