"""Iterations that carry prompt tokens run outside CUDA graphs: the host's launches add to their GPU time.

``planner.serving.roofline.eager_iteration_s`` adds ``eager_kernel_overhead_s`` per kernel of the stage; serving
charges it to the request's own prefill, to the prompts it queues behind, to the share of decode steps that take a
chunk, to a standalone prefill pass and to a disaggregated prefill pool.
"""

import dataclasses

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.serving.disagg import prefill_scores
from planner.serving.evaluate import evaluate, shape_of
from planner.serving.layout import block_modes, layout
from planner.serving.plan import Plan, PlanArrays
from planner.serving.prefill import prefill_time_s
from planner.serving.roofline import eager_iteration_s, stage_kernels
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

CAT = Catalogue()
PLANS = PlanArrays.from_plans([Plan(tp=1, batch=8, quant="bf16", kv_quant="bf16"),
                               Plan(tp=2, batch=64, quant="fp8", kv_quant="fp8"),
                               Plan(tp=4, pp=2, batch=32, quant="fp8", kv_quant="fp8")])


def _scenario(eager_s, name="llama-3.1-8b", system="hgx-h100", isl=1024, osl=128):
    prof = dataclasses.replace(engine("vllm"), eager_kernel_overhead_s=eager_s, gpus={})
    return Scenario(hardware=CAT.hardware(system), model=model(name), workload=Workload(isl=isl, osl=osl),
                    profile=prof)


def _kernels(sc, plans=PLANS):
    shape = shape_of(sc)
    return stage_kernels(shape, layout(shape, plans, *block_modes(sc.model.native_weight_quant,
                                                                  sc.engine_profile.lm_head_quant)))


def test_kernels_counted_from_the_architecture():
    # Llama-3.1-8B: 32 layers x (5 attention + 4 dense FFN kernels) = 288 a stage at pp 1, 144 at pp 2;
    # DeepSeek-V3 (61 layers, 3 dense): 61 x 9 + 3 x 4 + 58 x (8 routed + 3 shared) = 1,199 at pp 1.
    assert _kernels(_scenario(0.0)).tolist() == [288.0, 288.0, 144.0]
    ds = _scenario(0.0, name="deepseek-v3", system="hgx-h200")
    assert _kernels(ds, PlanArrays.from_plans([Plan(tp=8, batch=4, quant="fp8", kv_quant="fp8")])).tolist() == [1199.0]


def test_zero_knob_is_the_gpu_time_itself():
    sc = _scenario(0.0)
    shape = shape_of(sc)
    lay = layout(shape, PLANS, *block_modes(sc.model.native_weight_quant, sc.engine_profile.lm_head_quant))
    t = np.array([1e-3, 2e-3, 3e-3])
    assert eager_iteration_s(shape, lay, 0.0, t) is t  # the seed preset and the neutral profile: nothing added
    # 10 us a kernel: 288 x 10 us = 2.88 ms added at pp 1, 1.44 ms a stage at pp 2
    assert eager_iteration_s(shape, lay, 10e-6, t) == pytest.approx([3.88e-3, 4.88e-3, 4.44e-3], rel=1e-12)


def test_own_prefill_and_queue_pay_the_launches():
    base, eager = evaluate(_scenario(0.0), PLANS), evaluate(_scenario(20e-6), PLANS)
    # A 1,024-token prompt is one chunk (vLLM's budget 8,192): its own prefill takes pp stage times of the
    # chunk's iteration, each 288 / pp kernels x 20 us longer = 5.76 ms at pp 1, 2 x 2.88 ms at pp 2; the
    # prompts it queues behind are longer as well, and the decode steps that take a chunk (TPOT) too.
    own = np.array([5.76e-3, 5.76e-3, 5.76e-3])
    assert np.all(eager.ttft_s >= base.ttft_s + own * (1 - 1e-9))
    assert np.all(eager.step_time_s > base.step_time_s)


def test_decode_steps_pay_their_share():
    # The average step adds the launches of a chunk's iteration times the share of steps that take a chunk
    # (prompt tokens per step / 1,024): below 1 here, so TPOT grows by less than a whole iteration's launches
    # (288 x 20 us = 5.76 ms a stage).
    base, eager = evaluate(_scenario(0.0), PLANS), evaluate(_scenario(20e-6), PLANS)
    added = eager.step_time_s - base.step_time_s
    assert np.all(added > 0.0)
    assert np.all(added < 5.76e-3 * PLANS.pp)


def test_steady_decode_untouched():
    # A tokens_cached workload has no prompts: no iteration leaves the CUDA graphs.
    plans = PLANS
    scores = []
    for e in (0.0, 50e-6):
        prof = dataclasses.replace(engine("vllm"), eager_kernel_overhead_s=e, gpus={})
        sc = Scenario(hardware=CAT.hardware("hgx-h100"), model=model("llama-3.1-8b"),
                      workload=Workload(tokens_cached=4096), profile=prof)
        scores.append(evaluate(sc, plans).step_time_s)
    assert np.array_equal(scores[0], scores[1])


def test_prefill_pass_and_pool():
    # One forward pass of batch x isl tokens is one eager iteration a stage: (2 pp - 1) stage times, each
    # 288 / pp kernels x 20 us longer (5.76 ms at pp 1; 3 x 2.88 ms at pp 2).
    base, eager = _scenario(0.0), _scenario(20e-6)
    added = prefill_time_s(eager, PLANS) - prefill_time_s(base, PLANS)
    assert added == pytest.approx([5.76e-3, 5.76e-3, 3 * 2.88e-3], rel=1e-9)
    # A prefill pool's iterations likewise: its batch takes longer and its prompt rate falls.
    p0, p1 = prefill_scores(base, PLANS), prefill_scores(eager, PLANS)
    assert np.all(p1.batch_time_s > p0.batch_time_s)
    assert np.all(p1.prompt_tps < p0.prompt_tps)
