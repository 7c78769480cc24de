"""Published training runs against the model's predictions (``planner/studies/training_anchors.py``; the table
in docs/training.md is ``python bench/training_anchors.py``).

Tolerance: 10 % (relative) of the published figure, the issue's bar, for every anchor.
Exactly one constant is fitted to a training run, the per-GPU step-time jitter ``DEFAULT_JITTER_CV`` (0.047,
refitted when the linear layers moved onto the measured GEMM curve), on Meta's 8,192-GPU run; every other
anchor is held out.
"""

import pytest

from planner.studies.training_anchors import ANCHORS, TOLERANCE, predict, predict_free
from planner.training.workload import DEFAULT_JITTER_CV

# Predictions as of this change (error against the published figure), in ANCHORS order:
# Meta 8K 43.1 % (+0.2 %, fitted), Meta 16K 38.2 % (-6.9 %), Meta 128K CP16 34.7 % (-8.6 %), DeepSeek-V3
# 169.9 K GPU-hours per trillion tokens (-5.6 %), NVIDIA 70B H100 1,497 tok/s/GPU (-6.6 %), 405B H100 286
# (-2.0 %), DeepSeek-V3 H100 1,334 (+2.8 %), 8B FSDP 14,488 (+0.3 %), 70B GB200 FSDP 4,136 (-4.1 %).


def test_anchor_roles():
    # At least 8 anchors, one fitted, the rest held out, every one held to the 10 % bar.
    assert len(ANCHORS) >= 8 and [a.role for a in ANCHORS].count("fitted") == 1
    assert sum(a.role == "held out" for a in ANCHORS) >= 3 and DEFAULT_JITTER_CV == 0.047
    assert {a.tolerance for a in ANCHORS} == {TOLERANCE} and TOLERANCE == 0.10


@pytest.mark.parametrize("anchor", ANCHORS, ids=[a.run for a in ANCHORS])
def test_anchor_within_tolerance(anchor):
    p = predict(anchor)
    assert abs(p.error(anchor)) <= anchor.tolerance, f"predicted {p.value:,.4g}, published {anchor.published:,.4g}"
    assert p.plan.gpus == anchor.gpus and bool(p.scores.layout_ok[0])
    if anchor.recompute is not None:
        # Meta trained 8K sequences without activation checkpointing; NVIDIA's H100 runs fit with selective, and
        # so does the GB200 FSDP run with half its layers' activations in Grace memory (its recipe's offload).
        assert p.plan.recompute == anchor.recompute
    if anchor.published_tflops is not None:
        tflops = float(p.scores.model_flop_per_s_per_gpu[0]) / 1e12
        assert abs(tflops / anchor.published_tflops - 1) <= anchor.tolerance, f"predicted {tflops:.0f} TFLOP/s"


def _anchor(prefix):
    return next(a for a in ANCHORS if a.run.startswith(prefix))


def test_llama3_405b_trend_follows_the_micro_batch_count():
    # Meta: 43 % on 8,192 GPUs (32 micro-batches per replica) vs 41 % on 16,384 (16): the bubble grows.
    small, large = predict(_anchor("Llama 3 405B, 8,192")), predict(_anchor("Llama 3 405B, 16,384 H100, TP8 PP16"))
    assert small.value > large.value
    small_share = small.scores.bubble_s[0] / small.scores.step_time_s[0]
    assert small_share < large.scores.bubble_s[0] / large.scores.step_time_s[0]


def test_deepseek_v3_mechanisms():
    # DeepSeek-V3 on 2,048 H800 (PP16 EP64 ZeRO-1, no TP, FP8) with its described choices: 4-node routing,
    # BF16 AdamW moments, FP8 activation cache; the planner chooses the rest and keeps selective recomputation
    # (RMSNorm and MLA up-projections, section 3.2.3) at 58.1 GB of the 72 usable: 170.0 K GPU-h (-5.6 %).
    ds = _anchor("DeepSeek-V3, 2,048")
    hours = predict(ds)
    assert hours.plan.recompute == "selective" and float(hours.scores.memory.total[0]) < 72e9
    assert float(hours.scores.mfu[0]) <= 1.0
    assert float(hours.scores.mfu_fp8[0]) == pytest.approx(float(hours.scores.mfu[0]) * 989 / 1979)
    # What each mechanism is worth: without node-limited routing each token crosses InfiniBand once per remote
    # expert (8 x 7/8) instead of once per remote node (4 x 7/8): 226 K; without the overlap 273 K; neither 329 K.
    unlimited = predict(ds, ep_node_limit=None).value
    exposed = predict(ds, ep_overlap_fraction=0.0).value
    neither = predict(ds, ep_node_limit=None, ep_overlap_fraction=0.0).value
    assert hours.value < 0.8 * unlimited and hours.value < 0.75 * exposed and neither > 1.6 * hours.value
    # The memory recipe is what keeps selective recomputation affordable, not a speed-up: with plain Adam and
    # bf16 caches the layout still fits (61.4 GB) and runs within 0.5 % (169.3 K; fp32 gradients move 4 bytes
    # each through the data-parallel reduce-scatter instead of 2).
    plain = predict(ds, optimiser="adam", fp8_activation_cache=False)
    assert plain.plan.recompute == "selective" and abs(plain.value / hours.value - 1) < 0.005


def test_planner_own_layouts_for_the_issue_jobs():
    # The planner left to lay out the two jobs the issue names (precision pinned, the sources' options kept).
    # Meta's 16K job: TP4 CP4 PP16 DP64, vpp 4, 41.8 % MFU (Meta 41 %; the issue's bar 38-46 %).
    meta = predict_free(_anchor("Llama 3 405B, 16,384 H100, TP8 PP16"))
    assert 0.38 <= meta.value <= 0.46 and meta.plan.gpus == 16384
    # DeepSeek-V3's job: TP2 PP16 EP8 DP64 at 153.2 K GPU-hours per trillion tokens, -14.9 % of the published
    # 180 K, inside the issue's 20 % bar (it found 130.3 K, -27.6 %, while linear layers ran at a flat GEMM rate:
    # the measured FP8 GEMM curve, its quantisation pass and the routing passes cost every layout, and an EP
    # group inside one server no longer hides them behind cheap NVLink all-to-alls). Without the MTP module it
    # chose TP1 PP32 at 151.3 K (152.1 K before the MoE curve's routing passes were refitted per kernel): 61
    # layers on 32 stages leave the last one no layer besides the head, and the module's layer and second head
    # pass make it the slowest stage.
    ds = predict_free(_anchor("DeepSeek-V3, 2,048"))
    assert (ds.plan.tp, ds.plan.pp, ds.plan.ep, ds.plan.dp) == (2, 16, 8, 64) and bool(ds.scores.feasible[0])
    assert ds.value == pytest.approx(153.2e3, rel=0.005) and abs(ds.error(_anchor("DeepSeek-V3, 2,048"))) <= 0.20
