"""``python -m ragls``: the language server with ``--stdio``/``serve``, the CLI otherwise."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from ragls.cli import main as cli_main

    # ragls.cli already routes `--stdio` and `serve` to the server (ragls.lsp.server.serve)
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
