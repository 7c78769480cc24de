"""The aggregated serving fixed point's rounds (``planner.serving.aggregated``), and what they compute once.

Each round of the Little's-law iteration re-times the average decode step with a new amount of
prompt work; the terms that depend on the layout and the chunk only (the routed-expert bytes a
chunk adds to a step, the launch overhead, the dense GEMMs of a step without a chunk and of one with a chunk
(rows whose chunked GEMMs have the own prefill's row counts, most of them, take its time), the GEMM
curve's constants apart from the rows, ``roofline.gemm_setup``, the collectives' tiers, curve
parameters and latency parts) are the same in every round. :func:`steady_terms` computes them once
and stores them in the decode terms, where ``aggregated.iteration`` takes them instead of recomputing
them: the same arithmetic on the same inputs, so every round's figures are bit for bit those of
recomputing them (the collectives on one row of each distinct layout, :func:`per_layout`). :func:`settle`
runs the rounds: rows dropped are taken from the rows last taken, and each row keeps the figures of the
round that ran it at its final lifetime. Every row iterates on its own (its figures do not depend on the
rows beside it): the evaluator serves a large table in blocks (``planner.serving.evaluate.row_blocks``),
so a round's dozens of temporaries stay in cache instead of each streaming a million rows through memory.

**The rounds** (:func:`lifetimes`) look for the lifetime ``s`` in decode steps with
``s = g(s) = waited + TTFT / TPOT(s)``, starting from ``osl``. The plain step ``s -> g(s)`` moves
monotonically (``g`` rises: more steps per lifetime, fewer prompt tokens per step, a shorter step)
and stops at the first fixed point on its way; TPOT jumps where a GEMM's rows cross a tile and where
a step starts taking more than one chunk, so a row can have several fixed points a tile apart. A
secant through the plain rounds' points needs about 5 rounds instead of up to 12 but can step over
the first fixed point onto the next (on 5,000 random rows at 512 in / 64 out it moved TPOT by more
than 10^-9 on 4-14 % of them).

Rows whose steps carry less than one chunk at ``osl`` steps (``P < chunk`` prompt tokens per stage)
and whose first plain step rises take the line step instead. For them every step in
``[osl, inf)`` carries less than a chunk, and there TPOT is continuous in ``P`` (a chunk joins a
share ``P / chunk`` of the steps: the chunked GEMMs' rows, the prompt attention's query tiles and
the chunk's experts are those of one chunk, constant, and every term is linear in ``P`` or a blend
of linear terms), with an elasticity below 1 (each term is linear with a non-negative intercept).
Then ``g``'s slope at any fixed point ``f`` is ``(f - waited) / f x elasticity < 1``, so ``g`` crosses
the diagonal downwards at every fixed point and there is exactly one: every iteration that stays in
``[osl, inf)`` and converges reaches the fixed point the plain step reaches. The line step takes
TPOT as a straight line in ``1 / s`` through the last two points (the first: the own prefill's
one-chunk step, ``P = chunk``) and steps to where that line's lifetime is a fixed point
(:func:`_line_root`); as TPOT is close to linear in ``P`` that is the fixed point itself on most
rows, which settle in their second round (``SETTLED``) instead of the plain step's 5-7.
``tests/planner/serving/test_fixed_point_line.py`` checks the figures against the plain rounds run to
convergence. (A few rows have no settled answer either way: where a chunked GEMM's rows, ``decode
tokens + chunk``, fall on a tile edge, ``G x (1 / (P / chunk))`` lands a rounding error either side of
``chunk`` and TPOT hops by a tile between rounds.) The seed preset keeps the plain rounds.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace

import numpy as np

from planner.engine.profile import EngineProfile
from planner.engine.rates import Rates
from planner.serving.comm import CurveCollectives
from planner.serving.distinct import per_layout
from planner.serving.layout import Layout
from planner.serving.plan import put_rows, take_rows
from planner.serving.roofline import (
    GemmSetup,
    block_gemm_s,
    gemm_s,
    gemm_setup,
    launch_overhead_s,
    routed_read_bytes,
)
from planner.serving.shape import ModelShape
from specbase.record import record

# Little's-law iteration of TPOT: at most this many rounds; a row stops once its TPOT moves by less than
# this share (each plain round shrinks the change ~20x).
FIXED_POINT_ROUNDS = 12
FIXED_POINT_TOLERANCE = 1e-9
# A row on the secant line (``lifetimes``) is final once the next round would move its lifetime by at most
# this share: its TPOT would move by less still (TPOT's elasticity in the prompt tokens is below 1).
SETTLED = 1e-12
# Rows already final are dropped from the rounds' arrays once they are this share of them (copying the
# layout costs about a round's worth of work on the rows copied, each of its ~40 arrays read from memory:
# at a quarter, an MoE block of 32,768 rows dropped rows four times, 3 % more instructions than three times at a
# half) and at least this many (copying the layout and decode terms' ~60 arrays costs ~10 ms whatever their
# length: more than a round of 2,048 rows).
COMPACT_FRACTION = 0.5
COMPACT_ROWS = 2048
# The line step's root is computed on the rows on the line alone where they are at most this share of the rows
# stepped (``_following``: six takes on those rows cost less than the root's ~30 operations on every row).
LINE_SHARE = 0.5
# ``BlockGemms.at`` reuses known GEMM times where the rows are the same when at most this share of at least
# ``REUSE_ROWS`` rows is new, or none is (taking the curve's per-row constants to the new rows costs about
# as much as computing a tenth of the rows again; on fewer rows the calls' overhead decides).
REUSE_SHARE = 0.125
REUSE_ROWS = 16384


def chunk_read_bytes(shape: ModelShape, lay: Layout, r: Rates, chunk_tokens: np.ndarray, decode) -> np.ndarray:
    """Routed-expert bytes one prompt chunk adds to a decode step's read (before ``r.moe_scale``): the experts
    the chunk and the decode tokens hit together less those the decode tokens hit alone; ``decode``'s own
    (``steady_terms``) when it carries them."""
    if decode.chunk_read_bytes is not None:
        return decode.chunk_read_bytes
    with_chunk = replace(lay, micro_tokens=lay.micro_tokens + chunk_tokens)
    return routed_read_bytes(shape, with_chunk, r) - routed_read_bytes(shape, lay, r)


def steady_terms(shape: ModelShape, lay: Layout, r: Rates, profile: EngineProfile, decode, chunk: float,
                 gpus_per_server: int, gpus_per_rack: int):
    """``decode`` (an ``aggregated.DecodeTerms``) with the round-invariant terms of steps whose chunks are
    ``chunk`` tokens: the chunk's routed bytes, the launch overhead, the GEMMs of a chunk-free step, the blocks'
    GEMMs of a step carrying one chunk (:class:`BlockGemms`: the own prefill's, and most rounds' rows) and, on
    the collective curves, the collectives' tiers, parameters and latency (``comm.CurveCollectives``)."""
    gemms = gemm_setup(shape, lay, r)
    routed = shape.num_moe_layers and r.moe_curve is None  # else a step reads no chunk's routed bytes (none timed)
    return replace(decode, chunk_read_bytes=chunk_read_bytes(shape, lay, r, chunk * np.ones_like(lay.micro_tokens),
                                                             decode) if routed else None,
                   launch_s=launch_overhead_s(shape, lay, profile.per_layer_overhead_s, profile.per_kernel_overhead_s,
                                              r),
                   gemm_setup=gemms, gemm_alone_s=gemm_s(shape, lay, r, lay.group_tokens, lay.group_tokens, gemms),
                   chunk_gemms=None if gemms is None else block_gemms(shape, lay, lay.group_tokens + chunk, gemms),
                   collectives=None if r.comm_curves is None else
                   per_layout(lambda part: CurveCollectives.of(shape, part, r.comm_curves, gpus_per_server,
                                                               gpus_per_rack), lay))


