"""Training communication per GPU, by fabric tier: per micro-batch and per optimiser step.

Each group runs on the slowest tier its span crosses (``planner.engine.collectives.tier_of_span``;
spans from ``planner.training.parallel.tier_span_gpus``). Collectives are costed by
``planner.engine.collectives`` (the function serving uses) with its ``RING`` latency model, NCCL's
choice for large messages: over ``n`` GPUs an all-gather or reduce-scatter moves ``(n - 1) / n``
of the message per GPU in ``n - 1`` steps of the tier's per-message latency, an all-reduce twice
both; an all-to-all and a point-to-point transfer wait one latency.

Per micro-batch, on the fullest pipeline stage (activations bf16, ``M = b S / cp x h x 2``
bytes for one micro-batch's hidden states of one CP shard):

* TP with sequence parallelism (Korthikanti et al. 2022, section 4.2.2): per layer, forward
  an all-gather and a reduce-scatter around attention and around the MLP, the same in the
  backward, again in a recomputed forward. MoE layers keep experts whole (expert TP 1), so
  only attention's pair is tensor-parallel there.
* CP (ring attention): per layer, each GPU passes its K/V chunk ``cp - 1`` times in the
  forward and K/V plus their gradients in the backward; it overlaps with attention compute.
* EP: per MoE layer, dispatch and combine all-to-alls in the forward and the backward; each
  GPU sends its ``b S / (tp cp)`` tokens to ``top_k`` experts, ``(ep - 1) / ep`` of them remote.
  FP8 training dispatches in FP8 and combines in BF16 (DeepSeek-V3, arXiv 2412.19437 section
  3.3.2). An EP group spanning ``n`` servers sends, per token and direction, one copy per
  remote expert over the scale-out tier, or with node-limited routing (each token reaches at
  most ``M`` servers, DeepSeek-V3 section 2.1.2) one copy per remote server, which NVLink then
  forwards to that server's experts (section 3.2.1): ``min(top_k, M) (n - 1) / n`` copies on the
  slower tier and ``top_k`` on NVLink.
* PP: each virtual stage sends its output forward and receives a gradient back:
  ``2 vpp`` transfers of ``M / tp`` (scatter-gather, Narayanan et al. 2021 section 4.1).

Data-parallel collectives (ZeRO, arXiv 1910.02054 section 7): stage 0 all-reduces gradients
once per step; stage 1 reduce-scatters gradients once and all-gathers updated weights once;
stage 2 must reduce-scatter every micro-batch (no full gradient buffer is kept) and
all-gathers weights once; stage 3 all-gathers weights before each forward and backward and
reduce-scatters gradients every micro-batch. Each is tagged with the pass it can hide behind.
"""

from __future__ import annotations

import numpy as np

from planner.engine.activations import ACTIVATION_BYTES
from planner.engine.collectives import (
    ALL_GATHER,
    ALL_REDUCE,
    NUM_TIERS,
    P2P,
    REDUCE_SCATTER,
    RING,
    CollectiveCost,
    collective_cost,
    tier_of_span,
)
from planner.training.parallel import tier_span_gpus
from planner.training.rates import TrainingRates
from planner.training.shape import TrainingShape
from planner.training.workload import OptimiserSpec
from specbase.record import record


@record
class TrainingComm:
    """Per-GPU traffic and unoverlapped times (arrays over rows; tier arrays shape (3, rows)).

    Attributes:
        micro_bytes_by_tier: bytes sent per micro-batch (TP, CP, EP, PP, per-micro-batch DP).
        step_bytes_by_tier: bytes sent once per optimiser step (once-per-step DP).
        tp_s, cp_s, ep_s, pp_s: per micro-batch.
        dp_micro_fwd_s, dp_micro_bwd_s: per micro-batch DP collectives beside the forward /
            backward pass (ZeRO 2 and 3).
        dp_step_fwd_s, dp_step_bwd_s: once per step, beside the first forward (weight
            all-gather) / the last backward (gradient reduction).
    """

    micro_bytes_by_tier: np.ndarray
    step_bytes_by_tier: np.ndarray
    tp_s: np.ndarray
    cp_s: np.ndarray
    ep_s: np.ndarray
    pp_s: np.ndarray
    dp_micro_fwd_s: np.ndarray
    dp_micro_bwd_s: np.ndarray
    dp_step_fwd_s: np.ndarray
    dp_step_bwd_s: np.ndarray


