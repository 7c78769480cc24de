"""The one collective-cost function: bytes per GPU and latency rounds per kind and algorithm."""

import numpy as np
import pytest

from planner.engine.collectives import (
    ALL_GATHER,
    ALL_REDUCE,
    ALL_TO_ALL,
    P2P,
    REDUCE_SCATTER,
    RING,
    TREE,
    CollectiveCost,
    collective_cost,
    tier_of_span,
)

MB = 1e6


@pytest.mark.parametrize("kind,factor,ring_rounds", [
    (ALL_REDUCE, 2 * 7 / 8, 14),      # reduce-scatter + all-gather: 2 (n - 1) / n, 2 (n - 1) steps
    (ALL_GATHER, 7 / 8, 7),           # (n - 1) / n, n - 1 steps
    (REDUCE_SCATTER, 7 / 8, 7),
    (ALL_TO_ALL, 7 / 8, 1),           # all peers' sends posted at once: one round
    (P2P, 1.0, 1),
])
def test_eight_gpus_one_megabyte(kind, factor, ring_rounds):
    ring = collective_cost(kind, 8.0, MB, RING)
    assert ring.sent_bytes == pytest.approx(factor * MB, rel=1e-15)
    assert ring.rounds == ring_rounds
    tree = collective_cost(kind, 8.0, MB, TREE)
    assert tree.sent_bytes == ring.sent_bytes                  # same bytes, fewer rounds
    assert tree.rounds == (1 if kind == P2P else 3)            # log2 8


def test_calls_scale_bytes_and_rounds_and_zero_calls_cost_nothing():
    cost = collective_cost(ALL_REDUCE, np.array([4.0, 4.0]), MB, TREE, calls=np.array([10.0, 0.0]))
    np.testing.assert_array_equal(cost.sent_bytes, [10 * 1.5 * MB, 0.0])   # 2 x 3 / 4 = 1.5 per call
    np.testing.assert_array_equal(cost.rounds, [20.0, 0.0])                # log2 4 = 2 per call


@pytest.mark.parametrize("kind", [ALL_REDUCE, ALL_GATHER, REDUCE_SCATTER, ALL_TO_ALL])
@pytest.mark.parametrize("algorithm", [RING, TREE])
def test_a_group_of_one_sends_nothing_and_waits_for_nobody(kind, algorithm):
    cost = collective_cost(kind, 1.0, MB, algorithm)
    assert cost.sent_bytes == 0.0
    assert cost.rounds == 0.0


def test_all_to_all_remote_share_follows_its_destinations():
    # MoE dispatch over a stage of 8 GPUs whose experts live on ep = 2 shards: half the tokens stay.
    cost = collective_cost(ALL_TO_ALL, 8.0, MB, TREE, destinations=2.0)
    assert cost.sent_bytes == 0.5 * MB and cost.rounds == 3.0


def test_time_is_alpha_beta():
    # 1.75 MB at 100 GB/s = 17.5 us, plus 14 rounds of 2 us = 45.5 us.
    cost = collective_cost(ALL_REDUCE, 8.0, MB, RING)
    assert cost.time_s(100e9, 2e-6) == pytest.approx(45.5e-6, rel=1e-12)
    assert CollectiveCost(0.0, 0.0).time_s(1.0, 1.0) == 0.0


def test_tiers_of_spans():
    # 8 GPUs per server, 72 per rack: 8 inside a server, 9..72 across servers, beyond 72 across racks.
    np.testing.assert_array_equal(tier_of_span(np.array([1, 8, 9, 72, 73]), 8, 72), [0, 0, 1, 1, 2])


def test_unknown_kind_or_algorithm_raises():
    with pytest.raises(ValueError, match="unknown collective"):
        collective_cost("broadcast", 8.0, MB, RING)
    with pytest.raises(ValueError, match="unknown algorithm"):
        collective_cost(ALL_REDUCE, 8.0, MB, "butterfly")
