"""The language server: the only part of ragls that knows LSP (pygls, lsprotocol).

Code map: ``server`` (state, lifecycle, settings, documents, running), ``handlers`` (method wiring),
``hover``/``ask``/``status`` (features), ``workspaces`` + ``index_worker`` (folders, the single index
writer thread), ``convert`` (the one place core ↔ LSP types), ``protocol`` (custom messages),
``rpc`` (JSON-RPC details pygls leaves open), ``progress`` (server-initiated progress bars).
"""