@record
class BlockGemms:
    """The blocks' GEMM time (``roofline.block_gemm_s``) of a layout's rows at ``tokens`` rows each: the rounds run
    most rows' chunked GEMMs at the own prefill's rows (:func:`steady_terms`)."""

    tokens: np.ndarray
    time_s: np.ndarray

    def at(self, shape: ModelShape, s: GemmSetup, tokens: np.ndarray, layers: tuple) -> np.ndarray:
        """``roofline.block_gemm_s`` of ``tokens``: this time where the rows are these, computed on the others."""
        other = np.flatnonzero(tokens != self.tokens)
        if not other.size:  # (gemm_s adds the LM head into a new array: this one is not written)
            return self.time_s
        if tokens.size < REUSE_ROWS or other.size > REUSE_SHARE * tokens.size:  # computed anew
            return block_gemm_s(shape, s, tokens, layers)
        total = self.time_s.copy()
        part = GemmSetup(take_rows(s.block, other), None, take_rows(s.attention, other),
                         take_rows(s.dense, other), take_rows(s.shared, other), None)
        total[other] = block_gemm_s(shape, part, np.take(tokens, other), tuple(np.take(v, other) for v in layers))
        return total


def block_gemms(shape: ModelShape, lay: Layout, tokens: np.ndarray, setup: GemmSetup) -> BlockGemms:
    """:class:`BlockGemms` of ``lay``'s rows at ``tokens`` rows each on the stacked ``setup``."""
    return BlockGemms(tokens, block_gemm_s(shape, setup, tokens, (lay.stage_layers, lay.dense_layers, lay.moe_layers)))


