"""Rounding a fleet solution: a pool that rounds away takes its KV flow with it.

HiGHS may leave an instance count at ~5.6e-7 (inside its integrality tolerance) on a prefill
column, carrying ~1.15e-5 requests/s of KV flow (seen on ``examples/fleet.toml --maximise tps``).
The count rounds to 0; a flow left behind would make verification report prefill capacity short.
"""

from types import SimpleNamespace

import numpy as np

from planner.milp.fleet_problem import DECODE, PREFILL
from planner.milp.fleet_solve import _values


def _var(value: float) -> SimpleNamespace:
    return SimpleNamespace(value=lambda: value)


def _milp(prefill_count: float, flow_rps: float) -> SimpleNamespace:
    # One model (0), KV quant 1, a prefill column on kind 0 and a decode column on kind 1.
    columns = SimpleNamespace(role=np.array([PREFILL, DECODE]), model=np.array([0, 0]), kv_quant=np.array([1, 1]),
                              kind=np.array([0, 1]))
    return SimpleNamespace(n=[_var(prefill_count), _var(3.0)], flows={(0, 1, 0, 1): _var(flow_rps)}, columns=columns)


def test_flow_from_a_pool_that_rounds_to_zero_is_dropped():
    counts, flows = _values(_milp(5.6e-7, 1.15e-5))
    assert counts.tolist() == [0, 3]
    assert flows == {(0, 1, 0, 1): 0.0}


def test_flow_between_kept_pools_is_kept():
    counts, flows = _values(_milp(2.0000001, 12.5))
    assert counts.tolist() == [2, 3]
    assert flows == {(0, 1, 0, 1): 12.5}


def test_noise_flow_is_zero_even_between_kept_pools():
    # FLOW_NOISE_REQUESTS_PER_S = 1e-9: 1e-13 requests/s is solver noise.
    _, flows = _values(_milp(2.0, 1e-13))
    assert flows == {(0, 1, 0, 1): 0.0}
