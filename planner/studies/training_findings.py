"""Published training runs the model misses, kept as findings: each run's prediction, error and step split.

NVIDIA's small-expert MoE runs (hidden 2,048-2,880, 128 experts, dropless with experts force-balanced) run
far slower than the training model predicts. They are not anchors (nothing in the model is fitted to them
and they are not held to the 10 % bar): ``python bench/training_anchors.py --findings`` prints, for each,
the published and predicted figures, the predicted step's split (linear layers and attention, non-matmul
HBM passes with the optimiser update, exposed communication, pipeline bubble, stragglers) and the
published step, so what is missing shows as seconds. ``hypotheses`` bounds each candidate mechanism.

The same Qwen3 30B-A3B layout on the same 16 H100 ran at 10,494 tokens/s per GPU in NVIDIA's 25.09 table
(token-drop routing) and at 5,275 in the 25.11 table (dropless): the same FLOPs and about the same bytes,
twice the time. At least half of the 25.11 step is therefore not spent on GPU arithmetic or memory
traffic; dropless routing with EP needs each expert's token count on the host before the expert-parallel
all-to-all (Megatron-Core ``megatron/core/transformer/moe/token_dispatcher.py``, ``cuda_sync_point``; the
padded fixed-capacity mode needs no synchronisation), which drains the GPU's launch queue, and NVIDIA's
recipes capture the router and the dispatch preprocessing in CUDA graphs where they can
(``cuda_graph_scope=["moe_router", "moe_preprocess"]``, Megatron-Bridge
``scripts/performance/configs/qwen3/workload_base_configs.py``, v0.2.0) to cut that host overhead. The
model has no host-side (launch, synchronisation) term.
"""

from __future__ import annotations

import numpy as np

from planner.studies.training_anchors import NVIDIA, NVIDIA_2509, Anchor, Prediction, predict, scenario
from planner.training.evaluate import shape_of
from planner.training.memory import stage_layers
from planner.training.rates import training_rates
from planner.training.workload import PRECISIONS

FINDINGS: tuple[Anchor, ...] = (
    # 25.11 DGX-H100 table: 16 GPUs, FP8-CS, GBS 512, MBS 2, 4,096 tokens, TP1 PP2 CP1 VP24 EP8 (so DP8):
    # 5,275 tokens/s and 121 model TFLOP/s per GPU.
    Anchor("Qwen3 30B-A3B, 16 H100, PP2 VP24 EP8, FP8", NVIDIA, "hgx-h100", "qwen3-30b-a3b", 512, 4096, 16,
           "tok_per_gpu", 5275, dict(tp=1, pp=2, cp=1, vpp=24, ep=8, dp=8, micro_batch=2, precision="fp8"),
           role="finding", published_tflops=121),
    # 25.11 DGX-H100 table: 64 GPUs, BF16, GBS 512, MBS 4, 4,096 tokens, TP1 PP4 CP1 VP1 EP8 (so DP16):
    # 5,630 tokens/s and 153 model TFLOP/s per GPU.
    Anchor("GPT-OSS 120B, 64 H100, PP4 EP8, BF16", NVIDIA, "hgx-h100", "gpt-oss-120b", 512, 4096, 64,
           "tok_per_gpu", 5630, dict(tp=1, pp=4, cp=1, vpp=1, ep=8, dp=16, micro_batch=4, precision="bf16"),
           role="finding", published_tflops=153),
)
TOKEN_DROP = Anchor("Qwen3 30B-A3B, 16 H100, PP2 VP24 EP8, FP8, token-drop", NVIDIA_2509, "hgx-h100",
                    "qwen3-30b-a3b", 512, 4096, 16, "tok_per_gpu", 10494, FINDINGS[0].pins, role="finding",
                    published_tflops=241)
"""The 25.09 table's row of the same Qwen3 layout with token-drop routing: 10,494 tokens/s per GPU."""


def published_step_s(anchor: Anchor) -> float:
    """The published run's optimiser step: global batch x sequence / (tokens/s per GPU x GPUs)."""
    return anchor.batch * anchor.seq / (anchor.published * anchor.gpus)


def _s(values) -> float:
    return float(np.asarray(values)[0])


def split_table() -> str:
    """The findings as a markdown table: published and predicted figures, the predicted step's split (s)."""
    rows = ["| run | published | predicted | error | layout | compute | HBM | comm | bubble | jitter | step "
            "| published step |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for a in (*FINDINGS, TOKEN_DROP):
        p = predict(a)
        s = p.scores
        rows.append(f"| {a.run} | {a.published:,.0f} | {p.value:,.0f} | {p.error(a):+.1%} | {p.plan.layout()} "
                    f"{p.plan.recompute} | {_s(s.compute_s):.2f} | {_s(s.hbm_s):.2f} | {_s(s.comm_s):.2f} | "
                    f"{_s(s.bubble_s):.2f} | {_s(s.jitter_s):.2f} | {_s(s.step_time_s):.2f} | "
                    f"{published_step_s(a):.2f} |")
    return "\n".join(rows)


def hypotheses(anchor: Anchor, prediction: Prediction | None = None) -> dict[str, float]:
    """Upper bounds, in seconds per optimiser step, of mechanisms the model might leave out, for ``anchor``'s
    predicted layout on its fullest stage (each bound's arithmetic in the comments), beside ``missing``: the
    published step less the predicted one."""
    p = prediction or predict(anchor)
    sc = scenario(anchor)
    sc_shape, r = shape_of(sc), training_rates(sc.hardware)
    plan, m = p.plan, _s(p.scores.micro_batches)
    layers = float(np.max(np.concatenate(stage_layers(sc_shape, np.array([plan.pp], float)))))
    moe_layers = layers * sc_shape.moe_layer_fraction
    tokens = plan.micro_batch * anchor.seq / (plan.tp * plan.cp)
    local = sc_shape.num_experts / plan.ep
    mode = int(r.gemm_mode[PRECISIONS.index(plan.precision)])
    floor_s = float(r.gemm.floor_s[mode])
    return {
        "missing": published_step_s(anchor) - _s(p.scores.step_time_s),
        # Cross-entropy over the vocabulary on the last stage: fp32 logits written, read, and their gradient
        # written (3 passes of 4 bytes x vocabulary per token), every micro-batch, at the achievable HBM rate
        # (in the model since it was measured here: ``VOCAB_LOSS_PASSES`` in planner.training.evaluate).
        "vocab softmax": m * 3.0 * 4.0 * sc_shape.vocab_size * tokens / r.hbm_bytes_per_s,
        # Experts as one GEMM each instead of one grouped GEMM: (local - 1) more launch floors per matrix
        # (two matrices), forward and the backward's two GEMMs each, every MoE layer and micro-batch.
        "per-expert launches": m * moe_layers * 3.0 * 2.0 * (local - 1.0) * floor_s,
        # The four all-to-alls of an MoE layer (dispatch and combine, forward and backward) each waiting one
        # more scale-up latency per peer instead of one in all (small-message bound).
        "all-to-all latency": m * moe_layers * 4.0 * (plan.ep - 1.0) * float(r.fabric_latency_s[0]),
    }


def hypotheses_table() -> str:
    """`hypotheses` for every finding (markdown; seconds per step)."""
    keys = tuple(hypotheses(FINDINGS[0]))
    rows = ["| run | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for a in FINDINGS:
        h = hypotheses(a)
        rows.append(f"| {a.run} | " + " | ".join(f"{h[k]:.2f}" for k in keys) + " |")
    return "\n".join(rows)
