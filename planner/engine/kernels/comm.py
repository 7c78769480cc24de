"""Collective kernel curves: all-reduce and MoE all-to-all time from message size, group size and tier.

Fitted per (engine, GPU) to the engines' measured collective kernels (``calibration/kernels/``,
``planner.calibration.kernel_fits.comm``); the planner evaluates these closed forms, never the tables.

* **All-reduce** of a ``message`` of bytes over ``n`` GPUs::

      t = floor + step x log2 n + 2 (n - 1) / n x message / (efficiency x link)

  A latency floor that grows gently with the group (one ``step`` per doubling: the depth of a
  tree or the fan-in of a one-shot kernel), then the bandwidth term at the volume of a ring or
  bandwidth-optimal tree (``planner.engine.collectives.bandwidth_factor``: a reduce-scatter and an
  all-gather, ``2 (n - 1) / n`` of the message sent per GPU), at ``efficiency <= 1`` of the tier's
  per-GPU, per-direction link rate.
* **All-to-all** (a MoE dispatch or combine) is ONE exchange, not ``log2 n`` rounds: every rank
  sends its ``share`` (its tokens' hidden vectors, x top-k) to the ``d`` ranks holding experts in
  parallel, ``(d - 1) / d`` of it remote::

      t = floor + step x log2 n + (d - 1) / d x share / (efficiency x link)

* **Point-to-point** (a pipeline hand-off): the all-to-all's floor and bandwidth, one message.

Tiers: a scale-up tier (NVLink, the tier the kernel tables measure: up to 8 GPUs of an HGX board
and up to 64 of an NVL72 rack) takes the fitted floor, step and efficiency on its own link rate. A
scale-out tier (InfiniBand, Ethernet: ``hardware/data/fabrics``) has no kernel rows: it takes the
catalogue's per-message latency as its floor, grown per doubling in the fitted proportion
(``step / floor``), and the catalogue's achievable bandwidth (``bytes_per_s x efficiency_fraction``);
transferred, not measured.

Parameters: ``planner/engine/data/kernels/comm.toml``, one table per (engine, GPU). The ``default``
engine takes the median of the engines' parameters on its GPU; a GPU without kernel rows (H800,
MI300X, MI325X, MI355X) takes the median over the measured GPUs of its engine (of all engines for
``default``), on its own fabric's link rate ("transferred").
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

import numpy as np

from hardware.specs import TIERS, Hardware
from planner.engine.kernels import tables


@dataclass(frozen=True)
class CommParams:
    """Fitted collective curves of one engine on one GPU (seconds, fractions of the link rate)."""

    allreduce_floor_s: float
    allreduce_step_s: float
    allreduce_efficiency: float
    alltoall_floor_s: float
    alltoall_step_s: float
    alltoall_efficiency: float
    measured: bool = True  # False: transferred (medians over the measured GPUs)


@dataclass(frozen=True)
class CommTiers:
    """The curves' parameters per fabric tier (arrays of 3, ``TIERS`` order)."""

    allreduce_floor_s: np.ndarray
    allreduce_step_s: np.ndarray
    allreduce_bytes_per_s: np.ndarray
    alltoall_floor_s: np.ndarray
    alltoall_step_s: np.ndarray
    alltoall_bytes_per_s: np.ndarray
    measured: bool


def allreduce_s(n, message_bytes, floor_s, step_s, bytes_per_s):
    """Seconds of one all-reduce of ``message_bytes`` over ``n`` GPUs (module docstring); 0 for n <= 1."""
    latency, per_byte = allreduce_parts(n, floor_s, step_s, bytes_per_s)
    return latency + per_byte * message_bytes


def alltoall_s(n, share_bytes, destinations, floor_s, step_s, bytes_per_s):
    """Seconds of one all-to-all exchange over ``n`` GPUs, ``share_bytes`` per rank spread over ``destinations``."""
    latency, per_byte = alltoall_parts(n, destinations, floor_s, step_s, bytes_per_s)
    return latency + per_byte * share_bytes


def p2p_s(message_bytes, floor_s, bytes_per_s):
    """Seconds of one point-to-point message (the all-to-all's floor and bandwidth)."""
    latency, per_byte = p2p_parts(floor_s, bytes_per_s)
    return latency + per_byte * message_bytes


# Each curve is a latency part (no message size changes it) plus seconds per byte of message: the
# functions above add them; a caller timing one group at many message sizes (the serving fixed point's
# rounds) takes the parts once.

def allreduce_parts(n, floor_s, step_s, bytes_per_s):
    """(latency, seconds per message byte) of :func:`allreduce_s`: ``floor + step log2 n`` and
    ``2 (n - 1) / n / link``; both 0 for n <= 1."""
    n = np.asarray(n, dtype=float)
    on = n > 1
    latency = floor_s + step_s * np.log2(np.maximum(n, 1.0))
    return np.where(on, latency, 0.0), np.where(on, 2.0 * (n - 1.0) / n / bytes_per_s, 0.0)


def alltoall_parts(n, destinations, floor_s, step_s, bytes_per_s):
    """(latency, seconds per byte of a rank's share) of :func:`alltoall_s`: ``floor + step log2 n`` and
    ``(d - 1) / d / link``; both 0 for ``destinations <= 1``."""
    d = np.asarray(destinations, dtype=float)
    on = d > 1
    latency = floor_s + step_s * np.log2(np.maximum(n, 1.0))
    return np.where(on, latency, 0.0), np.where(on, (d - 1.0) / d / bytes_per_s, 0.0)


def p2p_parts(floor_s, bytes_per_s):
    """(latency, seconds per message byte) of :func:`p2p_s`."""
    return floor_s, 1.0 / bytes_per_s


@cache
def params(engine: str, gpu: str) -> CommParams:
    """The fitted parameters of ``engine`` on ``gpu``: measured, the engines' median, or transferred
    (``planner.engine.kernels.tables.pool``)."""
    entries, measured = tables.pool(tables.read("comm"), engine, gpu)
    names = [f.name for f in fields(CommParams) if f.name != "measured"]
    return CommParams(**tables.median(entries, names), measured=measured)


def tiers(p: CommParams, hw: Hardware) -> CommTiers:
    """``p`` on ``hw``'s tiers: fitted on scale-up links, the catalogue's figures on scale-out (module docstring)."""
    rows = []
    ar_growth = p.allreduce_step_s / p.allreduce_floor_s if p.allreduce_floor_s > 0 else 0.0
    a2a_growth = p.alltoall_step_s / p.alltoall_floor_s if p.alltoall_floor_s > 0 else 0.0
    for tier in TIERS:
        f = hw.fabrics[tier]
        if f.kind == "scale-up":
            rows.append((p.allreduce_floor_s, p.allreduce_step_s, f.bytes_per_s * min(1.0, p.allreduce_efficiency),
                         p.alltoall_floor_s, p.alltoall_step_s, f.bytes_per_s * min(1.0, p.alltoall_efficiency)))
        else:
            achievable = f.bytes_per_s * f.efficiency_fraction
            rows.append((f.latency_s, f.latency_s * ar_growth, achievable,
                         f.latency_s, f.latency_s * a2a_growth, achievable))
    cols = np.array(rows).T
    return CommTiers(*cols, measured=p.measured)
