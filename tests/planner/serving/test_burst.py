"""Burst arrivals: the whole batch sent at once and served to the end (``Workload.arrivals = 'burst'``;
``planner.serving.aggregated``, Burst). Each prompt waits for the prompts sent before it, iterations of the engine's
token budget in the order sent, and its decode steps carry the prompts sent after it."""

import dataclasses

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.serving.aggregated import burst_prompts
from planner.serving.evaluate import evaluate
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def test_burst_prompts_by_hand():
    # 1,024-token prompts under an 8,192-token budget, q = 8 to an iteration: the k-th completes with iteration
    # ceil(k / 8), after ceil(k / 8) x 8 prompts' work. 16 of them: the first eight after 8, the last eight after 16,
    # 12 on average; their decode steps carry 1 - 12 / 16 = 0.25 of the burst's prompt work (the first eight decode
    # through the second iteration's eight prompts, the last eight through none: 4 of 16).
    done, during = burst_prompts(np.array([16.0, 8.0, 4.0, 1.0, 64.0]), np.ones(5), 1024, 8192.0)
    exact = [np.mean(np.ceil(np.arange(1, n + 1) / 8.0) * 8.0) for n in (16, 64)]  # 12 and 36
    assert exact == [12.0, 36.0]
    # 8 or fewer share the first iteration: all of them done after the whole burst's work (8, 4, 1 prompts)
    assert done == pytest.approx([12.0, 8.0, 4.0, 1.0, 36.0], rel=1e-12)
    assert during == pytest.approx([0.25, 0.0, 0.0, 0.0, 1.0 - 36.0 / 64.0], rel=1e-12)
    # over 4 attention-DP groups, 64 requests are 16 to a group: the same as 16 on one
    assert burst_prompts(np.array([64.0]), np.array([4.0]), 1024, 8192.0)[0] == pytest.approx([12.0], rel=1e-12)
    # a prompt of a whole budget or more runs its own iterations: the k-th after k prompts, (n + 1) / 2 on average
    done, during = burst_prompts(np.array([4.0]), np.ones(1), 16384, 8192.0)
    assert (done[0], during[0]) == (2.5, 1.0 - 2.5 / 4.0)


# Qwen3-32B BF16 on H100 at TP 2, 1,024 in / 128 out, SGLang's 8,192-token budget: batch 1 (the own prefill alone),
# 8 (one iteration), 16 (two) and 17.
BATCHES = (1, 8, 16, 17)
PLANS = PlanArrays.from_plans([Plan(tp=2, batch=b, quant="bf16", kv_quant="bf16") for b in BATCHES])


def _scores(arrivals, **knobs):
    prof = dataclasses.replace(engine("sglang"), gpus={}, **knobs)
    sc = Scenario(hardware=Catalogue().hardware("hgx-h100"), model=model("qwen3-32b"),
                  workload=Workload(isl=1024, osl=128, arrivals=arrivals), profile=prof)
    return evaluate(sc, PLANS)


def test_burst_ttft_is_the_prompts_sent_before_and_the_own():
    overhead = engine("sglang").ttft_overhead_s
    burst = _scores("burst")
    # The steady model with its queue at the cap (half the others: wave 0.5), no prompts ahead and no arrival
    # steps waits (n - 1) / 2 per-prompt costs after its own prefill; batch 1 waits none: the own prefill alone.
    steady = _scores("steady", prompt_queue_scale=0.0, prefill_wait_fraction=0.5, prompts_ahead=0.0,
                     arrival_wait_steps=0.0)
    own = steady.ttft_s[0] - overhead
    assert burst.ttft_s[0] == pytest.approx(steady.ttft_s[0], rel=1e-12)  # a burst of one is its own prefill
    per_prompt = (steady.ttft_s[2:] - overhead - own) / (np.array([16.0, 17.0]) - 1.0) * 2.0
    # ... so a burst of 16 (done after 12 prompts' work on average, test above) waits 12 per-prompt costs in all,
    # and one of 17 min(17, (17 + 8) / 2) = 12.5 (the per-prompt cost, a share of a full-budget iteration, is the
    # same iteration's in both; its decode batch differs a little between the two models' fixed points)
    assert burst.ttft_s[2:] - overhead == pytest.approx(np.array([12.0, 12.5]) * per_prompt, rel=0.02)
    # 8 prompts of 1,024 fill one 8,192-token iteration: every one of them waits for all 8
    assert burst.ttft_s[1] - overhead == pytest.approx(8.0 * per_prompt[0], rel=0.02)
    # no arrival steps: a burst's requests find the engine idle
    assert _scores("burst", arrival_wait_steps=4.0).ttft_s == pytest.approx(burst.ttft_s, rel=1e-12)


def test_a_burst_of_one_token_outputs_has_a_ttft():
    # osl 1: the first token is the whole output, no decode step to spread the later prompts over (the floor
    # property test found a NaN TTFT here: a lifetime of osl - 1 = 0 steps); TTFT is still the prompts sent before
    one = dataclasses.replace(engine("sglang"), gpus={})
    sc = Scenario(hardware=Catalogue().hardware("hgx-h100"), model=model("qwen3-32b"),
                  workload=Workload(isl=1024, osl=1, arrivals="burst"), profile=one)
    s = evaluate(sc, PLANS)
    assert np.isfinite(s.ttft_s).all() and np.isfinite(s.step_time_s).all()
    longer = dataclasses.replace(sc, workload=Workload(isl=1024, osl=128, arrivals="burst"))
    # the prompts' wait does not depend on the outputs: the same TTFT as with 128 tokens out (within the decode
    # batch's share of each prompt iteration, which reads a shorter context)
    assert s.ttft_s == pytest.approx(evaluate(longer, PLANS).ttft_s, rel=0.01)


def test_burst_decode_carries_the_prompts_sent_after():
    burst, steady = _scores("burst"), _scores("steady")
    # batch 1 and 8: every prompt is done before any decode step (one iteration): the decode step alone, faster
    # than a closed loop's, whose steps carry the prompts of the requests that replace the finished ones
    assert np.all(burst.step_time_s[:2] < steady.step_time_s[:2])
    assert burst.step_time_s[0] == pytest.approx(burst.step_time_s[1], rel=0.1)  # (batch 8 reads more KV)
    # batch 16: a quarter of the burst's prompt work in its steps; 17: 1 - 12.5 / 17 = 0.26, a little more
    assert burst.step_time_s[1] < burst.step_time_s[2] < burst.step_time_s[3]
