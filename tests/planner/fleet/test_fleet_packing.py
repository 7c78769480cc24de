"""Packing of several instance types into a kind's scale-up domains, and dominance pruning.

The fleet MILP packs with one inequality per instance size (``planner.milp.fleet_problem``); the
verifier and the oracle place instances with first-fit decreasing. For power-of-two sizes the
two must agree on every multiset, and for one size both must equal ``budget.max_instances``.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.budget import max_instances
from planner.fleet.dominance import pareto_rows
from planner.milp.fleet_problem import KindData, first_fit_decreasing, packing_slack


def _kind(gpus: int, domain: int) -> KindData:
    return KindData(label="k", gpus=gpus, domain_gpus=domain, power_w_per_gpu=1.0, price_per_gpu_hour=None,
                    fabric_bytes_per_s=np.zeros(3))


def test_nvl72_domains_by_hand():
    two_racks = _kind(144, 72)
    # slots(s) = 2 domains x floor(72 / s): 16 GPUs -> 2 x 4 = 8 slots; 64 GPUs -> 2 x 1 = 2.
    assert (two_racks.slots(16), two_racks.slots(64), two_racks.slots(8)) == (8, 2, 18)
    # 64 + 8 fills one 72-GPU domain exactly; twice over fills two racks: 0 GPUs left.
    assert first_fit_decreasing(two_racks, [64, 64, 8, 8]) == 0
    assert packing_slack(two_racks, np.array([64, 8]), np.array([2, 2])).tolist() == [
        8 * 18 - (2 * 64 + 2 * 8),  # s = 8: 144 - 144 = 0
        64 * 2 - 2 * 64,            # s = 64: 128 - 128 = 0
    ]
    one_rack = _kind(72, 72)
    # One rack: 64 + 16 = 80 > 72 does not fit; 4 x 16 = 64 leaves exactly 8 for an 8-GPU instance.
    assert first_fit_decreasing(one_rack, [64, 16]) is None
    assert first_fit_decreasing(one_rack, [16, 16, 16, 16, 8]) == 0
    # The threshold test sees it: instances of >= 16 GPUs take 80 > 16 x slots(16) = 16 x 4 = 64.
    assert packing_slack(one_rack, np.array([64, 16]), np.array([1, 1])).tolist() == [16 * 4 - 80, 64 * 1 - 64]


def test_partial_domain_counts_its_own_slots():
    # 20 GPUs of 8-GPU servers: two full servers and one of 4. Four 4-GPU instances use both full
    # servers; a fifth fits the partial one: slots(4) = 2 x 2 + 4 // 4 = 5. An 8-GPU one does not fit there.
    kind = _kind(20, 8)
    assert kind.slots(4) == 5 and kind.slots(8) == 2
    assert first_fit_decreasing(kind, [4] * 5) == 0
    assert first_fit_decreasing(kind, [8, 8, 8]) is None


sizes = st.sampled_from([1, 2, 4, 8, 16, 32, 64])


@settings(max_examples=300, deadline=None)
@given(gpus=st.integers(0, 300), domain=st.sampled_from([4, 8, 72]),
       items=st.lists(st.tuples(sizes, st.integers(0, 6)), max_size=5))
def test_threshold_inequalities_equal_first_fit_decreasing(gpus, domain, items):
    kind = _kind(gpus, domain)
    size = np.array([s for s, _ in items], dtype=np.int64)
    count = np.array([c for _, c in items], dtype=np.int64)
    placed = [int(s) for s, c in items for _ in range(c)]
    threshold_ok = bool(np.all(packing_slack(kind, size, count) >= 0)) if items else True
    assert threshold_ok == (first_fit_decreasing(kind, placed) is not None)


@settings(max_examples=200, deadline=None)
@given(gpus=st.integers(1, 400), domain=st.sampled_from([4, 8, 72]), size=sizes)
def test_one_size_packs_like_max_instances(gpus, domain, size):
    kind = _kind(gpus, domain)
    if size > domain:
        return
    most = int(max_instances(gpus, domain, np.array([size]))[0])
    assert kind.slots(size) == most
    assert first_fit_decreasing(kind, [size] * most) is not None
    assert first_fit_decreasing(kind, [size] * (most + 1)) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(1, 9), st.sampled_from([0.0, 1.0, 2.0, 3.0]),
                          st.sampled_from([0.0, 1.0, 2.0])), min_size=1, max_size=25))
def test_pareto_pruning_keeps_exactly_the_undominated_rows(rows):
    keys = np.array([[r[0]] for r in rows])
    rate = np.array([float(r[1]) for r in rows])
    load = np.zeros((3, len(rows)))
    load[1] = [r[2] for r in rows]
    load[2] = [r[3] for r in rows]
    kept = set(pareto_rows(keys, rate, load).tolist())
    for i in range(len(rows)):
        # Dominated: another row of the same key at least as fast with no more load on either tier
        # (among identical rows, exactly one survives).
        better = [j for j in range(len(rows)) if j != i and keys[j, 0] == keys[i, 0] and rate[j] >= rate[i]
                  and load[1, j] <= load[1, i] and load[2, j] <= load[2, i]]
        strictly = [j for j in better if (rate[j], -load[1, j], -load[2, j]) != (rate[i], -load[1, i], -load[2, i])]
        if strictly:
            assert i not in kept
        elif not better:
            assert i in kept
    # Every dominated row has a kept row that dominates it: pruning never loses an optimum.
    for i in set(range(len(rows))) - kept:
        assert any(keys[j, 0] == keys[i, 0] and rate[j] >= rate[i] and load[1, j] <= load[1, i]
                   and load[2, j] <= load[2, i] for j in kept)
