"""Training jobs: the workload (what is trained) and the plan (how one job is laid out).

A training job is ONE job. Its plan lays the model out over ``tp x cp x pp`` GPUs (one
data-parallel *replica*) and copies that replica ``dp`` times, so the job uses
``tp * cp * pp * dp`` GPUs. Each optimiser step consumes the global batch of
``global_batch_sequences`` sequences of ``sequence_tokens`` tokens: every replica takes
``global_batch / dp`` of them in ``num_micro_batches = global_batch / (dp * micro_batch)``
micro-batches, which is why the global batch must divide by ``dp * micro_batch``. The global
batch is a property of the optimisation (it sets the learning dynamics), never a knob the
planner turns; the planner picks the layout and the dp degree that best fit the GPU budget.

Optimiser state, per parameter (mixed-precision Adam, Rajbhandari et al. 2020, "ZeRO: Memory
Optimizations Toward Training Trillion Parameter Models", arXiv 1910.02054, section 3.1):
bf16 working weights (2 bytes) + bf16 gradients (2) + fp32 master weights, momentum and
variance (4 + 4 + 4 = 12, the paper's K = 12): "16 Psi" bytes in all. Megatron-LM keeps its
gradient accumulation buffer in fp32 (4 bytes); ``adam-fp32-grads`` models that (18 bytes).
"""

from __future__ import annotations

from dataclasses import asdict, fields

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from planner.errors import InputError
from planner.serving.plan import take_rows
from specbase.record import record

RECOMPUTE_MODES: tuple[str, ...] = ("none", "selective", "full")
"""Activation recomputation (Korthikanti et al. 2022, arXiv 2205.05198): none stores every
activation; selective recomputes the attention core (scores, softmax, weighted values), as
FlashAttention does in its backward pass, and the FLOP-free elementwise outputs that feed GEMMs
(norms, the MLP activation; DeepSeek-V3 arXiv 2412.19437 section 3.2.3); full stores only each
layer's input and reruns the layer's forward pass during the backward pass."""

ZERO_STAGES: tuple[int, ...] = (0, 1, 2, 3)
"""ZeRO stages (arXiv 1910.02054): 0 plain data parallel; 1 shards optimiser states; 2 also
gradients; 3 also weights (PyTorch FSDP full sharding)."""

PRECISIONS: tuple[str, ...] = ("bf16", "fp8")
"""Compute precision of the linear layers' matrix products. fp8 runs the GEMMs in FP8
(Transformer Engine); attention, weights kept for the optimiser and collectives stay bf16."""

LAYOUT_AXES: tuple[str, ...] = ("tp", "cp", "pp", "ep", "dp")
"""The parallel degrees of a layout in the order its compact text lists them (``TPxCPxPPxEPxDP``)."""


@record
class OptimiserSpec:
    """Bytes per parameter an optimiser keeps, before any sharding.

    Attributes:
        name: as typed on the command line.
        weight_bytes_per_param: working (compute) copy of the weights.
        grad_bytes_per_param: gradient (accumulation) buffer; also the bytes per gradient
            element that data-parallel collectives move.
        state_bytes_per_param: fp32 master weights plus optimiser moments.
        source: where the split comes from.
    """

    name: str
    weight_bytes_per_param: float
    grad_bytes_per_param: float
    state_bytes_per_param: float
    source: str

    @property
    def bytes_per_param(self) -> float:
        """All model-state bytes per parameter (16 for mixed-precision Adam)."""
        return self.weight_bytes_per_param + self.grad_bytes_per_param + self.state_bytes_per_param

    @property
    def update_bytes_per_param(self) -> float:
        """HBM bytes the optimiser step moves per parameter it updates.

        A fused Adam step reads the gradient and the fp32 state (master, m, v), writes the
        state back and writes the new bf16 working weights: ``g + 2 x state + w``
        (2 + 24 + 2 = 28 bytes for mixed-precision Adam).
        """
        return self.grad_bytes_per_param + 2.0 * self.state_bytes_per_param + self.weight_bytes_per_param


OPTIMISERS: dict[str, OptimiserSpec] = {
    "adam": OptimiserSpec("adam", 2.0, 2.0, 12.0,
                          "arXiv 1910.02054 section 3.1: 2 (bf16 weights) + 2 (bf16 grads) + 12 "
                          "(fp32 master, momentum, variance) = 16 bytes per parameter"),
    "adam-fp32-grads": OptimiserSpec("adam-fp32-grads", 2.0, 4.0, 12.0,
                                     "Megatron-LM distributed optimizer (docs/source/api-guide/"
                                     "dist_optimizer.md): fp32 gradient buffer, 2 + 4 + 12 = 18 bytes"),
    "adam-bf16-moments": OptimiserSpec("adam-bf16-moments", 2.0, 4.0, 8.0,
                                       "DeepSeek-V3, arXiv 2412.19437 section 3.3.3: AdamW moments in BF16 "
                                       "(2 + 2), fp32 master weights (4) and fp32 gradients (4), bf16 "
                                       "working weights (2): 2 + 4 + 8 = 14 bytes"),
    "sgd-momentum": OptimiserSpec("sgd-momentum", 2.0, 2.0, 8.0,
                                  "mixed-precision SGD with momentum: fp32 master + momentum = 8 bytes of "
                                  "state (arXiv 1910.02054 section 3.1's K = 8 analogue of Adam's 12)"),
}


