"""Ranking metrics against hand-computed values."""

import math

import pytest

from ragls.evaluation.metrics import mean_scores, mrr_at_k, ndcg_at_k, percentile, recall_at_k, score_query


def test_ndcg_single_relevant_at_rank_two():
    # DCG = 1/log2(3); ideal DCG = 1/log2(2) = 1
    assert ndcg_at_k(["x", "a", "y"], {"a": 1}, 10) == pytest.approx(1 / math.log2(3))


def test_ndcg_two_relevant_at_ranks_one_and_three():
    # DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) = 1.63093
    assert ndcg_at_k(["a", "x", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_ndcg_graded_gain_is_linear_and_ideal_uses_all_judged():
    # qrels a=2, b=1, c=1 (c never retrieved). Ranking b, a.
    # DCG = 1/1 + 2/log2(3) = 2.26186; ideal = 2 + 1/log2(3) + 1/log2(4) = 3.13093
    value = ndcg_at_k(["b", "a"], {"a": 2, "b": 1, "c": 1}, 10)
    assert value == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3) + 0.5))


def test_ndcg_cutoff_and_duplicates_and_nonrelevant_judgements():
    assert ndcg_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0
    # a repeated item counts once: ["x", "x", "a"] ranks a second, not third
    assert ndcg_at_k(["x", "x", "a"], {"a": 1}, 10) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0
    assert ndcg_at_k(["a"], {}, 10) == 0.0
    assert ndcg_at_k(["a", "b"], {"a": 1}, 10) == 1.0


def test_mrr():
    assert mrr_at_k(["x", "y", "a", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0
    assert mrr_at_k(["a"], {"a": 1}, 10) == 1.0


def test_recall():
    assert recall_at_k(["a", "x", "c"], {"a": 1, "b": 1, "c": 1, "d": 0}, 3) == pytest.approx(2 / 3)
    assert recall_at_k(["a", "x", "c"], {"a": 1, "b": 1, "c": 1}, 1) == pytest.approx(1 / 3)
    assert recall_at_k([], {"a": 1}, 10) == 0.0


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([10, 20, 30, 40, 50], 95) == pytest.approx(48.0)
    assert percentile([], 95) == 0.0


def test_mean_scores_averages_each_metric():
    rows = [score_query(["a"], {"a": 1}), score_query(["x"], {"a": 1})]
    means = mean_scores(rows)
    assert means["nDCG@10"] == pytest.approx(0.5)
    assert means["MRR@10"] == pytest.approx(0.5)
    assert set(means) == {"nDCG@10", "MRR@10", "Recall@5", "Recall@10", "Recall@100"}
