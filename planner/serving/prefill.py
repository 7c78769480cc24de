"""Prefill on its own: one forward pass of ``batch x isl`` prompt tokens, no decode batch, no queueing.

TTFT (``planner.serving.aggregated``) is a serving figure: the request's chunks share
iterations with the running decode batch and queue behind other prompts. A measured prefill
(one forward pass of a batch of prompts, as a kernel profiler or a ``generate(max_new_tokens=1)``
timing gives it) is none of that, so :func:`prefill_time_s` models it on its own, from the same
terms, so the two can be compared directly:

* the ``batch`` prompts are split over the ``dp`` attention groups and the ``pp`` micro-batches,
  whole prompts each (``batch / pp`` sequences per micro-batch, ``batch / (pp dp)`` per group);
* each stage runs one iteration (``aggregated.iteration``) whose prompt work is all of its
  micro-batch's tokens (no chunking) and whose decode part is empty: the non-expert weights
  are read once, the routed experts those tokens hit once, and every prompt's causal attention
  (MLA un-absorbed) and last-token LM head are computed; KV writes, activations and the
  collectives of all the tokens are charged as in serving; it runs outside CUDA graphs
  (``planner.serving.roofline.eager_iteration_s``);
* the micro-batches pipeline through the stages: ``2 pp - 1`` stage times (1 at ``pp = 1``), plus
  the engine's iteration overhead once for the pass.
"""

from __future__ import annotations

import numpy as np

from planner.engine.rates import rates
from planner.serving.aggregated import DecodeTerms, PromptWork, iteration
from planner.serving.layout import block_modes, layout
from planner.serving.plan import PlanArrays
from planner.serving.roofline import dense_read_bytes, eager_iteration_s
from planner.serving.scenario import Scenario
from planner.serving.shape import model_shape, prefill_attention_scale


def prefill_time_s(scenario: Scenario, plans: PlanArrays) -> np.ndarray | None:
    """Seconds for one forward pass of each row's ``batch x isl`` prompt tokens (None without ``isl``)."""
    w = scenario.workload
    if not w.has_prefill:
        return None
    hw, prof = scenario.hardware, scenario.engine_profile
    shape = model_shape(scenario.model, float(w.isl), float(w.isl), scenario.moe_approximation,
                        prefill_tokens=w.isl)
    r = rates(hw, prof)
    lay = layout(shape, plans, *block_modes(scenario.model.native_weight_quant, prof.lm_head_quant))
    prompts_per_group = lay.batch / lay.pp / lay.dp
    stage_tokens = lay.batch / lay.pp * w.isl
    work = PromptWork(group_tokens=prompts_per_group * w.isl, stage_tokens=stage_tokens,
                      prompts_per_group=prompts_per_group,
                      attention_flop=prompts_per_group * shape.prefill_attention_flop
                      * prefill_attention_scale(scenario.model),
                      chunk_tokens=stage_tokens)
    empty = lay.with_batch(np.zeros_like(lay.batch))  # no decode tokens: only the weights are read
    zero = np.zeros_like(lay.tp)
    weights_s = zero if r.gemm is not None else dense_read_bytes(shape, empty) / r.hbm_bytes_per_s  # else: gemm_s
    decode = DecodeTerms(compute_s=zero, hbm_s=weights_s, offload_s=zero, attention_s=zero)
    stage = eager_iteration_s(shape, lay, prof.eager_kernel_overhead_s,
                              iteration(shape, empty, r, plans.quant, prof, decode, work, hw.gpus_per_server,
                                        hw.gpus_per_rack).stage_time_s)
    return (2.0 * lay.pp - 1.0) * stage + prof.iteration_overhead_s(prompts_per_group)
