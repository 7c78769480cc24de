"""Plans: one frozen ``Plan`` for reports, and ``PlanArrays`` for vectorised scoring."""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass, replace

import numpy as np

from planner import quant
from specbase.record import record


@record
class Plan:
    """One deployment decision: layout, batch, quantisation, offload and instance count."""

    tp: int = 1
    pp: int = 1
    ep: int = 1
    dp: int = 1
    batch: int = 1
    quant: str = "bf16"
    kv_quant: str = "bf16"
    kv_offload_fraction: float = 0.0
    instances: int = 1

    @property
    def gpus_per_instance(self) -> int:
        """GPUs of one instance: ``tp * pp * dp``."""
        return self.tp * self.pp * self.dp

    @property
    def gpus(self) -> int:
        """GPUs of all instances."""
        return self.gpus_per_instance * self.instances

    def layout(self) -> str:
        """Compact layout text ``TPxPPxEPxDP``, e.g. ``4x1x4x1``."""
        return f"{self.tp}x{self.pp}x{self.ep}x{self.dp}"

    def as_dict(self) -> dict:
        """The plan's decisions plus ``gpus`` (the JSON ``plan`` object)."""
        out = asdict(self)
        out["gpus"] = self.gpus
        return out


@record
class PlanArrays:
    """Many plans as parallel numpy arrays (quantisations as indices into ``quant.MODE_NAMES``)."""

    tp: np.ndarray
    pp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    batch: np.ndarray
    quant: np.ndarray
    kv_quant: np.ndarray
    kv_offload_fraction: np.ndarray
    instances: np.ndarray

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    @classmethod
    def from_plans(cls, plans: list[Plan]) -> PlanArrays:
        """Stack plans into arrays."""
        ints = ("tp", "pp", "ep", "dp", "batch", "instances")
        cols = {name: np.array([getattr(p, name) for p in plans], dtype=np.int64) for name in ints}
        cols["quant"] = np.array([quant.mode_index(p.quant) for p in plans], dtype=np.int64)
        cols["kv_quant"] = np.array([quant.mode_index(p.kv_quant) for p in plans], dtype=np.int64)
        cols["kv_offload_fraction"] = np.array([p.kv_offload_fraction for p in plans], dtype=float)
        return cls(**cols)

    def take(self, index) -> PlanArrays:
        """Rows ``index`` (a mask or integer array)."""
        return take_rows(self, index)

    def plan(self, i: int) -> Plan:
        """Row ``i`` as a frozen ``Plan`` (integers rounded, quant indices named)."""
        return Plan(
            tp=int(self.tp[i]), pp=int(self.pp[i]), ep=int(self.ep[i]), dp=int(self.dp[i]),
            batch=int(self.batch[i]), quant=quant.MODE_NAMES[int(self.quant[i])],
            kv_quant=quant.MODE_NAMES[int(self.kv_quant[i])],
            kv_offload_fraction=float(self.kv_offload_fraction[i]), instances=int(self.instances[i]),
        )


@record
class KvRuns:
    """Runs of consecutive rows of a ``PlanArrays`` that differ in their KV choices only (``kv_quant``,
    ``kv_offload_fraction``) and instance count: a candidate table lists each (layout, batch, quantisation)
    row once per KV choice, one after another (``planner.serving.candidates.enumerate_plans``).

    Attributes:
        first: the first row of each run.
        owner: each row's run (an index into ``first``).
    """

    first: np.ndarray
    owner: np.ndarray

    def spread(self, obj):
        """Each row's value of ``obj`` (an array over the runs, or a record of them: ``take_rows``'s layout)."""
        return np.take(obj, self.owner, axis=-1) if isinstance(obj, np.ndarray) else take_rows(obj, self.owner)


def kv_runs(plans: PlanArrays) -> KvRuns | None:
    """The runs of rows of ``plans`` differing in their KV choices only (:class:`KvRuns`), or None when a run
    holds fewer than two rows on average (a figure computed once a run would save less than the runs cost)."""
    n = len(plans)
    if n < 2:
        return None
    starts = np.empty(n, bool)
    starts[0] = True
    np.not_equal(plans.tp[1:], plans.tp[:-1], out=starts[1:])
    for column in (plans.pp, plans.ep, plans.dp, plans.batch, plans.quant):
        starts[1:] |= column[1:] != column[:-1]
    first = np.flatnonzero(starts)
    if 2 * first.size > n:
        return None
    owner = np.cumsum(starts, dtype=np.intp)
    owner -= 1
    return KvRuns(first=first, owner=owner)


def take_rows(obj, index):
    """Rows ``index`` of a frozen dataclass of per-row arrays.

    1-D arrays are indexed by row, 2-D arrays (tier-major, shape (tiers, rows)) by column, nested
    dataclasses recursively; scalars and ``None`` are kept.
    """
    changes = {}
    by_position = isinstance(index, np.ndarray) and index.dtype.kind in "iu"  # np.take: about twice as fast
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v) and not isinstance(v, type):
            changes[f.name] = take_rows(v, index)
        elif isinstance(v, np.ndarray):
            changes[f.name] = np.take(v, index, axis=-1) if by_position else v[:, index] if v.ndim == 2 else v[index]
    return replace(obj, **changes)


def put_rows(obj, index, part) -> None:
    """Write ``part`` (what ``take_rows(obj, index)`` gives) into rows ``index`` of ``obj``'s arrays, in place."""
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v) and not isinstance(v, type):
            put_rows(v, index, getattr(part, f.name))
        elif isinstance(v, np.ndarray):
            if v.ndim == 2:
                v[:, index] = getattr(part, f.name)
            else:
                v[index] = getattr(part, f.name)


def concat_rows(parts: list):
    """One frozen dataclass of per-row arrays holding the rows of ``parts`` in order (``take_rows``'s layout)."""
    changes = {}
    for f in fields(parts[0]):
        v = getattr(parts[0], f.name)
        if is_dataclass(v) and not isinstance(v, type):
            changes[f.name] = concat_rows([getattr(p, f.name) for p in parts])
        elif isinstance(v, np.ndarray):
            changes[f.name] = np.concatenate([getattr(p, f.name) for p in parts], axis=v.ndim - 1)
    return replace(parts[0], **changes)


def join_rows(parts, rows: int):
    """:func:`concat_rows` of the parts an iterable yields, ``rows`` rows in all, each written into arrays made for
    all of them as it comes: a part is dropped before the next is made, so only one is alive at a time."""
    out, start = None, 0
    for part in parts:
        if out is None:
            out = _empty_rows(part, rows)
        n = _row_count(part)
        put_rows(out, slice(start, start + n), part)
        start += n
    return out


def _empty_rows(obj, rows: int):
    """``obj`` with each array replaced by an uninitialised one of ``rows`` rows (same dtype, same leading axis)."""
    changes = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v) and not isinstance(v, type):
            changes[f.name] = _empty_rows(v, rows)
        elif isinstance(v, np.ndarray):
            changes[f.name] = np.empty((*v.shape[:-1], rows), dtype=v.dtype)
    return replace(obj, **changes)


def _row_count(obj) -> int:
    """Rows of a dataclass of per-row arrays (its first array's last axis)."""
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v) and not isinstance(v, type):
            return _row_count(v)
        if isinstance(v, np.ndarray):
            return v.shape[-1]
    raise ValueError("no per-row array")