def optimiser(name: str) -> OptimiserSpec:
    """Look an optimiser up by name, case-insensitively."""
    key = name.strip().lower()
    if key not in OPTIMISERS:
        raise InputError(f"unknown optimiser '{name}'; choose one of: {', '.join(OPTIMISERS)}")
    return OPTIMISERS[key]


# Megatron-LM --overlap-grad-reduce / --overlap-param-gather and PyTorch DDP/FSDP bucketing
# launch each bucket's collective as soon as its gradients (weights) are ready, so the
# collective hides behind the backward (forward) pass it runs next to. 1.0: it hides fully
# whenever that pass is long enough (Li et al. 2020, "PyTorch Distributed", arXiv 2006.15704).
DEFAULT_DP_OVERLAP_FRACTION = 1.0
# Tensor-parallel collectives sit between dependent GEMMs: without userbuffer/TP-comm
# overlap kernels they run exposed (Korthikanti et al. 2022 section 4.2.2 counts them so).
DEFAULT_TP_OVERLAP_FRACTION = 0.0
# Expert all-to-alls of one micro-batch run while another micro-batch computes (DeepSeek-V3's
# DualPipe, arXiv 2412.19437 section 3.2.1; Megatron-Core's 1F1B all-to-all overlap): 1.0 hides
# them fully wherever the other micro-batch's compute is long enough.
DEFAULT_EP_OVERLAP_FRACTION = 1.0
# Per-GPU step-time jitter (coefficient of variation): every optimiser step waits for the slowest
# of N GPUs, whose expected excess over the mean is about ``cv x sqrt(2 ln N)`` standard
# deviations for N independent normal step times (the Gumbel limit of the largest of N normals,
# David & Nagaraja, "Order Statistics", 3rd ed., section 10.5). The 0.047 is fitted to ONE
# anchor, Meta's 8,192-GPU Llama 3 405B run (arXiv 2407.21783 Table 4, 43 % MFU); no published
# per-GPU variation figure was at hand. It is used for no other anchor (docs/training.md). Refitted
# from 0.055 when the linear layers moved onto the measured GEMM curve (BF16 on H100: 761.5 TFLOP/s,
# not 0.8 x 989 = 791): the run's compute grew 3.7 %, so less of its step is left to the stragglers.
DEFAULT_JITTER_CV = 0.047


class TrainingWorkload(BaseModel):
    """What one training job trains on.

    Attributes:
        global_batch_sequences: sequences per optimiser step (all replicas together).
        sequence_tokens: tokens per sequence.
        optimiser: a name of `OPTIMISERS`.
        tokens_to_train: tokens the whole run consumes (optional; gives time to train).
        dp_overlap_fraction: share of data-parallel collective time that may hide behind the
            backward (forward) pass running next to it; the rest is exposed.
        tp_overlap_fraction: share of tensor-parallel collective time hidden behind GEMMs.
        ep_overlap_fraction: share of expert all-to-all time hidden behind another
            micro-batch's compute (DualPipe-style scheduling; needs two micro-batches).
        jitter_cv: per-GPU step-time coefficient of variation (the straggler factor).
        stage_trim_layers: layers taken off each of the first and the last pipeline stage
            (given to the middle stages) to balance the embedding and the LM head (Llama 3
            removed one, arXiv 2407.21783 section 3.3.2).
        ep_node_limit: node-limited routing: each token reaches at most this many servers
            (DeepSeek-V3: 4, arXiv 2412.19437 section 2.1.2); ``None``: unlimited.
        fp8_activation_cache: FP8 layouts cache the MoE SwiGLU inputs in FP8 and the attention
            output in E5M6 (DeepSeek-V3, arXiv 2412.19437 section 3.3.3); off: bf16, as Transformer
            Engine keeps them.
        offload_layers: layers of each pipeline stage whose stored activations are copied to host memory
            in the forward pass and back for the backward (Megatron-Core's ``cpu_offloading_num_layers``;
            one layer always stays on the GPU).
        mtp_modules: multi-token-prediction modules, each one more layer and one more LM-head pass on the
            stage that runs the head (DeepSeek-V3: 1, arXiv 2412.19437 section 2.2); 0: none.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    global_batch_sequences: int = Field(ge=1)
    sequence_tokens: int = Field(ge=1)
    optimiser: str = "adam"
    tokens_to_train: float | None = Field(default=None, gt=0)
    dp_overlap_fraction: float = Field(default=DEFAULT_DP_OVERLAP_FRACTION, ge=0, le=1)
    tp_overlap_fraction: float = Field(default=DEFAULT_TP_OVERLAP_FRACTION, ge=0, le=1)
    ep_overlap_fraction: float = Field(default=DEFAULT_EP_OVERLAP_FRACTION, ge=0, le=1)
    jitter_cv: float = Field(default=DEFAULT_JITTER_CV, ge=0, le=1)
    stage_trim_layers: int = Field(default=0, ge=0)
    ep_node_limit: int | None = Field(default=None, ge=1)
    fp8_activation_cache: bool = False
    offload_layers: int = Field(default=0, ge=0)
    mtp_modules: int = Field(default=0, ge=0)

    @field_validator("optimiser")
    @classmethod
    def _known_optimiser(cls, name: str) -> str:
        key = name.strip().lower()
        if key not in OPTIMISERS:
            raise ValueError(f"unknown optimiser '{name}'; choose one of: {', '.join(OPTIMISERS)}")
        return key

    @property
    def optimiser_spec(self) -> OptimiserSpec:
        """The optimiser's bytes per parameter."""
        return OPTIMISERS[self.optimiser]

    @property
    def tokens_per_step(self) -> int:
        """Tokens one optimiser step consumes: global batch x sequence length."""
        return self.global_batch_sequences * self.sequence_tokens

    def label(self) -> str:
        """Short text for tables, e.g. ``seq 8192 x 2048``."""
        return f"seq {self.sequence_tokens} x {self.global_batch_sequences}"


