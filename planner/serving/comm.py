"""Communication of one decode micro-batch on one pipeline stage, per GPU, by fabric tier.

Placement: an instance occupies consecutive GPUs, tensor-parallel ranks innermost, then
attention-DP groups, then pipeline stages. A collective over ``n`` consecutive GPUs runs on
the slowest tier its span crosses: inside a server, across servers of a rack, across racks
(``Hardware.tier_for_span``).

Collectives (activations in bf16):

* Attention (every layer) and dense FFN (dense layers) outputs: ring all-reduce over ``tp``
  of the group's tokens, ``2 (n-1)/n x message`` bytes sent per GPU.
* MoE layers with ``ep > 1``: dispatch and combine all-to-all over the stage's ``tp * dp``
  GPUs; each GPU sends its ``T / (tp dp)`` tokens' hidden vectors to ``k`` experts, of which
  ``(ep - 1) / ep`` live elsewhere.
* MoE layers with ``moe_tp > 1``: all-reduce of the expert outputs inside each expert's
  tensor-parallel group (``T`` tokens when ``ep == 1``, ``T k / ep`` token-expert pairs otherwise).
* Pipeline: each stage hands its micro-batch's hidden vectors to the next (``1 / tp`` each).

Latency: a collective over ``n`` GPUs costs ``log2 n`` rounds of its tier's per-message
latency (a tree or recursive-doubling all-reduce takes ``log2 n`` rounds; a one-shot kernel
waits on ``n - 1`` peers), times the engine's ``comm_latency_scale`` (how fast its collective
kernels are: custom one-shot all-reduce vs NCCL); a pipeline hand-off is one message. Decode
messages are small, so this term dominates them; the catalogue's latency is an observed
per-message cost (aiconfigurator's ``p2p_latency``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.engine.rates import Rates
from planner.serving.roofline import ACTIVATION_BYTES, Layout
from planner.serving.shape import ModelShape

NUM_TIERS = 3


@dataclass(frozen=True)
class Comm:
    """Per-GPU traffic of one micro-batch on one stage.

    Attributes:
        bytes_by_tier: shape (3, rows): bytes sent per GPU on each tier.
        time_s: communication time (bandwidth plus latency terms, all tiers in sequence).
    """

    bytes_by_tier: np.ndarray
    time_s: np.ndarray


def tier_of_span(span: np.ndarray, gpus_per_server: int, gpus_per_rack: int) -> np.ndarray:
    """Tier index (0 intra-server, 1 inter-server, 2 inter-rack) of a group spanning ``span`` GPUs."""
    return (span > gpus_per_server).astype(np.int64) + (span > gpus_per_rack).astype(np.int64)


def comm(shape: ModelShape, lay: Layout, r: Rates, gpus_per_server: int, gpus_per_rack: int) -> Comm:
    """Traffic and time of the collectives of one micro-batch on one stage."""
    rows = lay.tp.shape[0]
    volume = np.zeros((NUM_TIERS, rows))
    latency = np.zeros((NUM_TIERS, rows))
    hidden_bytes = shape.hidden_size * ACTIVATION_BYTES

    # Masks multiply (x * on) rather than select (np.where): the terms are finite, so the
    # results are identical, and a product is about twice as fast over a million rows.
    def add(span, sent_bytes, messages, collective=True):
        if collective:  # log2 n latency rounds (module docstring)
            messages = messages * np.log2(np.maximum(span, 2.0))
        beyond_server = span > gpus_per_server
        if not beyond_server.any():  # the common case: every group inside one server
            volume[0] += sent_bytes
            latency[0] += messages
            return
        beyond_rack = span > gpus_per_rack
        for t, on in enumerate((~beyond_server, beyond_server & ~beyond_rack, beyond_rack)):
            volume[t] += sent_bytes * on
            latency[t] += messages * on

    # Attention and dense-FFN all-reduce over tp.
    n_allreduce = lay.stage_layers + lay.dense_layers
    message = lay.group_tokens * hidden_bytes
    active = lay.tp > 1
    add(lay.tp, 2.0 * (lay.tp - 1) / lay.tp * message * n_allreduce * active, n_allreduce * active)

    if shape.num_moe_layers:
        # Expert-parallel dispatch + combine.
        ep_on = lay.ep > 1
        sent = lay.micro_tokens / lay.stage_gpus * shape.top_k * hidden_bytes * 2.0 * (lay.ep - 1) / lay.ep
        add(lay.stage_gpus, sent * lay.moe_layers * ep_on, 2.0 * lay.moe_layers * ep_on)
        # Expert tensor-parallel all-reduce.
        mt_on = lay.moe_tp > 1
        pairs = np.where(ep_on, lay.micro_tokens * shape.top_k / lay.ep, lay.micro_tokens)
        msg = pairs * hidden_bytes
        add(lay.moe_tp, 2.0 * (lay.moe_tp - 1) / lay.moe_tp * msg * lay.moe_layers * mt_on, lay.moe_layers * mt_on)

    # Pipeline hand-off to the next stage.
    pp_on = lay.pp > 1
    add(2.0 * lay.stage_gpus, lay.group_tokens * hidden_bytes / lay.tp * pp_on, pp_on.astype(float), collective=False)

    time = (volume / r.fabric_bytes_per_s[:, None] + latency * r.fabric_latency_s[:, None]).sum(axis=0)
    return Comm(bytes_by_tier=volume, time_s=time)
