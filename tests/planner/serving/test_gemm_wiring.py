"""The dense-block GEMMs on the GEMM kernel curve: shapes, decode and prefill wiring, the seed preset untouched."""

import dataclasses

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.kernels.gemm import gemm_time_s
from planner.engine.profile import engine
from planner.engine.rates import rates
from planner.serving.evaluate import evaluate_plan, row
from planner.serving.gemms import dense_gemms
from planner.serving.plan import Plan
from planner.serving.prefill import prefill_time_s
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

CAT = Catalogue()
LLAMA = model("llama-3.1-8b")
LLAMA8_ATTN, LLAMA8_FFN, LLAMA8_VOCAB = 41_943_040, 176_160_768, 525_336_576  # test_eval_hand.py
REL = 1e-9


def _scenario(workload, hw="h200-sxm", overlap=1.0, curve=True):
    prof = dataclasses.replace(engine("vllm"), overlap_fraction=overlap, gemm_curve=curve)
    return Scenario(hardware=CAT.hardware(hw), model=LLAMA, workload=workload, profile=prof)


def test_llama8b_gemm_shapes_hold_its_parameters():
    g = dense_gemms(LLAMA)
    assert [(x.block, x.n, x.k, x.split) for x in g] == [
        ("attention", 6144, 4096, "n"), ("attention", 4096, 4096, "k"),     # QKV (32 + 2 x 8 heads x 128), O
        ("dense", 28672, 4096, "n"), ("dense", 4096, 14336, "k"),          # gate-up, down
        ("head", 128256, 4096, "n")]
    # 6,144 x 4,096 + 4,096 x 4,096 = 41,943,040; 28,672 x 4,096 + 4,096 x 14,336 = 176,160,768.
    assert sum(x.n * x.k for x in g if x.block == "attention") == LLAMA8_ATTN
    assert sum(x.n * x.k for x in g if x.block == "dense") == LLAMA8_FFN
    assert g[-1].n * g[-1].k == LLAMA8_VOCAB


def test_deepseek_v3_gemms_hold_its_attention_and_shared_expert():
    m = model("deepseek-v3")
    from models import counts

    pb = counts.param_breakdown(m)
    g = dense_gemms(m)
    # MLA: down 7,168 -> 1,536 + 512 + 64, q_b 1,536 -> 128 x 192, kv_b 512 -> 128 x 256, O 16,384 -> 7,168:
    # the attention block's parameters less its two latent RMSNorm vectors (1,536 + 512).
    assert sum(x.n * x.k for x in g if x.block == "attention") == pb.attention_per_layer - (1536 + 512)
    # Shared expert (2,048 wide, gated) and router (256 experts): the shared block's parameters less the
    # router's 256 bias terms (no GEMM).
    assert sum(x.n * x.k for x in g if x.block == "shared") == pb.shared_expert_per_layer + pb.router_per_layer - 256


def test_decode_moves_the_weights_from_hbm_to_the_gemm_term():
    work = Workload(tokens_cached=1024)
    sc, off = _scenario(work), _scenario(work, curve=False)
    s, base = evaluate_plan(sc, Plan(batch=64)), evaluate_plan(off, Plan(batch=64))
    gpu = sc.hardware.gpu
    # The HBM term loses exactly the dense weights: (32 x 218,103,808 + 525,336,576) x 2 B = 15,009,316,864 B
    # at 4.8e12 x 0.877 x the engine's HBM scale.
    hbm_rate = gpu.hbm_bytes_per_s * gpu.hbm_efficiency_fraction * min(1.0, sc.engine_profile.hbm_efficiency_scale)
    assert base.hbm_s[0] - s.hbm_s[0] == pytest.approx(15_009_316_864 / hbm_rate, rel=1e-9)
    # The GEMM term: 32 layers x (QKV + O + gate-up + down) and the LM head, each at m = 64 tokens.
    c = rates(sc.hardware, sc.engine_profile).gemm.take(0)  # bf16
    layer = sum(float(gemm_time_s(64.0, n, k, c)) for n, k in ((6144, 4096), (4096, 4096), (28672, 4096),
                                                               (4096, 14336)))
    expected = 32 * layer + float(gemm_time_s(64.0, 128256, 4096, c))
    assert s.gemm_s[0] == pytest.approx(expected, rel=REL)
    assert base.gemm_s[0] == 0.0
    # Perfect overlap: the step is the blended terms plus the GEMMs after them, plus the launch costs.
    r = row(sc, s)
    assert r["time_split_s"]["gemm"] == pytest.approx(expected, rel=REL)
    assert s.stage_time_s[0] >= max(s.compute_s[0], s.hbm_s[0]) + expected


def test_tp_splits_columns_and_rows():
    s = evaluate_plan(_scenario(Workload(tokens_cached=1024)), Plan(tp=2, batch=64))
    sc = _scenario(Workload(tokens_cached=1024))
    c = rates(sc.hardware, sc.engine_profile).gemm.take(0)
    # tp 2: QKV 4,096 -> 3,072 and gate-up -> 14,336 by columns; O 2,048 -> 4,096, down 7,168 -> 4,096 by rows.
    layer = sum(float(gemm_time_s(64.0, n, k, c)) for n, k in ((3072, 4096), (4096, 2048), (14336, 4096),
                                                               (4096, 7168)))
    assert s.gemm_s[0] == pytest.approx(32 * layer + float(gemm_time_s(64.0, 64128, 4096, c)), rel=REL)


def test_prefill_runs_the_prompt_tokens_through_one_gemm_each():
    # One forward pass of 4 prompts of 2,048 tokens, tp 1: every dense GEMM at m = 8,192 rows; the LM head
    # at m = 4 (one row per prompt).
    sc = _scenario(Workload(isl=2048, osl=1))
    c = rates(sc.hardware, sc.engine_profile).gemm.take(0)
    gemms = 32 * sum(float(gemm_time_s(8192.0, n, k, c)) for n, k in ((6144, 4096), (4096, 4096), (28672, 4096),
                                                                         (4096, 14336)))
    gemms += float(gemm_time_s(4.0, 128256, 4096, c))
    plans = Plan(batch=4)
    from planner.serving.plan import PlanArrays

    t = prefill_time_s(sc, PlanArrays.from_plans([plans]))
    t_off = prefill_time_s(_scenario(Workload(isl=2048, osl=1), curve=False), PlanArrays.from_plans([plans]))
    assert t[0] > gemms  # the GEMMs are part of the pass, outside the blend
    # 8,192 tokens x 2 x 7.5e9 dense FLOP are compute-bound: the curve runs them at <= the BF16 peak.
    flop = 2 * 8192 * (32 * (LLAMA8_ATTN + LLAMA8_FFN)) + 2 * 4 * LLAMA8_VOCAB
    assert gemms >= flop / 989e12
    assert np.isfinite(t_off[0]) and t_off[0] != t[0]


def test_seed_preset_keeps_the_flop_byte_terms():
    hw = CAT.hardware("gb200-nvl72", preset="seed")  # GB200 sustains 24 TFLOP/s in decode (seed Note 1)
    assert hw.gpu.sustained_decode_flop_per_s is not None
    assert rates(hw, engine("default")).gemm is None
    s = evaluate_plan(Scenario(hardware=hw, model=LLAMA, workload=Workload(tokens_cached=1024),
                               profile=engine("default")), Plan(batch=64))
    assert s.gemm_s[0] == 0.0
