"""Workspace question sets: the split, gold parsing, and a small workspace through WorkspaceIndex."""

import json

import pytest

from ragls.cli import main
from ragls.evaluation.beir import DatasetError
from ragls.evaluation.workspace_eval import in_split, load_questions


def write_questions(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_split_is_even_and_odd_ids():
    assert in_split("q0", "tune") and in_split("q12", "tune")
    assert in_split("q1", "test") and not in_split("q1", "tune")
    assert all(in_split(i, "all") for i in ("q0", "q1", "x"))


def test_gold_entries_may_carry_line_ranges(tmp_path):
    path = write_questions(tmp_path / "q.jsonl", [
        {"id": "q0", "question": "a?", "gold": ["docs/a.md:3-9", "./docs/b.md", {"path": "docs/c.md", "start": 1, "end": 2}]},
        {"id": "q1", "question": "b?", "gold": ["docs/b.md"]},
    ])
    tune = load_questions(path, "tune")
    assert [q.id for q in tune] == ["q0"]
    assert set(tune[0].qrels) == {"docs/a.md", "docs/b.md", "docs/c.md"}
    assert [q.id for q in load_questions(path, "test")] == ["q1"]


def test_question_without_gold_is_an_error(tmp_path):
    path = write_questions(tmp_path / "q.jsonl", [{"id": "q0", "question": "a?", "gold": []}])
    with pytest.raises(DatasetError, match="q.jsonl:1"):
        load_questions(path)


def test_ragls_eval_workspace_ranks_files(tmp_path, capsys):
    ws = tmp_path / "ws"
    (ws / "docs").mkdir(parents=True)
    (ws / "docs" / "retry.md").write_text("# Retry policy\n\nFailed requests are retried with exponential backoff.\n")
    (ws / "docs" / "tokens.md").write_text("# Tokens\n\nAccess tokens expire after one hour.\n")
    (ws / "docs" / "logging.md").write_text("# Logging\n\nLogs go to standard error.\n")
    questions = write_questions(tmp_path / "q.jsonl", [
        {"id": "q0", "question": "How are failed requests retried?", "gold": ["docs/retry.md"]},
        {"id": "q1", "question": "When do access tokens expire?", "gold": ["docs/tokens.md"]},
    ])
    ood = write_questions(tmp_path / "ood.jsonl", [{"_id": "o1", "text": "Vitamin D deficiency and bone density in adults"}])
    code = main(["eval", "--workspace", str(ws), "--questions", str(questions), "--ood-queries", str(ood),
                 "--index-dir", str(tmp_path / "index"), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in payload["runs"]]
    assert names == ["ws all", "ws tune", "ws test"]
    assert payload["runs"][0]["metrics"]["MRR@10"] == pytest.approx(1.0)
    assert payload["runs"][0]["answeredRate"] == 1.0
    assert payload["abstention"]["declinedRate"] == 1.0
