"""Collective kernel curves: all-reduce and MoE all-to-all time from message size, group size and tier.

Fitted per (engine, GPU) to the engines' measured collective kernels (``calibration/kernels/``,
``planner.calibration.kernel_fits.comm``); the planner evaluates these closed forms, never the tables.

* **All-reduce** of a ``message`` of bytes over ``n`` GPUs::

      t = floor + step x log2 n + min((n - 1) x message / rate, 2 (n - 1) / n x message / rate + twoshot)

  with ``rate = efficiency x link``. A latency floor that grows gently with the group (one ``step``
  per doubling: the depth of a tree or the fan-in of a one-shot kernel), then the bandwidth term of
  the faster of the two algorithms the engines' own all-reduce kernels switch between by message
  size (vLLM's custom all-reduce, ``cross_device_reduce_1stage`` / ``_2stage``; TensorRT-LLM's
  ``AllReduceStrategy`` ``ONESHOT`` / ``TWOSHOT``): *one-shot*, every rank reads every peer's whole
  buffer and reduces it itself, ``(n - 1)`` messages in per GPU and one synchronisation; *two-shot*,
  a reduce-scatter and an all-gather, the volume of a ring or bandwidth-optimal tree
  (``planner.engine.collectives.bandwidth_factor``, ``2 (n - 1) / n`` of the message per GPU) and a
  second synchronisation round, the fitted ``twoshot`` seconds. Both at ``efficiency <= 1`` of the
  tier's per-GPU, per-direction link rate. At ``n = 2`` the volumes are equal (one-shot always); at 8
  GPUs one-shot moves 4x the bytes, so the decode messages (64 KB-4 MB) that sit below the switch
  take up to 4x the two-shot volume's time: H200 / TensorRT-LLM at 1 MiB over 8 GPUs measures
  25.7 us, the two-shot line alone 9.3 us. ``twoshot = 0`` is the two-shot line at every size.
* **All-to-all** (a MoE dispatch or combine) is ONE exchange, not ``log2 n`` rounds: every rank
  sends its ``share`` (its tokens' hidden vectors, x top-k) to the ``d`` ranks holding experts in
  parallel, ``(d - 1) / d`` of it remote::

      t = floor + step x log2 n + (d - 1) / d x share / (efficiency x link)

* **Point-to-point** (a pipeline hand-off): the all-to-all's floor and bandwidth, one message.

Tiers: a scale-up tier (NVLink, the tier the kernel tables measure: up to 8 GPUs of an HGX board
and up to 64 of an NVL72 rack) takes the fitted floor, step, efficiency and two-shot round on its own
link rate. A scale-out tier (InfiniBand, Ethernet: ``hardware/data/fabrics``) has no kernel rows: it
takes the catalogue's per-message latency as its floor, grown per doubling in the fitted proportion
(``step / floor``), and the catalogue's achievable bandwidth (``bytes_per_s x efficiency_fraction``),
with no one-shot regime (``twoshot = 0``: the ring volume at every size); transferred, not measured.

Parameters: ``planner/engine/data/kernels/comm.toml``, one table per (engine, GPU). The ``default``
engine takes the median of the engines' parameters on its GPU; a GPU without kernel rows (H800,
MI300X, MI325X, MI355X) takes the median over the measured GPUs of its engine (of all engines for
``default``), on its own fabric's link rate ("transferred").
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache

import numpy as np

from hardware.specs import TIERS, Hardware
from planner.engine.kernels import tables
from specbase.record import record


@record
class CommParams:
    """Fitted collective curves of one engine on one GPU (seconds, fractions of the link rate)."""

    allreduce_floor_s: float
    allreduce_step_s: float
    allreduce_efficiency: float
    allreduce_twoshot_s: float
    alltoall_floor_s: float
    alltoall_step_s: float
    alltoall_efficiency: float
    measured: bool = True  # False: transferred (medians over the measured GPUs)


@record
class CommTiers:
    """The curves' parameters per fabric tier (arrays of 3, ``TIERS`` order)."""

    allreduce_floor_s: np.ndarray
    allreduce_step_s: np.ndarray
    allreduce_bytes_per_s: np.ndarray
    allreduce_twoshot_s: np.ndarray
    alltoall_floor_s: np.ndarray
    alltoall_step_s: np.ndarray
    alltoall_bytes_per_s: np.ndarray
    measured: bool


def allreduce_s(n, message_bytes, floor_s, step_s, bytes_per_s, twoshot_s=0.0):
    """Seconds of one all-reduce of ``message_bytes`` over ``n`` GPUs (module docstring); 0 for n <= 1."""
    n = np.asarray(n, dtype=float)
    t = allreduce_line_s(group_latency_s(n, floor_s, step_s), allreduce_factors(n), message_bytes, bytes_per_s,
                         twoshot_s)
    return np.where(n > 1, t, 0.0)


def group_latency_s(n, floor_s, step_s):
    """The latency part of a collective over ``n`` GPUs: its floor plus one step per doubling of the group."""
    return floor_s + step_s * np.log2(np.maximum(n, 1.0))


def allreduce_factors(n) -> tuple:
    """Message bytes each GPU moves per message byte in an all-reduce over ``n`` GPUs: ``(2 (n - 1) / n, n - 1)``,
    two-shot and one-shot (module docstring)."""
    return 2.0 * (n - 1.0) / n, n - 1.0


def allreduce_line_s(latency_s, factors: tuple, message_bytes, bytes_per_s, twoshot_s):
    """:func:`allreduce_s` for ``n > 1`` of its group's parts: :func:`group_latency_s` and
    :func:`allreduce_factors` (computed once for a group timed at many messages, or once per group size)."""
    twoshot, oneshot = factors
    return latency_s + np.minimum(oneshot * message_bytes / bytes_per_s, twoshot * message_bytes / bytes_per_s
                                  + twoshot_s)


def oneshot_gap_per_byte(n, bytes_per_s):
    """Seconds per message byte by which the one-shot all-reduce's volume exceeds the two-shot's over ``n``
    GPUs, ``((n - 1) - 2 (n - 1) / n) / rate``: below ``twoshot / gap`` bytes the one-shot runs (module
    docstring), and :func:`allreduce_s` is the two-shot line less ``max(0, twoshot - gap x message)``."""
    n = np.asarray(n, dtype=float)
    return (n - 1.0) * (n - 2.0) / np.maximum(n, 1.0) / bytes_per_s


def alltoall_s(n, share_bytes, destinations, floor_s, step_s, bytes_per_s):
    """Seconds of one all-to-all exchange over ``n`` GPUs, ``share_bytes`` per rank spread over ``destinations``."""
    d = np.asarray(destinations, dtype=float)
    t = group_latency_s(n, floor_s, step_s) + remote_share(d) * share_bytes / bytes_per_s
    return np.where(d > 1, t, 0.0)


def remote_share(destinations):
    """Share of an all-to-all's bytes a rank sends to others, ``(d - 1) / d`` over ``d`` destinations."""
    return (destinations - 1.0) / destinations


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
                         p.allreduce_twoshot_s,
                         p.alltoall_floor_s, p.alltoall_step_s, f.bytes_per_s * min(1.0, p.alltoall_efficiency)))
        else:  # no one-shot kernel across servers: the two-shot (ring / tree) volume at every size
            achievable = f.bytes_per_s * f.efficiency_fraction
            rows.append((f.latency_s, f.latency_s * ar_growth, achievable, 0.0,
                         f.latency_s, f.latency_s * a2a_growth, achievable))
    cols = np.array(rows).T
    return CommTiers(*cols, measured=p.measured)