@record
class TrainingPlan:
    """One layout of a training job (see the module docstring).

    Attributes:
        tp: tensor-parallel degree (with sequence parallelism).
        pp: pipeline stages; vpp: virtual stages (interleaved 1F1B chunks) per GPU.
        cp: context-parallel degree (the sequence split over cp GPUs, ring attention).
        ep: expert-parallel degree, carved out of the ``tp * cp * dp`` GPUs of a stage.
        dp: data-parallel replicas.
        micro_batch: sequences per micro-batch per replica.
        recompute: one of `RECOMPUTE_MODES`; zero: one of `ZERO_STAGES`;
        precision: one of `PRECISIONS`.
    """

    tp: int = 1
    pp: int = 1
    vpp: int = 1
    cp: int = 1
    ep: int = 1
    dp: int = 1
    micro_batch: int = 1
    recompute: str = "selective"
    zero: int = 1
    precision: str = "bf16"

    @property
    def replica_gpus(self) -> int:
        """GPUs holding one model replica: ``tp * cp * pp``."""
        return self.tp * self.cp * self.pp

    @property
    def gpus(self) -> int:
        """GPUs of the job: ``tp * cp * pp * dp``."""
        return self.replica_gpus * self.dp

    def as_dict(self) -> dict:
        """The plan's decisions plus ``gpus`` (the JSON ``plan`` object)."""
        return {**asdict(self), "gpus": self.gpus}

    def layout(self) -> str:
        """Compact layout text: the degrees in ``LAYOUT_AXES`` order (``TPxCPxPPxEPxDP``), e.g. ``8x1x16x1x128``."""
        return "x".join(str(getattr(self, axis)) for axis in LAYOUT_AXES)


def _index(name: str, values: tuple[str, ...], what: str) -> int:
    key = str(name).strip().lower()
    if key not in values:
        raise InputError(f"unknown {what} '{name}'; choose one of: {', '.join(values)}")
    return values.index(key)


@record
class TrainingPlanArrays:
    """Many training plans as parallel int64 arrays (recompute and precision as indices)."""

    tp: np.ndarray
    pp: np.ndarray
    vpp: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    micro_batch: np.ndarray
    recompute: np.ndarray
    zero: np.ndarray
    precision: np.ndarray

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    @classmethod
    def from_plans(cls, plans: list[TrainingPlan]) -> TrainingPlanArrays:
        """Stack plans into arrays; unknown recompute or precision names raise ``InputError``."""
        cols = {f.name: np.array([getattr(p, f.name) for p in plans], dtype=np.int64)
                for f in fields(cls) if f.name not in ("recompute", "precision")}
        cols["recompute"] = np.array([_index(p.recompute, RECOMPUTE_MODES, "recompute mode") for p in plans],
                                     dtype=np.int64)
        cols["precision"] = np.array([_index(p.precision, PRECISIONS, "precision") for p in plans], dtype=np.int64)
        bad = [p.zero for p in plans if p.zero not in ZERO_STAGES]
        if bad:
            raise InputError(f"ZeRO stage {bad[0]} does not exist; choose one of: 0, 1, 2, 3")
        return cls(**cols)

    def take(self, index) -> TrainingPlanArrays:
        """Rows ``index`` (a mask or integer array)."""
        return take_rows(self, index)

    def plan(self, i: int) -> TrainingPlan:
        """Row ``i`` as a frozen `TrainingPlan` (integers rounded, indices named)."""
        ints = {f.name: int(getattr(self, f.name)[i]) for f in fields(self) if f.name not in ("recompute", "precision")}
        return TrainingPlan(**ints, recompute=RECOMPUTE_MODES[int(self.recompute[i])],
                            precision=PRECISIONS[int(self.precision[i])])
