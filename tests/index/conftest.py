from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

RETRY_DOC = textwrap.dedent(
    """\
    ---
    title: Client guide
    ---
    # Retries

    The client retries failed requests automatically.
    Retries are configured with the `retry_policy` setting in `client.toml`.

    ## Backoff

    The backoff doubles after each attempt, up to thirty seconds.
    Set `backoff_max` to change the cap.
    """
)

CLIENT_PY = textwrap.dedent(
    '''\
    """The HTTP client."""


    class HTTPResponse:
        """A parsed response with status, headers and body."""

        def json(self):
            return self.body


    def send_request(session, request):
        """Send a request, retrying according to session.retry_policy."""
        return session.retry_policy.run(request)
    '''
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "src").mkdir()
    (root / "docs" / "retry.md").write_text(RETRY_DOC)
    (root / "src" / "client.py").write_text(CLIENT_PY)
    (root / "README.md").write_text("# Demo\n\nA demo project for the ragls tests about gardening tools.\n")
    return root


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"
