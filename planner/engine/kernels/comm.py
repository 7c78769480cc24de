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
    n = np.asarray(n, dtype=float)
    t = floor_s + step_s * np.log2(np.maximum(n, 1.0)) + 2.0 * (n - 1.0) / n * message_bytes / bytes_per_s
    return np.where(n > 1, t, 0.0)


def alltoall_s(n, share_bytes, destinations, floor_s, step_s, bytes_per_s):
    """Seconds of one all-to-all exchange over ``n`` GPUs, ``share_bytes`` per rank spread over ``destinations``."""
    d = np.asarray(destinations, dtype=float)
    t = floor_s + step_s * np.log2(np.maximum(n, 1.0)) + (d - 1.0) / d * share_bytes / bytes_per_s
    return np.where(d > 1, t, 0.0)


def p2p_s(message_bytes, floor_s, bytes_per_s):
    """Seconds of one point-to-point message (the all-to-all's floor and bandwidth)."""
    return floor_s + message_bytes / bytes_per_s


def latency_and_per_byte(curve) -> tuple:
    """A curve's (latency part, seconds per message byte), ``curve(message_bytes, with_latency)`` one of the
    functions above with its floor and step multiplied by ``with_latency``: the time of an empty message, and
    of one byte without the latency. A caller timing one group at many message sizes (the serving fixed
    point's rounds) takes them once: the time is ``latency + per_byte x message``."""
    return curve(0.0, 1.0), curve(1.0, 0.0)


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
