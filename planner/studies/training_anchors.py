"""Published training runs the training model is held against: each run's layout, its figure, our prediction.

One home for the anchors: ``tests/planner/training/test_training_anchors.py`` asserts every prediction
against its tolerance, and ``python bench/training_anchors.py`` prints the table docs/training.md quotes.

Each anchor pins the decisions the source publishes and lets the planner choose the rest (interleaving,
recomputation, ZeRO stage), as a user would; an anchor that gives the whole layout is evaluated as given.
Options the source's recipe states (Meta's stage trim, DeepSeek's routing limit and memory recipe, NVIDIA's
TP communication overlap and Grace activation offload) are the anchor's workload. Exactly one constant of
the model is fitted to a training run, the jitter ``cv`` (``planner.training.workload.DEFAULT_JITTER_CV``), on
the anchor whose role says ``fitted``; every other anchor is held out.
"""

from __future__ import annotations

from dataclasses import field

from hardware.catalogue import Catalogue
from planner.budget import Budget
from planner.model_file import model as load_model
from planner.report.fleet_summary import SECONDS_PER_HOUR
from planner.search.training import optimise_training
from planner.training.evaluate import TrainingScenario, TrainingScores, evaluate_training_plan
from planner.training.space import default_training_space
from planner.training.workload import TrainingPlan, TrainingWorkload
from planner.units import KILO, TERA
from specbase.record import record

TOLERANCE = 0.10
"""The bar: a prediction within 10 % of the published figure."""

META = "Meta, The Llama 3 Herd of Models, arXiv 2407.21783, Table 4"
NVIDIA = "NVIDIA Megatron-Bridge performance summary, NeMo 25.11 (docs/performance-summary-archive.md)"
# The 25.09 table's DGX-H100 DeepSeek-V3 row (dropless, experts force-balanced; FP8 with DeepSeek's 128 x 128
# weight and 1 x 128 activation scaling): Megatron's all-to-all sends each routed copy to its expert's GPU, so
# no node-limited forwarding (``ep_node_limit``) applies.
NVIDIA_2509 = "NVIDIA Megatron-Bridge performance summary, NeMo 25.09 (docs/performance-summary-archive.md)"
DEEPSEEK = "DeepSeek-AI, DeepSeek-V3 Technical Report, arXiv 2412.19437, Table 1 and section 3"


@record
class Anchor:
    """One published run.

    Attributes:
        run: what ran, in words; source: where it is published.
        system, model, batch, seq, gpus: the job (global batch in sequences).
        metric: ``mfu`` (BF16 MFU), ``tok_per_gpu`` (tokens/s per GPU) or ``gpu_hours_per_t`` (GPU-hours
            per trillion tokens); published: the source's figure of it.
        pins: decisions the source publishes (the planner chooses the others); plan: the whole layout,
            evaluated as given, when the source publishes all of it.
        workload: workload fields beyond batch and sequence (stage trim, node-limited routing).
        recompute: the recomputation mode the planner must land on (``None``: not checked).
        tolerance, role: the bar and whether the anchor set a constant (``fitted``) or not (``held out``).
        published_tflops: the source's model TFLOP/s per GPU beside its tokens/s (NVIDIA's tables).
    """

    run: str
    source: str
    system: str
    model: str
    batch: int
    seq: int
    gpus: int
    metric: str
    published: float
    pins: dict = field(default_factory=dict)
    plan: TrainingPlan | None = None
    workload: dict = field(default_factory=dict)
    recompute: str | None = None
    tolerance: float = TOLERANCE
    role: str = "held out"
    published_tflops: float | None = None


