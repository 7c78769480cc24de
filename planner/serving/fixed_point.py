"""What the aggregated serving fixed point computes once for all its rounds (``planner.serving.aggregated``).

Each round of the Little's-law iteration re-times the average decode step with a new amount of
prompt work; the terms that depend on the layout and the chunk only (the routed-expert bytes a
chunk adds to a step, the launch overhead, the dense GEMMs of a step without a chunk, the
collectives' tiers, curve parameters and latency parts) are the same in every round.
:func:`steady_terms` computes them once and stores them in the decode terms, where
``aggregated.iteration`` takes them instead of recomputing them: the same arithmetic on the same
inputs, so every round's figures are bit for bit those of recomputing them.

Every row iterates on its own (its figures do not depend on the rows beside it), so a large table
runs through the fixed point in blocks of ``BLOCK_ROWS`` rows (:func:`row_blocks`, :func:`joined`):
a round's dozens of temporaries then stay in cache instead of each streaming a million rows through
memory (``bench/evaluator.py``: the isl/osl scoring of a million rows ~1.7x faster).

The rounds stay the plain iteration ``s -> osl - 1 + TTFT / TPOT(s)`` on the lifetime in steps. An
extrapolating one (a secant through the last two rounds) needs about 5 rounds instead of up to 12, but
it does not reach the same answer: TPOT jumps where a GEMM's rows cross a tile (and where a step starts
taking more than one chunk), so a row can have two self-consistent fixed points a tile apart, and the
plain iteration, moving monotonically from its second round, stops at the first. On 5,000 random
rows at 512 in / 64 out the secant moved TPOT by more than 10^-9 on 4-14 % of them (up to 2.2 %: it
stepped over the first fixed point onto the next; some are rows the plain iteration leaves unsettled
after 12 rounds), at 4,096 / 1,024 on a few in 10,000. Only the plain step cannot overshoot: ``g``
rises (slope >= 0), so no fixed point lies between ``s`` and ``g(s)``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.engine.profile import EngineProfile
from planner.engine.rates import Rates
from planner.serving.comm import CurveCollectives
from planner.serving.layout import Layout
from planner.serving.roofline import gemm_s, gemm_setup, launch_overhead_s, routed_read_bytes
from planner.serving.shape import ModelShape

# Rows per block of the fixed point (about 0.5 MB per float array: a round's temporaries fit in a
# core's cache); 16,384 and 262,144 rows were slower on a million rows.
BLOCK_ROWS = 65_536


def row_blocks(rows: int) -> list[slice] | None:
    """Consecutive slices of at most ``BLOCK_ROWS`` rows covering ``rows``; None when one block holds them."""
    if rows <= BLOCK_ROWS:
        return None
    return [slice(start, start + BLOCK_ROWS) for start in range(0, rows, BLOCK_ROWS)]


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
    ``chunk`` tokens: the chunk's routed bytes, the launch overhead, the GEMMs of a chunk-free step and, on
    the collective curves, the collectives' tiers, parameters and latency (``comm.CurveCollectives``)."""
    ones = np.ones_like(lay.micro_tokens)
    gemms = gemm_setup(shape, lay, r)
    return replace(decode, chunk_read_bytes=chunk_read_bytes(shape, lay, r, chunk * ones, decode),
                   launch_s=launch_overhead_s(shape, lay, profile.per_layer_overhead_s, profile.per_kernel_overhead_s,
                                              r),
                   gemm_setup=gemms, gemm_alone_s=gemm_s(shape, lay, r, lay.group_tokens, lay.group_tokens, gemms),
                   collectives=None if r.comm_curves is None else
                   CurveCollectives.of(shape, lay, r.comm_curves, gpus_per_server, gpus_per_rack))