def take_decode(shape: ModelShape, lay: Layout, r: Rates, decode, index: np.ndarray):
    """``take_rows(decode, index)`` for the rows whose layout is ``lay``, the GEMM curve's setup computed on them
    again (on a few rows that costs less than taking its dozens of arrays from the block's: the same figures)."""
    if decode.gemm_setup is None:
        return take_rows(decode, index)
    return replace(take_rows(replace(decode, gemm_setup=None), index), gemm_setup=gemm_setup(shape, lay, r))


def settle(step_of, arrays: tuple, rounds, rows: int, osl: int, waited: float, ttft: np.ndarray, chunk: float,
           chunk_tpot: np.ndarray | None, take=None):
    """Each row's step and prompt tokens per step at its fixed point: ``rounds`` (:func:`lifetimes`, with its
    ``osl``, ``waited``, ``ttft``, ``chunk`` and ``chunk_tpot``) over ``step_of(part, steps_per_life)`` ->
    ``(step, per_step, prompt tokens per stage, TPOT)`` of the rows of ``part``, a tuple like ``arrays`` (per-row
    dataclasses and arrays) holding the rows still moving, taken once per drop from the rows last taken
    (``take(part, index)``: rows ``index`` of a part; default: each of its members' rows).

    Each row's figures are those of the round that ran it at its final lifetime: the last round over every row,
    or the narrowed round after which it was dropped (the same arithmetic on the same inputs: the same bits);
    rows that stop at the round cap, whose final lifetime no round ran, run once more.
    """
    take = take or (lambda part, index: tuple(_take(a, index) for a in part))
    state = {"live": None, "part": arrays}  # the rows in the rounds' arrays (None: all) and those arrays
    whole, last, kept = {}, {}, []  # the last round over every row; the last round; the rows dropped: their figures

    def tpot_of(steps_per_life: np.ndarray, live: np.ndarray | None):
        if live is not None and live is not state["live"]:  # rows dropped since the last round
            where = live if state["live"] is None else np.searchsorted(state["live"], live)
            if last["live"] is not None:  # the dropped rows are final at the lifetimes that round ran them at
                gone = np.ones(last["live"].size, dtype=bool)
                gone[where] = False
                kept.append(_rows_of(last, np.flatnonzero(gone)))
            state.update(live=live, part=take(state["part"], where))
        step, per_step, tokens, tpot = step_of(arrays if live is None else state["part"], steps_per_life)
        last.update(live=live, steps=steps_per_life, step=step, per_step=per_step)
        if live is None:
            whole.update(last)
        return tpot, tokens

    steps = rounds(tpot_of, rows, osl, waited, ttft, chunk, chunk_tpot)
    moved = steps != whole["steps"] if whole else np.ones(rows, dtype=bool)
    if not moved.any():
        return whole["step"], whole["per_step"]
    if moved.all():  # no round ran every row at its lifetime (rare; or no round ran): one pass over them all
        return step_of(arrays, steps)[:2]
    # the rows settled elsewhere are written into the last whole round's arrays: copies of those it shares with the
    # caller's (``arrays``: the decode terms' the step takes as they are), the others its own
    inputs = _array_ids(arrays)
    step, per_step = _unshared(whole["step"], inputs), _unshared(whole["per_step"], inputs)
    if last["live"] is not None:  # rows the last round ran at their final lifetimes
        kept.append(_rows_of(last, np.flatnonzero(last["steps"] == steps[last["live"]])))
    for index, part, part_per_step in kept:
        put_rows(step, index, part)
        per_step[index] = part_per_step
        moved[index] = False
    if (rest := np.flatnonzero(moved)).size:  # stopped at the cap: still in the last round's rows
        where = rest if state["live"] is None else np.searchsorted(state["live"], rest)
        part, per_step[rest] = step_of(take(state["part"], where), steps[rest])[:2]
        put_rows(step, rest, part)
    return step, per_step


