"""The layout rule tables: one row gives the vectorised mask and the human reason, so they always agree."""

import numpy as np
import pytest

from models.catalogue import model, model_names
from planner.serving import parallel
from planner.training import parallel as training_parallel
from planner.training.workload import TrainingPlan, TrainingWorkload

VALUES = np.array([-1, 0, 1, 2, 3, 4, 6, 8, 16, 64, 128])


@pytest.mark.parametrize("name", model_names())
def test_serving_mask_is_true_exactly_where_no_reason_is_given(name):
    m = model(name)
    grid = np.random.default_rng(1).choice(VALUES, size=(400, 5))
    mask = parallel.layout_mask(m, *grid.T)
    reasons = [parallel.layout_reasons(m, *map(int, row)) for row in grid]
    assert [not r for r in reasons] == mask.tolist()


@pytest.mark.parametrize("name", model_names())
def test_training_mask_is_true_exactly_where_no_reason_is_given(name):
    m = model(name)
    w = TrainingWorkload(global_batch_sequences=96, sequence_tokens=8192)
    grid = np.random.default_rng(2).choice(VALUES, size=(400, 7))
    for domain, span in ((8, False), (72, True)):
        mask = training_parallel.layout_mask(m, w, *grid.T, domain, span)
        plans = [TrainingPlan(**dict(zip(training_parallel.DECISIONS, map(int, row)))) for row in grid]
        reasons = [training_parallel.layout_reasons(m, w, p, domain, span) for p in plans]
        assert [not r for r in reasons] == mask.tolist()


def test_serving_reasons_name_each_broken_rule_with_its_numbers():
    m = model("qwen3-235b-a22b")  # 64 heads, 4 KV heads, 94 layers, 128 routed experts
    assert parallel.layout_reasons(m, 0, 1, 1, 1, 1) == ["tp must be >= 1 (got 0)"]
    assert parallel.layout_reasons(m, 3, 128, 3, 1, 4) == [
        "tp 3 does not divide num_attention_heads 64",
        "tp 3 and num_key_value_heads 4: neither divides the other",
        "pp 128 exceeds num_hidden_layers 94",
        "ep 3 does not divide the 128 routed experts",
        # tp x dp = 3 x 1 = 3 is divisible by ep 3, so that rule holds.
        "batch 4 is below dp x pp = 128 (one sequence per group and micro-batch)",
    ]
    dense = model("llama-3.1-70b")
    assert parallel.layout_reasons(dense, 8, 1, 2, 1, 8) == ["ep 2 on a dense model: ep must be 1"]


def test_training_interleaving_is_judged_only_where_the_batch_splits():
    m = model("llama-3.1-70b")  # 80 layers, 64 heads, 8 KV heads
    w = TrainingWorkload(global_batch_sequences=96, sequence_tokens=8192)
    # 96 / (dp 4 x micro-batch 4) = 6 micro-batches, not a multiple of pp 4.
    plan = TrainingPlan(tp=8, pp=4, vpp=2, dp=4, micro_batch=4)
    assert training_parallel.layout_reasons(m, w, plan, 8, False) == [
        "interleaving (vpp 2) needs the 6 micro-batches to divide by pp 4"]
    # 96 / (dp 5 x 1) does not divide: only the batch rule speaks.
    plan = TrainingPlan(tp=8, pp=4, vpp=2, dp=5, micro_batch=1)
    assert training_parallel.layout_reasons(m, w, plan, 8, False) == [
        "global batch 96 does not divide by dp x micro_batch = 5"]
    # tp 16 over an 8-GPU domain is a reason only without --allow-span.
    plan = TrainingPlan(tp=16, pp=1, dp=6)
    assert training_parallel.layout_reasons(m, w, plan, 8, True) == []
    assert training_parallel.layout_reasons(m, w, plan, 8, False) == [
        "tp 16 exceeds the scale-up domain of 8 GPUs (use --allow-span to run tensor parallelism over the slower tier)"]