# NVIDIA's performance recipes overlap the TP collectives with the GEMMs (userbuffers,
# ``cfg.comm_overlap.tp_comm_overlap_cfg = userbuffers_fp8_h100_h8192_tp4_mbs1_seqlen8192``,
# Megatron-Bridge scripts/performance/configs/llama/llama3_llm_pretrain.py).
TP_OVERLAP = {"tp_overlap_fraction": 1.0}
# NVIDIA's GB200 FSDP recipe keeps 40 of the 80 layers' activations in Grace memory
# (LLAMA3_70B_PRETRAIN_CONFIG_GB200_FP8_CS_V2: ``cpu_offloading_num_layers=40``, Megatron-Bridge
# scripts/performance/configs/llama/llama3_workload_base_configs.py).
GRACE_OFFLOAD = {"offload_layers": 40}
TRIM = {"stage_trim_layers": 1}  # one layer off the first and last stage (Meta, section 3.3.2)
# DeepSeek-V3's described choices: node-limited routing to 4 nodes (section 2.1.2), BF16 AdamW moments with
# fp32 master weights and gradients, FP8-cached SwiGLU inputs and E5M6 attention outputs (section 3.3.3), one
# multi-token-prediction module on the last stage (section 2.2).
DEEPSEEK_RECIPE = {"ep_node_limit": 4, "optimiser": "adam-bf16-moments", "fp8_activation_cache": True,
                   "mtp_modules": 1}
ANCHORS: tuple[Anchor, ...] = (
    Anchor("Llama 3 405B, 8,192 H100, TP8 PP16 DP64, 8K, BF16", META, "hgx-h100", "llama-3.1-405b", 2048, 8192,
           8192, "mfu", 0.43, dict(tp=8, cp=1, pp=16, dp=64, micro_batch=1, precision="bf16"), workload=TRIM,
           recompute="selective", role="fitted"),
    Anchor("Llama 3 405B, 16,384 H100, TP8 PP16 DP128, 8K, BF16", META, "hgx-h100", "llama-3.1-405b", 2048, 8192,
           16384, "mfu", 0.41, dict(tp=8, cp=1, pp=16, dp=128, micro_batch=1, precision="bf16"), workload=TRIM,
           recompute="selective"),
    Anchor("Llama 3 405B, 16,384 H100, TP8 CP16 PP16 DP8, 128K, BF16", META, "hgx-h100", "llama-3.1-405b", 128,
           131072, 16384, "mfu", 0.38, dict(tp=8, cp=16, pp=16, dp=8, micro_batch=1, precision="bf16"),
           workload=TRIM, recompute="selective"),
    Anchor("DeepSeek-V3, 2,048 H800, PP16 EP64 ZeRO-1, FP8, 4-node routing", DEEPSEEK, "hgx-h800", "deepseek-v3",
           15360, 4096, 2048, "gpu_hours_per_t", 180e3,
           dict(tp=1, cp=1, pp=16, ep=64, dp=128, zero=1, precision="fp8"), workload=DEEPSEEK_RECIPE,
           recompute="selective"),
    Anchor("Llama 3 70B, 64 H100, TP4 PP8 VP5, FP8", NVIDIA, "hgx-h100", "llama-3.1-70b", 128, 8192, 64,
           "tok_per_gpu", 1602, dict(tp=4, pp=8, cp=1, vpp=5, dp=2, micro_batch=1, precision="fp8"),
           workload=TP_OVERLAP, recompute="selective", published_tflops=719),
    Anchor("Llama 3.1 405B, 1,024 H100, TP8 PP8 CP2 VP8, FP8", NVIDIA, "hgx-h100", "llama-3.1-405b", 512, 8192, 1024,
           "tok_per_gpu", 292, dict(tp=8, pp=8, cp=2, vpp=8, dp=8, micro_batch=1, precision="fp8"),
           workload=TP_OVERLAP, recompute="selective", published_tflops=737),
    Anchor("DeepSeek-V3, 1,024 H100, TP2 PP8 VP4 EP64, FP8", NVIDIA_2509, "hgx-h100", "deepseek-v3", 8192, 4096,
           1024, "tok_per_gpu", 1297, dict(tp=2, pp=8, vpp=4, cp=1, ep=64, dp=64, micro_batch=1, precision="fp8"),
           recompute="selective", published_tflops=338),
    Anchor("Llama 3 8B, 8 H100, FSDP 8, FP8", NVIDIA, "hgx-h100", "llama-3.1-8b", 128, 8192, 8, "tok_per_gpu", 14451,
           dict(tp=1, pp=1, cp=1, dp=8, micro_batch=1, zero=3, precision="fp8"), recompute="selective",
           published_tflops=744),
    Anchor("Llama 3 70B, 64 GB200, FSDP 64, FP8", NVIDIA, "gb200-nvl72", "llama-3.1-70b", 256, 8192, 64,
           "tok_per_gpu", 4312, dict(tp=1, pp=1, cp=1, dp=64, micro_batch=2, zero=3, precision="fp8"),
           workload=GRACE_OFFLOAD, recompute="selective", published_tflops=1937),
)