def _array_ids(obj, out: set | None = None) -> set:
    """The ids of the arrays in ``obj`` (arrays, tuples of them and dataclasses of them, nested)."""
    out = set() if out is None else out
    if isinstance(obj, np.ndarray):
        out.add(id(obj))
    elif isinstance(obj, tuple):
        for v in obj:
            _array_ids(v, out)
    elif is_dataclass(obj) and not isinstance(obj, type):
        for v in vars(obj).values():
            if isinstance(v, np.ndarray):
                out.add(id(v))
            elif is_dataclass(v) and not isinstance(v, type):
                _array_ids(v, out)
    return out


def _unshared(obj, ids: set):
    """``obj`` (an array or a dataclass of them, nested) with a copy of each array whose id is in ``ids`` or that is a
    view, the others kept: arrays that can be written in place without touching another's."""
    if isinstance(obj, np.ndarray):
        return obj.copy() if id(obj) in ids or not obj.flags.owndata else obj
    changes = {}
    for f in fields(obj):
        name, v = f.name, getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            if id(v) in ids or not v.flags.owndata:
                changes[name] = v.copy()
        elif is_dataclass(v) and not isinstance(v, type):
            changes[name] = _unshared(v, ids)
    return replace(obj, **changes) if changes else obj


def _rows_of(round_: dict, index: np.ndarray) -> tuple:
    """Rows ``index`` (positions in the round's rows) of a round: their block rows, step and prompt tokens."""
    return round_["live"][index], take_rows(round_["step"], index), round_["per_step"][index]


def _take(a, index):
    return take_rows(a, index) if is_dataclass(a) else np.take(a, index)


