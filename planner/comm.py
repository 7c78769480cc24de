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

Latency: every collective costs one per-message latency of its tier (decode messages are
small, so engines use one-shot all-reduce and direct all-to-all kernels; the catalogue's
latency is an observed per-collective cost, aiconfigurator's ``p2p_latency``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.rates import Rates
from planner.roofline import ACTIVATION_BYTES, Layout
from planner.shape import ModelShape

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

    def add(span, sent_bytes, messages):
        tier = tier_of_span(span, gpus_per_server, gpus_per_rack)
        for t in range(NUM_TIERS):
            on = tier == t
            volume[t] += np.where(on, sent_bytes, 0.0)
            latency[t] += np.where(on, messages, 0.0)

    # Attention and dense-FFN all-reduce over tp.
    n_allreduce = lay.stage_layers + lay.dense_layers
    message = lay.group_tokens * hidden_bytes
    active = lay.tp > 1
    add(lay.tp, np.where(active, 2.0 * (lay.tp - 1) / lay.tp * message * n_allreduce, 0.0),
        np.where(active, n_allreduce, 0.0))

    if shape.num_moe_layers:
        # Expert-parallel dispatch + combine.
        ep_on = lay.ep > 1
        sent = lay.micro_tokens / lay.stage_gpus * shape.top_k * hidden_bytes * 2.0 * (lay.ep - 1) / lay.ep
        add(lay.stage_gpus, np.where(ep_on, sent * lay.moe_layers, 0.0), np.where(ep_on, 2.0 * lay.moe_layers, 0.0))
        # Expert tensor-parallel all-reduce.
        mt_on = lay.moe_tp > 1
        pairs = np.where(ep_on, lay.micro_tokens * shape.top_k / lay.ep, lay.micro_tokens)
        msg = pairs * hidden_bytes
        add(lay.moe_tp, np.where(mt_on, 2.0 * (lay.moe_tp - 1) / lay.moe_tp * msg * lay.moe_layers, 0.0),
            np.where(mt_on, lay.moe_layers, 0.0))

    # Pipeline hand-off to the next stage.
    pp_on = lay.pp > 1
    add(2.0 * lay.stage_gpus, np.where(pp_on, lay.group_tokens * hidden_bytes / lay.tp, 0.0), np.where(pp_on, 1.0, 0.0))

    time = (volume / r.fabric_bytes_per_s[:, None] + latency * r.fabric_latency_s[:, None]).sum(axis=0)
    return Comm(bytes_by_tier=volume, time_s=time)
