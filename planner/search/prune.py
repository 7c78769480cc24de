"""Dominance pruning of the candidate table before the MILP (numpy only).

Two candidates with the same GPUs per instance have the same packing bound, the same
power per instance and (in this model) the same per-GPU limits already met, so the one with
more tokens/s is never worse, unless its fabric load could make a fabric constraint bind.
Pruning keeps, for each GPUs-per-instance value, the highest-throughput candidate, plus
every candidate whose inter-server or inter-rack load at its packing bound could exceed the
links (those are left for the MILP to weigh). ``distinct_best`` first reduces each distinct
layout (everything but the batch) to its best batch, the unit the ``--top`` list ranks.
"""

from __future__ import annotations

import numpy as np

# Value ranges up to this many are ranked by a table over the range (a gather per row); wider ones by a search.
RANK_TABLE = 1 << 12


def group_ids(keys: np.ndarray) -> np.ndarray:
    """A dense group number per row, equal where the key rows are equal (``keys``: (rows, k) integers): the rank
    of the row's key among the distinct key rows in lexicographic order."""
    rows = keys.shape[0]
    code, groups = np.zeros(rows, np.int64), 1
    for j in range(keys.shape[1]):
        column = keys[:, j]
        low, high = (int(column.min()), int(column.max())) if column.size else (0, 0)
        if np.issubdtype(column.dtype, np.integer) and high - low < 2**20:  # a small range (layout sizes,
            # mode indices, offload levels): the values present marked by offset, each row's digit its value's
            # rank among them (read from a running count of the marks, or searched among the few values), no sort
            offset = column - low if low else column
            present = np.zeros(high - low + 1, bool)
            present[offset] = True
            if present.size <= RANK_TABLE:
                rank = np.cumsum(present) - 1
                digits, inverse = int(rank[-1]) + 1, np.take(rank, offset)
            else:
                values = np.flatnonzero(present)
                digits, inverse = values.size, np.searchsorted(values, offset)
        else:
            values, inverse = np.unique(column, return_inverse=True)
            digits = values.size
        if groups * digits >= 2**62:  # renumber densely before the mixed-radix code could overflow
            uniq, code = np.unique(code, return_inverse=True)
            code, groups = code.reshape(-1), uniq.size
        code, groups = code * digits + inverse.reshape(-1), groups * digits
    if groups <= max(4 * rows, 1 << 16):  # the codes present marked in a table of them, ranked by a running count
        present = np.zeros(groups, bool)
        present[code] = True
        return np.take(np.cumsum(present) - 1, code)
    return np.unique(code, return_inverse=True)[1].reshape(-1)


def best_per_group(keys: np.ndarray | None, tps: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Index of the highest-``tps`` row of each distinct key row (ties: first row), in row order.

    A segmented maximum over integer group numbers: no lexsort over the key columns. ``groups``: the
    rows' group numbers when the caller has them (non-negative, equal exactly where the key rows are
    equal, e.g. a subset of the `group_ids` of a larger table); ``keys`` is then not read (``None`` will do).
    """
    if tps.size == 0:
        return np.zeros(0, np.int64)
    gid = group_ids(keys) if groups is None else groups
    best = np.full(int(gid.max()) + 1, -np.inf)
    np.maximum.at(best, gid, tps)
    top = np.flatnonzero(tps == best[gid])
    first = np.unique(gid[top], return_index=True)[1]
    return np.sort(top[first])


def distinct_best(layout_keys: np.ndarray | None, tps: np.ndarray, fabric_may_bind: np.ndarray,
                  groups: np.ndarray | None = None) -> np.ndarray:
    """Rows kept: best batch per layout key, plus rows whose fabric limit may bind (``groups``: `best_per_group`)."""
    best = best_per_group(layout_keys, tps, groups)
    keep = np.zeros(tps.size, bool)
    keep[best] = True
    keep |= fabric_may_bind
    return np.flatnonzero(keep)


def dominance(gpus: np.ndarray, tps: np.ndarray, fabric_may_bind: np.ndarray) -> np.ndarray:
    """Rows kept for the MILP: best per GPUs-per-instance, plus fabric-bound rows."""
    best = best_per_group(gpus.reshape(-1, 1), tps)
    keep = np.zeros(tps.size, bool)
    keep[best] = True
    keep |= fabric_may_bind
    return np.flatnonzero(keep)


def fabric_may_bind(load: np.ndarray, instances: np.ndarray | int, capacity: np.ndarray) -> np.ndarray:
    """Rows whose inter-server or inter-rack load, at ``instances`` of them, exceeds the links (``load``: (3, rows))."""
    return (load[1] * instances > capacity[1]) | (load[2] * instances > capacity[2])