def lifetimes(tpot_of, rows: int, osl: int, waited: float, ttft: np.ndarray, chunk: float,
              chunk_tpot: np.ndarray | None) -> np.ndarray:
    """Each row's lifetime in decode steps in its last round (module docstring): the rounds run until its TPOT
    moves by at most ``FIXED_POINT_TOLERANCE`` of itself, or the next round would not move its lifetime
    (``SETTLED``), ``FIXED_POINT_ROUNDS`` at most (the last one is the caller's pass at these lifetimes).

    ``tpot_of(steps_per_life, live)``: the TPOT of rows ``live`` (None: all ``rows``) whose requests live
    ``steps_per_life`` decode steps, and the prompt tokens each step of theirs carries per stage; ``waited``:
    the decode steps of a lifetime besides TTFT / TPOT; ``ttft`` per row; ``chunk``: prompt tokens per chunk.
    ``chunk_tpot``: the TPOT of a step carrying exactly one chunk (the own prefill's), per row: rows whose steps
    carry less than a chunk step to the root of the line through their last two points (:func:`_line_root`);
    None: every row takes the plain step.
    """
    final = np.empty(rows)
    live, sub = np.arange(rows), None  # rows in the arrays below (``sub``: the same once rows are dropped)
    steps, previous, done = np.full(rows, float(osl)), None, np.zeros(rows, dtype=bool)  # ``done``: final rows
    line = last = None  # rows on the line; the previous point of each: (1 / lifetime, TPOT)
    for _ in range(FIXED_POINT_ROUNDS - 1):
        tpot, tokens = tpot_of(steps, sub)
        if previous is not None:
            done |= np.abs(tpot - previous) <= FIXED_POINT_TOLERANCE * tpot
        plain = waited + ttft / tpot
        if line is None:  # the first round: which rows qualify, and the one-chunk step as their other point
            line = np.zeros(rows, dtype=bool) if chunk_tpot is None else (tokens < chunk) & (plain >= steps)
            with np.errstate(divide="ignore"):  # (a burst of one carries no prompt tokens: never on the line)
                last = (chunk / tokens / steps, chunk_tpot)
        x = 1.0 / steps
        if on_line := line.any():
            done |= line & (np.abs(plain - steps) <= SETTLED * steps)  # the next round would not move it
        finals = np.count_nonzero(done)
        if finals == done.size:
            break
        # the next lifetimes of the rows still moving (the final rows keep theirs): computed on those rows alone
        keep = np.flatnonzero(~done) if finals else None
        following = _following(keep, x, tpot, last, plain, line, waited, ttft, osl) if on_line \
            else plain if keep is None else plain[keep]
        last = (x, tpot)
        if keep is None:
            steps = following
        else:
            steps = steps.copy()  # (the rounds keep the lifetimes they ran at)
            steps[keep] = following
        previous = tpot
        if finals >= max(COMPACT_FRACTION * done.size, COMPACT_ROWS, 1):  # drop the final rows (once many are)
            final[live[done]] = steps[done]
            live, previous, steps, done, ttft = live[keep], previous[keep], steps[keep], done[keep], ttft[keep]
            line, last, sub = line[keep], (last[0][keep], last[1][keep]), live
    final[live] = steps  # the last round takes the rows still moving as they are
    return final


def _following(rows: np.ndarray | None, x, tpot, last: tuple, plain, line, waited: float, ttft, osl: int):
    """The next lifetime of rows ``rows`` (None: all): the line step's root where a row is on the line and the root
    is at least ``osl``, else the plain step's (:func:`lifetimes`). The root is computed on the rows on the line
    alone where they are at most ``LINE_SHARE`` of them (after the first rounds, few are: elementwise arithmetic,
    the same bits), and not at all where none is."""
    if rows is not None:
        line = line[rows]
    on = np.flatnonzero(line)
    if on.size <= LINE_SHARE * line.size:
        following = plain.copy() if rows is None else np.take(plain, rows)
        if on.size:
            at = on if rows is None else np.take(rows, on)
            root = _line_root(np.take(x, at), np.take(tpot, at), np.take(last[0], at), np.take(last[1], at), waited,
                              np.take(ttft, at))
            take = root >= osl
            following[on[take]] = root[take]
        return following
    if rows is not None:
        x, tpot, last, plain, ttft = x[rows], tpot[rows], (last[0][rows], last[1][rows]), plain[rows], ttft[rows]
    root = _line_root(x, tpot, *last, waited, ttft)
    return np.where(line & (root >= osl), root, plain)


def _line_root(x, tpot, last_x, last_tpot, waited: float, ttft):
    """The lifetime ``s`` at which ``s = waited + ttft / TPOT`` holds on the line TPOT ``= a + b / s`` through
    ``(x, tpot)`` and ``(last_x, last_tpot)`` (``x = 1 / s``): the positive root of
    ``a s^2 + (b - waited a - ttft) s - waited b = 0``; NaN where the line gives no positive TPOT."""
    with np.errstate(divide="ignore", invalid="ignore"):
        b = (tpot - last_tpot) / (x - last_x)
        a = tpot - b * x
        lin = b - waited * a - ttft
        root = np.sqrt(lin * lin + 4.0 * a * waited * b)
        # the two forms of the same root, each without cancellation
        s = np.where(lin > 0, 2.0 * waited * b / (lin + root), (root - lin) / (2.0 * a))
    return np.where(a > 0, s, np.nan)
