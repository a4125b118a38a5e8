"""ragls for coding agents: the Model Context Protocol server (``ragls mcp``).

``tools`` holds the tools as plain functions over the index and the answerer (no MCP in them);
``mcp_server`` wires them into the official ``mcp`` SDK's FastMCP over stdio and keeps the
workspaces live (one index per folder, shared with a language server on the same folder).
Named ``agents``, not ``mcp``: a package called ``mcp`` would shadow the SDK.
"""
