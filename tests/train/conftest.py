"""A small workspace with every kind of question in it, indexed for real (Tantivy on disk)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

FILES = {
    "docs/client.md": """\
        # Client guide

        The client talks to the storage service over HTTP.

        ## Installing the client

        Download the archive from the releases page and unpack it into your path.
        The installer checks the checksum before it copies anything.

        ## Retries

        The client retries failed requests with an exponential backoff.
        The default request timeout is 30 seconds.
        A retry budget is a cap on how many retries the client sends per minute.

        ## Command line

        Pass `--verbose` to print every request and its response headers on stderr.
        The `--dry-run` flag shows what would be uploaded without sending anything.

        ## See also

        The storage service guide explains buckets and quotas in more detail.
        """,
    "docs/storage.md": """\
        # Storage service

        A bucket is a named container for objects that share one access policy.
        The maximum object size is 5 GB for a single upload.

        ## Quotas

        Every project gets a quota of stored bytes and of requests per day.
        When a quota is exceeded the service answers with status 429 until the next day.

        ## Garbage collection

        Deleted objects stay recoverable for a grace period of 7 days before they are purged.
        The collector runs once an hour and removes purged objects from every replica.
        """,
    "docs/faq.md": """\
        # Frequently asked questions

        ## Why is my upload slow?

        Large uploads are split into parts that travel one after the other on slow links.
        Raising the part size helps when the network is fast but far away.

        ## Configuring proxies

        Set the proxy address in the configuration file under the network section.
        The client reads the standard proxy environment variables as well.
        """,
    "tool/sync.py": '''\
        """Keeps a local folder and a bucket in step."""

        import argparse


        def plan_upload(local, remote):
            """Compare the local files with the bucket listing and return the files to upload."""
            return sorted(set(local) - set(remote))


        class Uploader:
            """Uploads files in parts and resumes an interrupted upload."""

            def send(self, path):
                """Send one file, part by part, retrying each part on failure."""
                return path


        def build_parser():
            parser = argparse.ArgumentParser(prog="sync")
            parser.add_argument("--part-size", type=int, help="size of each upload part in megabytes")
            return parser
        ''',
}


def write_workspace(root: Path) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return write_workspace(tmp_path / "ws")


@pytest.fixture
def indexed(workspace: Path, tmp_path: Path):
    """(root, index, retrieve) with the real index and ragls's own retrieval."""
    from ragls.answering import Answerer
    from ragls.index.workspace_index import WorkspaceIndex
    from ragls.settings import Settings

    index = WorkspaceIndex(workspace, index_path=tmp_path / "idx")
    index.sync()
    answerer = Answerer(lambda: [index], Settings())
    yield workspace, index, lambda question, k: answerer.retrieve(question, passages=k)
    index.close()