class _Ledger:
    """Accumulates bytes per group and returns the time of each transfer.

    A group's tier is fixed per row, so it is looked up once per group and the bytes of all
    its transfers are placed on the tiers in one pass (`bytes_by_tier`).
    """

    def __init__(self, r: TrainingRates, gpus_per_server: int, gpus_per_rack: int):
        self.r, self.gps, self.gpr = r, gpus_per_server, gpus_per_rack
        self.groups: dict[str, list] = {}

    def add(self, group: str, span, cost: CollectiveCost, on) -> np.ndarray:
        """Book ``cost`` on ``group``'s tier in the rows where ``on``; its time per row."""
        if group not in self.groups:
            tier = tier_of_span(np.asarray(span), self.gps, self.gpr)
            self.groups[group] = [tier, self.r.fabric_bytes_per_s[tier], self.r.fabric_latency_s[tier], 0.0]
        entry = self.groups[group]
        booked = CollectiveCost(np.where(on, cost.sent_bytes, 0.0), np.where(on, cost.rounds, 0.0))
        entry[3] = entry[3] + booked.sent_bytes
        return booked.time_s(entry[1], entry[2])

    def bytes_by_tier(self, rows: int) -> np.ndarray:
        out = np.zeros((NUM_TIERS, rows))
        index = np.arange(rows)
        for tier, _, _, sent in self.groups.values():
            out[tier, index] += np.broadcast_to(sent, (rows,))
        return out


