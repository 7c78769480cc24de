"""Rows whose aggregated-serving inputs are the same: scored once, the figures taken to each of them.

``planner.serving.aggregated.serving`` times the admitted sequences of each row: a row whose batch
does not fit its KV cache runs the sequences it admits (``memory.admitted_sequences``), so rows that
differ only in a batch above what their layout admits serve the same sequences the same way (only the
queue outside, applied afterwards, sees the batch). Every figure of a row is a function of its
own inputs alone (its layout after admission and its weight modes), so a row scored once stands for
every row with the same inputs: the same arithmetic on the same inputs, the same bits.
:func:`distinct_rows` finds them in a sort of one integer key per row.

Likewise a function of one column of a few whole numbers (a layout's tp, ep, ...) is computed once per value and
taken by each row (:func:`whole_index`), and terms of a layout's sizes alone (the collectives' tiers, curve
parameters and latency parts) once per distinct layout (:func:`per_layout`).
"""

from __future__ import annotations

import numpy as np

from planner.serving.layout import Layout
from planner.serving.plan import take_rows

# Fewer rows than this: scored as they are (finding repeats costs more than it saves).
DISTINCT_MIN_ROWS = 4096
# Scored as they are unless at least this share of the rows admits fewer sequences than its batch (rows that keep
# their batch differ in it; the others repeat), nor where at most this share of the rows repeats another.
CAPPED_SHARE = 0.25
REPEAT_SHARE = 0.25
_KEY_LIMIT = float(1 << 62)
SAMPLE_ROWS = 64  # rows whose distinct values are tried first for a part that is not whole numbers,
FEW_VALUES = 8  # when they are at most this many  # a key's range at most this (int64)
# Per-value tables (:func:`whole_index`): values up to this, over at least this many rows.
TABLE_VALUES = 1024
TABLE_MIN_ROWS = 256
# Terms that depend on the layout's (tp, pp, dp, ep) alone are computed on one row of each distinct layout
# (:func:`per_layout`) in blocks of at least this many rows with at most a quarter as many distinct layouts
# (finding them costs about two passes of a few terms over the rows: worth it for the collectives on several tiers).
PER_LAYOUT_ROWS = 4096
LAYOUT_KEY_LIMIT = 1 << 20  # (tp, pp, dp, ep) above this: every row computed (no look-up tables that long)


