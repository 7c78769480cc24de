"""NVIDIA's small-expert MoE runs the model misses (``planner/studies/training_findings.py``): reported with their
error, never tuned in. Their tests pin what the finding says, so that a change to the model that closes (or
widens) the gap shows here and the finding is rewritten."""

import pytest

from planner.studies.training_anchors import predict, scenario
from planner.studies.training_findings import FINDINGS, TOKEN_DROP, hypotheses, published_step_s
from planner.training.evaluate import evaluate_training_plan
from planner.training.workload import TrainingPlan


def _finding(prefix):
    return next(a for a in FINDINGS if a.run.startswith(prefix))


def test_published_steps():
    # Qwen3 30B-A3B: 512 sequences x 4,096 tokens / (5,275 tok/s/GPU x 16 GPUs) = 24.85 s; the 25.09 token-drop
    # row of the same layout: / (10,494 x 16) = 12.49 s. GPT-OSS 120B: 512 x 4,096 / (5,630 x 64) = 5.82 s.
    assert published_step_s(_finding("Qwen3")) == pytest.approx(24.848, abs=1e-3)
    assert published_step_s(TOKEN_DROP) == pytest.approx(12.490, abs=1e-3)
    assert published_step_s(_finding("GPT-OSS")) == pytest.approx(5.820, abs=1e-3)


def test_findings_are_predicted_too_fast_but_no_faster_than_physics_allows():
    # The model runs both published layouts faster than NVIDIA's 25.11 table (Qwen3: 15,297 against 5,275, +190 %;
    # GPT-OSS: 6,708 against 5,630, +19 %): both are findings, outside the 10 % bar.
    qwen, oss = predict(_finding("Qwen3")), predict(_finding("GPT-OSS"))
    assert qwen.error(_finding("Qwen3")) > 1.0 and oss.error(_finding("GPT-OSS")) > 0.10
    # Same FLOPs and bytes, twice the time: the 25.09 token-drop row of the Qwen3 layout ran at 10,494 tok/s/GPU.
    # What the 25.11 dropless run loses beyond it is host-side (per-layer synchronisation and launches), which the
    # model does not have; a GPU-side factor fitted to 5,275 would put the prediction below 10,494 and fail here.
    assert qwen.value > TOKEN_DROP.published


def test_candidate_mechanisms_are_bounded_far_below_the_qwen3_gap():
    # Qwen3's step misses 24.85 - 8.57 = 16.3 s. On its fullest stage (24 layers, 32 micro-batches of 8,192
    # tokens; H100 HBM 3.35 TB/s x 0.912 achievable = 3.055 TB/s): the fp32 vocabulary softmax,
    # 32 x 3 x 4 B x 151,936 x 8,192 / 3.055 TB/s = 0.16 s (now in the model); one GEMM per local expert (16)
    # instead of a grouped one, 32 x 24 x 3 x 2 x 15 more FP8 GEMM floors of 6 us = 0.41 s; one more NVLink
    # latency (10 us) per peer in each of 4 all-to-alls, 32 x 24 x 4 x 7 x 10 us = 0.22 s. None comes near.
    h = hypotheses(_finding("Qwen3"))
    assert h["missing"] == pytest.approx(16.28, abs=0.02)
    bounds = [v for k, v in h.items() if k != "missing"]
    assert sum(bounds) < 0.1 * h["missing"]
    assert h["vocab softmax"] == pytest.approx(32 * 3 * 4 * 151_936 * 8_192 / 3.0552e12, rel=1e-6)
    assert h["per-expert launches"] == pytest.approx(32 * 24 * 3 * 2 * 15 * 6e-6, rel=1e-6)
    assert h["all-to-all latency"] == pytest.approx(32 * 24 * 4 * 7 * 10e-6, rel=1e-6)


def test_gpt_oss_runs_full_recomputation_where_nvidia_recomputed_only_norms_and_moe_activation():
    # NVIDIA's H100 recipe recomputes the norms and the MoE activation (``recompute_modules=["layernorm",
    # "moe_act"]``, Megatron-Bridge v0.2.0 gpt_oss/workload_base_configs.py), which is this model's selective mode;
    # the memory model puts that layout at 98.5 GB per GPU (58.7 GB of activations), over the 72 usable
    # (80 GB x 0.9), so the planner falls back to full recomputation (55.5 GB, 6,708 tok/s/GPU, +19.2 %). At
    # selective recomputation the prediction would be 8,521 (+51.4 %): the memory model is at least 36 % high here.
    oss = _finding("GPT-OSS")
    p = predict(oss)
    assert p.plan.recompute == "full" and p.value == pytest.approx(6708, rel=2e-3)
    sc = scenario(oss)
    sel = evaluate_training_plan(sc, TrainingPlan(**oss.pins, recompute="selective", zero=p.plan.zero))
    assert not bool(sel.feasible[0]) and float(sel.memory.total[0]) == pytest.approx(98.5e9, rel=2e-3)
    assert float(sel.memory.total[0]) > 0.9 * 80e9 * 1.36
    assert float(sel.tok_per_gpu[0]) == pytest.approx(8521, rel=2e-3)
