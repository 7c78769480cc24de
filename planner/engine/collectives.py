"""Collective cost: bytes one GPU sends and latency rounds it waits, for serving and training alike.

One alpha-beta (Hockney) model serves both cost models: a collective over ``n`` GPUs costs
``rounds x latency + sent_bytes / bandwidth`` on the fabric tier its group spans
(:func:`tier_of_span`), with the tier's achievable per-GPU bandwidth and per-message latency
(``planner.engine.rates`` and ``planner.training.rates``).

Bytes sent per GPU, as a multiple of the message (the buffer one GPU contributes or receives),
are the bus-bandwidth factors of nccl-tests (NVIDIA/nccl-tests ``doc/PERFORMANCE.md``), which
the ring and the bandwidth-optimal tree-shaped algorithms both reach (Thakur, Rabenseifner and
Gropp 2005, "Optimization of Collective Communication Operations in MPICH", IJHPCA 19(1)):

* all-reduce: ``2 (n - 1) / n`` (a reduce-scatter then an all-gather);
* all-gather, reduce-scatter: ``(n - 1) / n``;
* all-to-all: ``(d - 1) / d``, ``d`` the ranks the buffer is spread over (``n`` unless the
  caller says otherwise: a MoE dispatch spreads it over the ``ep`` expert shards);
* point-to-point (send/receive): ``1``.

Latency rounds per call depend on the algorithm:

* ``RING`` (NCCL's ring, the bandwidth-bound choice of large training messages; "Demystifying
  NCCL", arXiv 2507.04786, and Thakur et al.'s ring all-gather): ``n - 1`` steps for an
  all-gather or a reduce-scatter, ``2 (n - 1)`` for an all-reduce. NCCL expresses an
  all-to-all as a send and a receive to every peer fused in one group, whose calls progress
  independently (NCCL user guide, "Point-to-point communication"), so the exchanges overlap
  and wait one round.
* ``TREE`` (latency-bound decode messages): ``log2 n`` rounds for every collective, the depth
  of recursive doubling / halving for all-reduce, all-gather and reduce-scatter and of Bruck's
  all-to-all (Thakur et al. 2005), and of NCCL's trees; an engine's one-shot all-reduce waits
  on its ``n - 1`` peers at once, which its profile's ``comm_latency_scale`` absorbs.

A point-to-point transfer is one round under either algorithm.
"""

from __future__ import annotations

import numpy as np

from specbase.record import record

ALL_REDUCE = "all-reduce"
ALL_GATHER = "all-gather"
REDUCE_SCATTER = "reduce-scatter"
ALL_TO_ALL = "all-to-all"
P2P = "p2p"
KINDS = (ALL_REDUCE, ALL_GATHER, REDUCE_SCATTER, ALL_TO_ALL, P2P)

RING = "ring"
TREE = "tree"

# Tiers in ``hardware.specs.TIERS`` order: 0 inside a server, 1 across servers of a rack, 2 across racks.
NUM_TIERS = 3


def tier_of_span(span: np.ndarray, gpus_per_server: int, gpus_per_rack: int) -> np.ndarray:
    """Tier index (0 intra-server, 1 inter-server, 2 inter-rack) of a group spanning ``span`` GPUs."""
    return (span > gpus_per_server).astype(np.int64) + (span > gpus_per_rack).astype(np.int64)


@record
class CollectiveCost:
    """What one GPU pays for a collective (arrays over rows, or scalars).

    Attributes:
        sent_bytes: bytes the GPU sends.
        rounds: per-message latencies it waits in sequence.
    """

    sent_bytes: np.ndarray
    rounds: np.ndarray

    def time_s(self, bytes_per_s, latency_s) -> np.ndarray:
        """Seconds on a tier of ``bytes_per_s`` per GPU and ``latency_s`` per message (alpha-beta model)."""
        return self.sent_bytes / bytes_per_s + self.rounds * latency_s


def bandwidth_factor(kind: str, n, destinations=None):
    """Bytes sent per GPU per byte of message (module docstring; nccl-tests' bus-bandwidth factors)."""
    if kind == ALL_REDUCE:
        return 2.0 * (n - 1) / n
    if kind in (ALL_GATHER, REDUCE_SCATTER):
        return (n - 1) / n
    if kind == ALL_TO_ALL:
        d = n if destinations is None else destinations
        return (d - 1) / d
    if kind == P2P:
        return 1.0
    raise ValueError(f"unknown collective '{kind}'; one of {', '.join(KINDS)}")


def latency_rounds(kind: str, n, algorithm: str):
    """Per-message latencies one call waits (module docstring): ring steps or tree depth."""
    if kind == P2P:
        return 1.0
    if algorithm == TREE:
        return np.log2(np.maximum(n, 1.0))  # a group of one waits for nobody
    if algorithm != RING:
        raise ValueError(f"unknown algorithm '{algorithm}'; one of {RING}, {TREE}")
    if kind == ALL_REDUCE:
        return 2.0 * (n - 1)
    if kind in (ALL_GATHER, REDUCE_SCATTER):
        return n - 1
    if kind == ALL_TO_ALL:
        return np.minimum(n - 1, 1.0)  # one round whenever there are peers
    raise ValueError(f"unknown collective '{kind}'; one of {', '.join(KINDS)}")


def collective_cost(kind: str, n, message_bytes, algorithm: str, calls=1.0, destinations=None) -> CollectiveCost:
    """Bytes sent and latency rounds of ``calls`` collectives of ``kind`` over ``n`` GPUs.

    Args:
        kind: one of ``KINDS``.
        n: GPUs in the group (sets the latency rounds, and the bandwidth factor unless
            ``destinations`` is given).
        message_bytes: the buffer of one call (each GPU's share for an all-to-all).
        algorithm: ``RING`` or ``TREE`` (module docstring).
        calls: how many such collectives run one after another (0 where a row has none).
        destinations: all-to-all only: ranks the buffer is spread over (default ``n``).

    E.g. a ring all-reduce of 1 MB over 8 GPUs sends ``2 x 7 / 8 = 1.75`` MB per GPU in 14
    rounds; the tree variant waits 3 rounds.
    """
    return CollectiveCost(sent_bytes=bandwidth_factor(kind, n, destinations) * message_bytes * calls,
                          rounds=calls * latency_rounds(kind, n, algorithm))