def distinct_rows(lay: Layout, quant_index: np.ndarray, capped: np.ndarray) -> tuple | None:
    """``(first, inverse)``: one row of each distinct combination of ``lay``'s inputs (tp, pp, dp, ep, batch, the
    blocks' and experts' weight modes, KV bytes per element and offloaded share) and ``quant_index``, and each
    row's position among those; None where scoring every row costs less (few rows, few ``capped`` ones, few
    repeats), or a batch is not a whole number below 2^31."""
    rows = lay.tp.shape[0]
    if rows < DISTINCT_MIN_ROWS or np.count_nonzero(capped) < CAPPED_SHARE * rows:
        return None
    code, codes = np.zeros(rows, dtype=np.int64), 1.0
    for part in (lay.tp, lay.pp, lay.dp, lay.ep, lay.batch, quant_index, lay.dense_quant, lay.vocab_quant,
                 lay.kv_bytes, lay.offload):
        number, count = _numbered(np.broadcast_to(part, (rows,)))
        if number is None or codes * count >= _KEY_LIMIT:
            return None
        code *= count
        code += number
        codes *= count
    order = np.argsort(code)
    ordered = np.take(code, order)
    new = np.empty(rows, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    first = order[new]
    if first.size > (1.0 - REPEAT_SHARE) * rows:
        return None
    inverse = np.empty(rows, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return first, inverse


def _numbered(values: np.ndarray) -> tuple:
    """Each row's value numbered ``0 .. count - 1``, and ``count``, equal numbers for equal bits: whole numbers in
    ``[0, 2^31)`` (no -0.0) by themselves, others by their bits' rank among the distinct ones; ``(None, 0)``
    for integers out of that range."""
    if values.dtype.kind in "iu":
        low, high = values.min(), values.max()
        return (None, 0) if low < 0 or high >= 2 ** 31 else (values.astype(np.int64), int(high) + 1)
    if values.min() >= 0.0 and values.max() < 2 ** 31 and np.array_equal(values, np.floor(values)) \
            and not np.signbit(values).any():
        return values.astype(np.int64), int(values.max()) + 1
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    distinct = np.unique(bits[::max(1, bits.size // SAMPLE_ROWS)])  # (a few values, e.g. offload shares: a sample's)
    if distinct.size <= FEW_VALUES and sum(np.count_nonzero(bits == d) for d in distinct) == bits.size:
        number = np.zeros(bits.size, dtype=np.int64)  # every row holds one of them: its rank, by comparisons
        for d in distinct[1:]:
            number += bits >= d
        return number, distinct.size
    distinct = np.unique(bits)
    return np.searchsorted(distinct, bits), distinct.size


def whole_index(values: np.ndarray, whole: bool = False, limit: int = TABLE_VALUES) -> np.ndarray | None:
    """Each row's value as an index (intp) into a table over ``0 .. max``, where every value is a whole number
    from 1 to ``limit - 1`` (a layout's tp, tp x dp, ep: a few small numbers), so that a function of the value
    alone is computed once per value and taken by each row (the same arithmetic on the same values, the same
    bits); None otherwise (fractions, zeros, large or few values: computed per row). ``whole``: the values are
    known to be whole numbers (``Layout.whole_sizes``), not compared again."""
    if np.ndim(values) != 1 or values.size < TABLE_MIN_ROWS:
        return None
    index = values.astype(np.intp)
    if index.min() < 1 or index.max() >= limit or not (whole or np.array_equal(index, values)):
        return None
    return index


def table_values(index: np.ndarray) -> np.ndarray:
    """The values a table over ``0 .. index.max()`` is computed at (``whole_index``): the whole numbers, with 1 at
    0 (no row reads it; it keeps the table's arithmetic defined)."""
    values = np.arange(index.max() + 1.0)
    values[0] = 1.0
    return values


def per_layout(terms_of, lay: Layout):
    """``terms_of(lay)``, a dataclass of per-row arrays that depend on each row's tp, pp, dp and ep alone
    (and what the layout derives from them), computed on one row of each distinct layout and taken to every
    row: each row's figures are those it has computed alone, at the cost of the few hundred distinct layouts
    instead of every row. Small blocks, and blocks with many distinct layouts, compute every row."""
    rows = lay.tp.shape[0]
    if rows < PER_LAYOUT_ROWS or max(float(v.max()) for v in (lay.tp, lay.pp, lay.dp, lay.ep)) >= LAYOUT_KEY_LIMIT:
        return terms_of(lay)
    parts = [v.astype(np.intp) for v in (lay.tp, lay.pp, lay.dp, lay.ep)]
    sizes = [int(part.max()) + 1 for part in parts]
    if sizes[0] * sizes[1] * sizes[2] * sizes[3] <= rows:  # each row's (tp, pp, dp, ep) as one number
        code, codes = parts[0], sizes[0]
        for part, size in zip(parts[1:], sizes[1:]):
            code, codes = code * size + part, codes * size
    else:  # each part numbered densely first
        code, codes = np.zeros(rows, dtype=np.intp), 1
        for part, size in zip(parts, sizes):
            seen = np.zeros(size, dtype=bool)
            seen[part] = True
            number = np.cumsum(seen) - 1
            code, codes = code * int(number[-1] + 1) + np.take(number, part), codes * int(number[-1] + 1)
            if codes > rows // 4:
                return terms_of(lay)
    one = np.full(codes, -1, dtype=np.intp)
    one[code] = np.arange(rows)  # a row of each layout present
    present = np.flatnonzero(one >= 0)
    if present.size > rows // 4:
        return terms_of(lay)
    slot = np.zeros(codes, dtype=np.intp)
    slot[present] = np.arange(present.size)
    return take_rows(terms_of(take_rows(lay, np.take(one, present))), np.take(slot, code))
