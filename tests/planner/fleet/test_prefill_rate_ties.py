"""Prefill rows whose prompts fill the same iterations tie on their prompt rate, and the tie goes to the smaller batch.

``planner.fleet.table.settled_rates`` rounds a prefill row's prompt rate to ``RATE_BITS`` mantissa bits: rates
equal but for their last bits (``8,192 / x`` against ``24,576 / (3 x)``) become one number, so the pruning's
"first of the fastest" is the ladder's smaller batch (the shorter TTFT), not whichever division rounded up.
"""

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.fleet.table import RATE_BITS, settled_rates
from planner.serving.disagg import prefill_scores
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def test_last_bits_settle_and_real_differences_stay():
    x = 0.0010504636963259352  # a stage time at which the two divisions round apart
    a, b = 8192 / x, 24576 / (3 * x)
    assert a != b and abs(a / b - 1) < 1e-15  # one ulp apart: the same rate, two numbers
    assert settled_rates(np.array([a]))[0] == settled_rates(np.array([b]))[0]
    rates = np.array([7.0e6, 7.0e6 * (1 + 1e-9), 42_782.123456, 1.0])
    settled = settled_rates(rates)
    assert settled[0] != settled[1]  # a part in 1e9 is a real difference: kept
    assert np.all(np.abs(settled / rates - 1) <= 2.0 ** -RATE_BITS)  # half a 40-bit step of a mantissa >= 1/2


def test_prefill_batches_filling_the_same_iterations_tie():
    # Qwen3-235B-A22B, 4,096-token prompts, prefill budget 8,192 tokens an iteration (the default engine):
    # 2 prompts take one iteration, 6 take three, each the same 8,192 tokens: the same prompt rate.
    sc = Scenario(hardware=Catalogue().hardware("mi355x-8"), model=model("qwen3-235b-a22b"),
                  workload=Workload(isl=4096, osl=1024), profile=engine("default"))
    plans = PlanArrays.from_plans([Plan(batch=b, quant="fp4", kv_quant="fp8") for b in (2, 6)])
    p = prefill_scores(sc, plans)
    assert p.iterations.tolist() == [1.0, 3.0]
    assert p.prompt_tps[0] == pytest.approx(p.prompt_tps[1], rel=1e-14)
    settled = settled_rates(p.prompt_tps)
    assert settled[0] == settled[1]  # tied: the first row, batch 2, is the fastest of its size
    assert p.batch_time_s[0] < p.batch_time_s[1] / 2  # and its prompts wait a third of the time
