"""``ragls eval --answers`` end to end: a real workspace, a real Tantivy index, the server's Answerer."""

from __future__ import annotations

import json

import pytest

from ragls.cli import main
from ragls.evaluation.answers import ROWS, load_answer_questions
from ragls.evaluation.beir import DatasetError

README = """# Uploads

## Retries

Uploads are retried up to 5 times with exponential backoff.
The first retry waits 2 seconds.

## Storage

Files are stored in the `blobs/` folder of the data directory.
"""


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "ws"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text(README)
    (root / "docs" / "other.md").write_text("# Colours\n\nThe theme uses dark blue headings and a grey sidebar.\n")
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a1", "question": "How many times are uploads retried?", "gold": ["README.md"], "facts": ["5 times"]},
        {"id": "a2", "question": "Where are uploaded files kept?", "gold": ["README.md"], "facts": ["blobs/", "data directory"], "split": "tune"},
        {"id": "u1", "question": "What is a good recipe for sourdough bread?", "unanswerable": True},
    ]) + "\n")
    return root, questions


def test_table_has_a_column_per_configuration_and_every_row(workspace, capsys):
    root, questions = workspace
    assert main(["eval", "--answers", "--workspace", str(root), "--questions", str(questions)]) == 0
    out = capsys.readouterr().out
    assert "extractive" in out.splitlines()[1]
    for _key, label, _kind in ROWS:
        assert label in out
    assert "2 answerable, 1 unanswerable" in out


def test_json_reports_facts_citations_and_abstention(workspace, capsys):
    root, questions = workspace
    assert main(["eval", "--answers", "--workspace", str(root), "--questions", str(questions), "--json", "--per-query"]) == 0
    (config,) = json.loads(capsys.readouterr().out)["configurations"]
    rows = config["rows"]
    assert config["name"] == "extractive" and config["questions"] == 3
    assert rows["declined"] == 1.0  # the bread question
    assert rows["citation_validity"] == 1.0 and rows["citation_support"] == 1.0
    per = {q["id"]: q for q in config["perQuery"]}
    assert per["a1"]["answered"] and per["a1"]["missingFacts"] == [] and per["a1"]["goldCited"]
    assert "5 times" in per["a1"]["answer"]
    assert not per["u1"]["answered"]
    assert rows["fact_recall"] == pytest.approx((1 + 2 - len(per["a2"]["missingFacts"])) / 3, abs=1e-4)
    assert per["a1"]["firstTokenMs"] is not None and per["a1"]["firstTokenMs"] <= per["a1"]["ms"]


def test_split_and_limit_choose_the_questions(workspace, capsys):
    root, questions = workspace
    # a1, u1: odd ids test; a2 says "tune" itself
    assert [q.id for q in load_answer_questions(questions, "test")] == ["a1", "u1"]
    assert [q.id for q in load_answer_questions(questions, "tune")] == ["a2"]
    assert main(["eval", "--answers", "--workspace", str(root), "--questions", str(questions), "--limit", "1", "--json"]) == 0
    (config,) = json.loads(capsys.readouterr().out)["configurations"]
    assert config["questions"] == 1


@pytest.mark.parametrize("row, message", [
    ({"id": "a1", "question": "q?", "gold": ["README.md"]}, "needs 'facts'"),
    ({"id": "a1", "question": "q?", "facts": ["x"]}, "non-empty 'gold'"),
    ({"id": "a1", "question": "", "unanswerable": True}, "non-empty 'question'"),
    ({"id": "a1", "question": "q?", "unanswerable": True, "split": "dev"}, "'split' must be"),
])
def test_bad_question_lines_are_clear_errors(tmp_path, row, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DatasetError, match=message):
        load_answer_questions(path)


def test_cli_reports_bad_questions_on_stderr_with_status_2(workspace, tmp_path, capsys):
    root, _ = workspace
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a1", "question": "q?", "gold": ["README.md"]}\n')
    assert main(["eval", "--answers", "--workspace", str(root), "--questions", str(path)]) == 2
    assert "needs 'facts'" in capsys.readouterr().err


def test_adapter_without_model_is_refused(workspace, capsys):
    root, questions = workspace
    assert main(["eval", "--answers", "--workspace", str(root), "--questions", str(questions), "--adapter", "a.gguf:0.5"]) == 2
    assert "--adapter needs --model" in capsys.readouterr().err