@record
class Prediction:
    """An anchor's prediction: the figure, the layout it came from and that layout's scores."""

    value: float
    plan: TrainingPlan
    scores: TrainingScores

    def error(self, anchor: Anchor) -> float:
        """Relative error against the published figure."""
        return self.value / anchor.published - 1.0


def scenario(anchor: Anchor, **workload) -> TrainingScenario:
    """The anchor's job (``workload`` overrides its workload fields)."""
    w = TrainingWorkload(global_batch_sequences=anchor.batch, sequence_tokens=anchor.seq,
                         **{**anchor.workload, **workload})
    return TrainingScenario(Catalogue().hardware(anchor.system), load_model(anchor.model), w)


def predict(anchor: Anchor, **workload) -> Prediction:
    """Our figure for ``anchor``: the planner's best layout with the published decisions pinned, or the given
    plan evaluated (``workload`` overrides workload fields, to show what one mechanism is worth)."""
    sc = scenario(anchor, **workload)
    if anchor.plan is not None:
        return _prediction(anchor, anchor.plan, evaluate_training_plan(sc, anchor.plan))
    best = optimise_training(sc, Budget(gpus=anchor.gpus), default_training_space(sc, anchor.gpus)
                             .pinned(**anchor.pins)).best
    return _prediction(anchor, best.plan, best.scores)


def predict_free(anchor: Anchor) -> Prediction:
    """The planner's own best layout for ``anchor``'s job: only the precision pinned (a property of the job,
    like its batch), every layout decision left to the search, the workload options kept."""
    sc = scenario(anchor)
    precision = anchor.plan.precision if anchor.plan is not None else anchor.pins.get("precision")
    space = default_training_space(sc, anchor.gpus)
    best = optimise_training(sc, Budget(gpus=anchor.gpus), space.pinned(precision=precision) if precision else space)
    return _prediction(anchor, best.best.plan, best.best.scores)


def _prediction(anchor: Anchor, plan: TrainingPlan, scores: TrainingScores) -> Prediction:
    if anchor.metric == "mfu":
        value = float(scores.mfu[0])
    elif anchor.metric == "tok_per_gpu":
        value = float(scores.tok_per_gpu[0])
    else:  # GPU-hours per 1e12 tokens: (1e12 / tokens per second) seconds x GPUs / 3,600
        value = TERA / float(scores.tokens_per_s[0]) * plan.gpus / SECONDS_PER_HOUR
    return Prediction(value, plan, scores)


def _figure(metric: str, value: float) -> str:
    if metric == "mfu":
        return f"{value:.1%} MFU"
    if metric == "tok_per_gpu":
        return f"{value:,.0f} tok/s/GPU"
    return f"{value / KILO:,.1f} K GPU-h / T tokens"


def table() -> str:
    """The anchors as a markdown table: run, published, predicted, error, role (docs/training.md)."""
    rows = ["| run | published | predicted | error | role |", "|---|---|---|---|---|"]
    for a in ANCHORS:
        p = predict(a)
        miss = " (miss)" if abs(p.error(a)) > TOLERANCE else ""
        rows.append(f"| {a.run} | {_figure(a.metric, a.published)} | {_figure(a.metric, p.value)} | "
                    f"{p.error(a):+.1%} | {a.role}{miss} |")
    return "\n".join(rows)


FREE_RUNS = ("Llama 3 405B, 16,384 H100, TP8 PP16", "DeepSeek-V3, 2,048")
"""The anchors whose job the issue asks the planner to lay out itself (`free_table`)."""


def free_table() -> str:
    """The planner's own best layout for the `FREE_RUNS` jobs against the published figure (markdown)."""
    rows = ["| job | published | planner's layout | predicted | error |", "|---|---|---|---|---|"]
    for a in (a for a in ANCHORS if a.run.startswith(FREE_RUNS)):
        p = predict_free(a)
        rows.append(f"| {a.run} | {_figure(a.metric, a.published)} | {p.plan.layout()} vpp {p.plan.vpp} "
                    f"{p.plan.recompute} | {_figure(a.metric, p.value)} | {p.error(a):+.1%} |")
    return "\n".join(rows)