def training_comm(shape: TrainingShape, optimiser: OptimiserSpec, r: TrainingRates, gpus_per_server: int,
                  gpus_per_rack: int, tp, pp, vpp, cp, ep, dp, micro_batch, recompute, zero, layers,
                  dense_params, expert_params, precision_fp8=False, node_limit: int | None = None) -> TrainingComm:
    """Traffic and unoverlapped times of one pipeline stage in every row.

    ``layers`` are the stage's layers, ``dense_params`` and ``expert_params`` what one of its
    GPUs holds before data-parallel sharding; ``recompute`` is an index (0 none, 1 selective,
    2 full).
    """
    tp, pp, vpp, cp, ep, dp, mb, rc, z = (np.asarray(a, dtype=float)
                                          for a in (tp, pp, vpp, cp, ep, dp, micro_batch, recompute, zero))
    rows = tp.shape[0]
    span = tier_span_gpus(tp, cp, dp, ep)
    micro, step = _Ledger(r, gpus_per_server, gpus_per_rack), _Ledger(r, gpus_per_server, gpus_per_rack)
    layers = np.asarray(layers, dtype=float)
    moe_layers = layers * shape.moe_layer_fraction
    dense_layers = layers - moe_layers
    passes = np.where(rc == 2, 3.0, 2.0)  # forward, backward, and a recomputed forward
    hidden_bytes = mb * shape.sequence_tokens / cp * shape.hidden_size * ACTIVATION_BYTES  # M

    # Tensor parallel (sequence parallel): AG + RS around attention and around dense MLPs (the
    # two cost the same, so all are booked as all-gathers).
    per_pass = 4.0 * dense_layers + 2.0 * moe_layers
    tp_s = micro.add("tp", span["tp"], collective_cost(ALL_GATHER, tp, hidden_bytes, RING, calls=passes * per_pass),
                     tp > 1)

    # Context parallel ring: K/V chunk forward (cp - 1 times), K/V + gradients backward.
    kv_heads_per_gpu = shape.kv_heads / np.minimum(tp, shape.kv_heads)
    chunk = mb * shape.sequence_tokens / cp * kv_heads_per_gpu * (shape.qk_head_dim + shape.v_head_dim) \
        * ACTIVATION_BYTES
    cp_passes = np.where(rc == 2, 4.0, 3.0)
    cp_s = micro.add("cp", span["cp"], collective_cost(P2P, cp, chunk, RING, calls=cp_passes * (cp - 1) * layers),
                     cp > 1)

    # Expert parallel all-to-alls: dispatch + combine per pass.
    tokens_gpu = mb * shape.sequence_tokens / (tp * cp)
    ep_on = (ep > 1) & (shape.num_moe_layers > 0)
    pair_bytes = np.where(np.asarray(precision_fp8, bool), 1.0, ACTIVATION_BYTES) + ACTIVATION_BYTES
    calls = passes * moe_layers
    servers = np.maximum(ep / gpus_per_server, 1.0)
    local = (gpus_per_server - 1.0) / gpus_per_server
    if node_limit is None:  # each copy goes straight to its expert's GPU
        across = shape.top_k * (servers - 1.0) / servers
        within = shape.top_k * np.where(servers > 1, local / servers, (ep - 1.0) / ep)
    else:  # one copy per remote server, forwarded over NVLink to its experts
        across = min(shape.top_k, node_limit) * (servers - 1.0) / servers
        within = shape.top_k * np.where(servers > 1, local, (ep - 1.0) / ep)
    half = tokens_gpu * shape.hidden_size * pair_bytes / 2.0  # one copy of each token, per call
    ep_s = micro.add("ep", span["ep"], collective_cost(P2P, ep, across * half, RING, calls=2.0 * calls),
                     ep_on & (servers > 1)) \
        + micro.add("ep_intra", np.minimum(span["ep"], gpus_per_server),
                    collective_cost(P2P, ep, within * half, RING, calls=2.0 * calls), ep_on)

    # Pipeline: one activation forward and one gradient back per virtual stage.
    pp_s = micro.add("pp", span["pp"], collective_cost(P2P, 2.0, hidden_bytes / tp, RING, calls=2.0 * vpp), pp > 1)

    # Data parallel: dense states over dp * cp GPUs, expert states over tp * cp * dp / ep.
    g, w = optimiser.grad_bytes_per_param, optimiser.weight_bytes_per_param

    def collective(ledger: _Ledger, kind: str, bytes_per_param: float, on, calls=1.0) -> np.ndarray:
        # ``calls`` collectives (one per layer for ZeRO-3) each move 1 / calls of the states.
        total = np.zeros(rows)
        for params, members in ((dense_params, dp * cp), (expert_params, tp * cp * dp / ep)):
            p = np.asarray(params, dtype=float)
            cost = collective_cost(kind, members, p * bytes_per_param / calls, RING, calls=calls)
            total = total + ledger.add("dp", span["dp"], cost, on & (members > 1) & (p > 0))
        return total

    per_layer = np.maximum(layers, 1.0)  # ZeRO-3 gathers one layer at a time
    step_bwd = collective(step, ALL_REDUCE, g, z == 0) + collective(step, REDUCE_SCATTER, g, z == 1)
    step_fwd = collective(step, ALL_GATHER, w, (z == 1) | (z == 2))
    micro_bwd = collective(micro, REDUCE_SCATTER, g, z == 2) + collective(micro, REDUCE_SCATTER, g, z == 3, per_layer) \
        + collective(micro, ALL_GATHER, w, z == 3, per_layer)
    micro_fwd = collective(micro, ALL_GATHER, w, z == 3, per_layer)
    return TrainingComm(micro_bytes_by_tier=micro.bytes_by_tier(rows), step_bytes_by_tier=step.bytes_by_tier(rows),
                        tp_s=tp_s, cp_s=cp_s,
                        ep_s=ep_s, pp_s=pp_s, dp_micro_fwd_s=micro_fwd, dp_micro_bwd_s=micro_bwd,
                        dp_step_fwd_s=step_fwd, dp_step_bwd_s=step_bwd)
