"""What the aggregated serving fixed point computes once for all its rounds (``planner.serving.aggregated``).

Each round of the Little's-law iteration re-times the average decode step with a new amount of
prompt work; the terms that depend on the layout and the chunk only (the routed-expert bytes a
chunk adds to a step, the launch overhead, the dense GEMMs of a step without a chunk) are the same
in every round. :func:`steady_terms` computes them once and stores them in the decode terms, where
``aggregated.iteration`` takes them instead of recomputing them: the same arithmetic on the same
inputs, so every round's figures are bit for bit those of recomputing them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.engine.profile import EngineProfile
from planner.engine.rates import Rates
from planner.serving.roofline import Layout, gemm_s, launch_overhead_s, routed_read_bytes
from planner.serving.shape import ModelShape


def chunk_read_bytes(shape: ModelShape, lay: Layout, r: Rates, chunk_tokens: np.ndarray, decode) -> np.ndarray:
    """Routed-expert bytes one prompt chunk adds to a decode step's read (before ``r.moe_scale``): the experts
    the chunk and the decode tokens hit together less those the decode tokens hit alone; ``decode``'s own
    (``steady_terms``) when it carries them."""
    if decode.chunk_read_bytes is not None:
        return decode.chunk_read_bytes
    with_chunk = replace(lay, micro_tokens=lay.micro_tokens + chunk_tokens)
    return routed_read_bytes(shape, with_chunk, r) - routed_read_bytes(shape, lay, r)


def steady_terms(shape: ModelShape, lay: Layout, r: Rates, profile: EngineProfile, decode, chunk: float):
    """``decode`` (an ``aggregated.DecodeTerms``) with the round-invariant terms of steps whose chunks are
    ``chunk`` tokens: the chunk's routed bytes, the launch overhead and the GEMMs of a chunk-free step."""
    ones = np.ones_like(lay.micro_tokens)
    return replace(decode, chunk_read_bytes=chunk_read_bytes(shape, lay, r, chunk * ones, decode),
                   launch_s=launch_overhead_s(shape, lay, profile.per_layer_overhead_s, profile.per_kernel_overhead_s,
                                              r),
                   gemm_alone_s=gemm_s(shape, lay, r, lay.group_tokens, lay.group_tokens))
