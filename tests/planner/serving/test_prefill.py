"""``prefill_time_s``: one forward pass of ``batch x isl`` prompt tokens, no decode batch, no queueing.

Hand-computed on Llama-3.1-8B (models/data/llama-3.1-8b.json: hidden 4,096, 32 layers, 32 query
and 8 KV heads of 128, FFN 14,336, vocabulary 128,256) with a bare-roofline engine (perfect
overlap, no overheads, unit scales), where a long prompt is compute-bound.
"""

import dataclasses

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.kernels import attention
from planner.engine.profile import EngineProfile
from planner.engine.rates import rates
from planner.serving.evaluate import evaluate_plan, row
from planner.serving.plan import Plan, PlanArrays
from planner.serving.prefill import prefill_time_s
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

CAT = Catalogue()
BARE = EngineProfile(name="bare", source="test: bare roofline", gemm_curve=False, gemm_efficiency_scale=1.0,
                     attention_efficiency_scale=1.0, moe_efficiency_scale=1.0, hbm_efficiency_scale=1.0,
                     comm_efficiency_scale=1.0, step_overhead_s=0.0, per_layer_overhead_s=0.0,
                     per_kernel_overhead_s=0.0, sequence_overhead_s=0.0, overlap_fraction=1.0)
# Per layer: attention 4096 x (4096 + 1024 + 1024 + 4096) = 41,943,040; FFN 3 x 4096 x 14336 =
# 176,160,768; sum 218,103,808, x 32 layers = 6,979,321,856 block parameters.
BLOCK_PARAMS = 6_979_321_856
LM_HEAD_PARAMS = 128_256 * 4_096  # 525,336,576 (untied)
# Causal attention of one 8,192-token prompt: 2 x 2 x 32 heads x 128 = 16,384 FLOPs per pair,
# 8192 x 8191 / 2 = 33,550,336 pairs per layer, 32 layers: 8,796,093,022,208 x 2 = 1.759e13.
ATTENTION_FLOP = 16_384 * 33_550_336 * 32


def _attention(sc, calls, units, flops):
    """The prefill attention curve (``planner.engine.kernels.attention``) of the engine on hand-computed work."""
    return attention.for_gpu(sc.profile.name, sc.hardware.gpu).time_s("prefill", calls, units, 0.0, flops)


def _scenario(profile=BARE, isl=8192, osl=128, system="hgx-h200"):
    return Scenario(hardware=CAT.hardware(system), model=model("llama-3.1-8b"),
                    workload=Workload(isl=isl, osl=osl), profile=profile)


def test_compute_bound_pass_by_hand():
    sc = _scenario()
    r = rates(sc.hardware, BARE)
    batch = 4
    got = prefill_time_s(sc, PlanArrays.from_plans([Plan(batch=batch)]))[0]
    # every prompt token through every block, each prompt's last token through the LM head,
    # each prompt's causal attention; bf16 GEMMs at the prefill rate, attention by its kernel curve
    # after the blend: 32 calls (layers) over 4 x 8,192 tokens x 32 heads / 128 = 8,192 query tiles
    want = (2.0 * BLOCK_PARAMS * batch * 8192 + 2.0 * LM_HEAD_PARAMS * batch) / r.prefill_flop_per_s[0] \
        + _attention(sc, 32, batch * 8192 * 32 / 128, batch * ATTENTION_FLOP)
    assert got == pytest.approx(want, rel=1e-9)
    # about 0.49 s on H200 (989 TFLOP/s bf16 peak at the catalogue's prefill efficiency)
    assert 0.3 < got < 0.8


def test_pipeline_and_overheads():
    prof = dataclasses.replace(BARE, step_overhead_s=1e-3, sequence_overhead_s=1e-5)
    sc = _scenario(prof)
    one, two = prefill_time_s(sc, PlanArrays.from_plans([Plan(batch=4), Plan(batch=4, pp=2)]))
    # pp = 2: micro-batches of 2 prompts over 16 layers each, 2 x 2 - 1 = 3 stage times, each a
    # quarter of the pp = 1 pass's compute (half the prompts, half the layers; the LM head
    # spreads over the stages the same way); overhead 1 ms + 1e-5 x prompts per group, once. The
    # attention kernels do not scale by a quarter (a call floor per layer, fewer query tiles): pp 1 runs
    # 32 calls over 8,192 tiles, each pp 2 stage 16 calls over 2 x 8,192 x 32 / 128 = 4,096 tiles
    # doing half the prompts' attention over half the layers.
    base = one - (1e-3 + 1e-5 * 4) - _attention(sc, 32, 8192, 4 * ATTENTION_FLOP)
    stage_attention = _attention(sc, 16, 4096, 2 * ATTENTION_FLOP / 2)
    assert two - (1e-3 + 1e-5 * 2) - 3.0 * stage_attention == pytest.approx(3.0 * base / 4.0, rel=1e-6)


def test_decode_workload_has_none_and_row_reports_it():
    tc = Scenario(hardware=CAT.hardware("hgx-h200"), model=model("llama-3.1-8b"),
                  workload=Workload(tokens_cached=4096), profile=BARE)
    assert prefill_time_s(tc, PlanArrays.from_plans([Plan()])) is None
    assert row(tc, evaluate_plan(tc, Plan()), prefill=True)["prefill_time_s"] is None
    assert "prefill_time_s" not in row(tc, evaluate_plan(tc, Plan()))  # plan documents leave it out
    sc = _scenario(osl=1)
    out = row(sc, evaluate_plan(sc, Plan(batch=2)), prefill=True)
    assert out["prefill_time_s"] == pytest.approx(prefill_time_s(sc, PlanArrays.from_plans([Plan(batch=2)]))[0])


def test_below_ttft_under_the_shipped_engines():
    # TTFT adds the request overhead, the decode batch each chunk shares an iteration with and
    # the queue: a lone forward pass of one prompt is never slower than it.
    for name in ("default", "trtllm", "vllm", "sglang"):
        from planner.engine.profile import engine
        sc = _scenario(engine(name), isl=4096, osl=256)
        plans = [Plan(batch=b) for b in (1, 8, 64)]
        ttft = np.array([evaluate_plan(sc, p).ttft_s[0] for p in plans])
        one_prompt = prefill_time_s(sc, PlanArrays.from_plans([Plan(batch=1)] * 3))
        assert np.all(one_prompt <= ttft)
