"""A tiny BEIR data set through the real index, retriever and ``ragls eval`` command."""

import json

import pytest

from ragls.cli import main
from ragls.evaluation.beir import BeirIndex, DatasetError, load_beir
from ragls.evaluation.runs import run_questions

CORPUS = [
    {"_id": "d1", "title": "Retry policy", "text": "The client retries failed requests with exponential backoff."},
    {"_id": "d2", "title": "Token refresh", "text": "Access tokens expire after one hour and are refreshed silently."},
    {"_id": "d3", "title": "Cache eviction", "text": "Entries are evicted from the cache when memory runs low."},
    {"_id": "d4", "title": "Logging", "text": "Logs are written to standard error, never to standard output."},
]
QUERIES = [
    {"_id": "q1", "text": "how does backoff work for failed requests"},
    {"_id": "q2", "text": "when do access tokens expire"},
    {"_id": "q3", "text": "where are logs written"},
    {"_id": "q4", "text": "unjudged query about cache"},
]
QRELS = [("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d4", 1), ("q3", "d3", 0)]


def write_beir(root, corpus=CORPUS, queries=QUERIES, qrels=QRELS):
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)
    )
    return root


def test_load_beir_reads_all_three_files(tmp_path):
    data = load_beir(write_beir(tmp_path / "set"))
    assert data.corpus["d1"] == ("Retry policy", CORPUS[0]["text"])
    assert data.qrels["q3"] == {"d4": 1.0, "d3": 0.0}
    assert [q.id for q in data.questions()] == ["q1", "q2", "q3"]  # unjudged q4 is not scored


def test_real_index_ranks_the_relevant_document_first(tmp_path):
    data = load_beir(write_beir(tmp_path / "set"))
    index = BeirIndex(data)
    try:
        ranked = index.rank("exponential backoff for failed requests")
        assert ranked.ids[0] == "d1"
        summary = run_questions("tiny", data.questions(), index.rank, warmup=0)
    finally:
        index.close()
    assert summary.queries == 3
    assert summary.metrics["nDCG@10"] == pytest.approx(1.0)
    assert summary.metrics["MRR@10"] == pytest.approx(1.0)
    assert summary.latency_p95_ms > 0


def test_a_wrong_judgement_lowers_the_score(tmp_path):
    # q1 judged against d3 (cache) instead of d1: the metric must notice.
    data = load_beir(write_beir(tmp_path / "set", qrels=[("q1", "d3", 1), ("q2", "d2", 1)]))
    index = BeirIndex(data)
    try:
        summary = run_questions("tiny", data.questions(), index.rank, warmup=0)
    finally:
        index.close()
    assert summary.metrics["nDCG@10"] < 0.75


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda root: (root / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\nnot json\n'), "corpus.jsonl:2"),
        (lambda root: (root / "qrels" / "test.tsv").unlink(), "missing file"),
        (lambda root: (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\tyes\n"), "not a number"),
    ],
)
def test_malformed_data_sets_get_a_clear_error(tmp_path, breakage, message):
    root = write_beir(tmp_path / "set")
    breakage(root)
    with pytest.raises(DatasetError, match=message):
        load_beir(root)


def test_ragls_eval_beir_prints_json(tmp_path, capsys):
    root = write_beir(tmp_path / "set")
    ood = tmp_path / "ood.jsonl"
    ood.write_text(json.dumps({"_id": "o1", "text": "photosynthesis in marine algae"}) + "\n")
    assert main(["eval", "--beir", str(root), "--ood-queries", str(ood), "--json", "--per-query"]) == 0
    payload = json.loads(capsys.readouterr().out)
    run = payload["runs"][0]
    assert run["queries"] == 3 and run["metrics"]["nDCG@10"] == pytest.approx(1.0)
    assert [q["id"] for q in run["perQuery"]] == ["q1", "q2", "q3"]
    assert payload["abstention"]["declinedRate"] == 1.0


def test_ragls_eval_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["eval", "--beir", str(tmp_path / "missing")]) == 2
    assert "missing file" in capsys.readouterr().err
