"""Communication of one decode micro-batch on one pipeline stage, per GPU, by fabric tier.

Placement: an instance occupies consecutive GPUs, tensor-parallel ranks innermost, then
attention-DP groups, then pipeline stages. A collective over ``n`` consecutive GPUs runs on
the slowest tier its span crosses: inside a server, across servers of a rack, across racks
(``Hardware.tier_for_span``).

Collectives (activations in bf16), costed by ``planner.engine.collectives`` (bytes per GPU
and latency rounds per kind, the same function training uses):

* Attention (every layer) and dense FFN (dense layers) outputs: all-reduce over ``tp``
  of the group's tokens, ``2 (n-1)/n x message`` bytes sent per GPU.
* MoE layers with ``ep > 1``: dispatch and combine all-to-all over the stage's ``tp * dp``
  GPUs; each GPU sends its ``T / (tp dp)`` tokens' hidden vectors to ``k`` experts, of which
  ``(ep - 1) / ep`` live elsewhere.
* MoE layers with ``moe_tp > 1``: all-reduce of the expert outputs inside each expert's
  tensor-parallel group (``T`` tokens when ``ep == 1``, ``T k / ep`` token-expert pairs otherwise).
* Pipeline: each stage hands its micro-batch's hidden vectors to the next (``1 / tp`` each).

Latency: decode uses the ``TREE`` latency model, a collective over ``n`` GPUs costs ``log2 n``
rounds of its tier's per-message latency (a tree or recursive-doubling all-reduce takes
``log2 n`` rounds; a one-shot kernel waits on ``n - 1`` peers), times the engine's
``comm_latency_scale`` (how fast its collective kernels are: custom one-shot all-reduce vs
NCCL); a pipeline hand-off is one message. Decode messages are small, so this term dominates
them; the catalogue's latency is an observed per-message cost (aiconfigurator's ``p2p_latency``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.engine.activations import ACTIVATION_BYTES
from planner.engine.collectives import ALL_REDUCE, ALL_TO_ALL, NUM_TIERS, P2P, TREE, CollectiveCost, collective_cost
from planner.engine.rates import Rates
from planner.serving.roofline import Layout
from planner.serving.shape import ModelShape


@dataclass(frozen=True)
class Comm:
    """Per-GPU traffic of one micro-batch on one stage.

    Attributes:
        bytes_by_tier: shape (3, rows): bytes sent per GPU on each tier.
        time_s: communication time (bandwidth plus latency terms, all tiers in sequence).
    """

    bytes_by_tier: np.ndarray
    time_s: np.ndarray


def comm(shape: ModelShape, lay: Layout, r: Rates, gpus_per_server: int, gpus_per_rack: int) -> Comm:
    """Traffic and time of the collectives of one micro-batch on one stage."""
    rows = lay.tp.shape[0]
    volume = np.zeros((NUM_TIERS, rows))
    latency = np.zeros((NUM_TIERS, rows))
    hidden_bytes = shape.hidden_size * ACTIVATION_BYTES

    # Masks multiply (x * on) rather than select (np.where): the terms are finite, so the
    # results are identical, and a product is about twice as fast over a million rows.
    def add(span, cost: CollectiveCost):
        beyond_server = span > gpus_per_server
        if not beyond_server.any():  # the common case: every group inside one server
            volume[0] += cost.sent_bytes
            latency[0] += cost.rounds
            return
        beyond_rack = span > gpus_per_rack
        for t, on in enumerate((~beyond_server, beyond_server & ~beyond_rack, beyond_rack)):
            volume[t] += cost.sent_bytes * on
            latency[t] += cost.rounds * on

    # Attention and dense-FFN all-reduce over tp.
    n_allreduce = lay.stage_layers + lay.dense_layers
    add(lay.tp, collective_cost(ALL_REDUCE, lay.tp, lay.group_tokens * hidden_bytes, TREE,
                                calls=n_allreduce * (lay.tp > 1)))

    if shape.num_moe_layers:
        # Expert-parallel dispatch + combine over the stage's GPUs, (ep - 1) / ep of it remote.
        ep_on = lay.ep > 1
        share = lay.micro_tokens / lay.stage_gpus * shape.top_k * hidden_bytes
        add(lay.stage_gpus, collective_cost(ALL_TO_ALL, lay.stage_gpus, share, TREE, calls=2.0 * lay.moe_layers * ep_on,
                                            destinations=lay.ep))
        # Expert tensor-parallel all-reduce.
        pairs = np.where(ep_on, lay.micro_tokens * shape.top_k / lay.ep, lay.micro_tokens)
        add(lay.moe_tp, collective_cost(ALL_REDUCE, lay.moe_tp, pairs * hidden_bytes, TREE,
                                        calls=lay.moe_layers * (lay.moe_tp > 1)))

    # Pipeline hand-off to the next stage (its span reaches into the next stage's GPUs).
    add(2.0 * lay.stage_gpus, collective_cost(P2P, 2.0, lay.group_tokens * hidden_bytes / lay.tp, TREE,
                                              calls=(lay.pp > 1).astype(float)))

    time = CollectiveCost(volume, latency).time_s(r.fabric_bytes_per_s[:, None], r.fabric_latency_s[:, None])
    return Comm(bytes_by_tier=volume, time_s=time.sum(axis=0))
