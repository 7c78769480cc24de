"""Disaggregated serving: score prefill-only and decode-only instances (vectorised numpy).

A disaggregated deployment runs two pools. Prefill instances turn prompts into KV caches
and hand each request's cache to a decode instance, which generates its output tokens.
This module scores candidate instances of each pool with the evaluator's own physics:

* **Decode pool**: the evaluator's steady-state decode (``tokens_cached``, the limiting
  case of aggregated serving with no prompt work interleaved) at the average context
  ``isl + osl / 2``, with KV memory reserved for ``isl + osl`` tokens per sequence, the
  same reservation the aggregated evaluator makes. Output tokens/s per instance is the
  evaluator's ``instance_tps``; TPOT its ``step_time_s``.
* **Prefill pool**: an engine iteration of ``planner.serving.aggregated`` that carries prompt work and
  no decode batch. A batch of ``b`` prompts is split into ``pp`` micro-batches of
  ``m = b / pp`` prompts (as decode micro-batches are) spread over the ``dp`` attention
  groups; a micro-batch's ``m x isl`` tokens go through in ``n = ceil(m x isl / chunk)``
  iterations of at most the engine's ``prefill_chunk_tokens``. Each iteration reads the
  weights once (the routed experts its tokens hit), computes its tokens at the
  prefill-shaped rate (LM head for each prompt's last token only, MLA un-absorbed), writes
  their KV and runs their collectives. Following ``planner.serving.aggregated``'s own-prefill term,
  the batch's TTFT is ``(n + pp - 1)`` stage times plus ``n`` step overheads plus the
  engine's ``ttft_overhead_s`` (queueing for a batch slot is not modelled), and a full
  pipeline processes ``b x isl`` prompt tokens every ``n x (pp x stage + step overhead)``.
  Memory is the evaluator's at ``tokens_cached = isl``: weights plus the KV of the batch's
  ``b`` prompts, held until handed off; activation buffers are the evaluator's (the chunk
  cap keeps an iteration's working set inside the engine's reserved HBM fraction).
* **KV hand-off**: each request moves ``kv_bytes_per_sequence(isl)`` bytes at the pool
  pair's KV format. Its transfer overlaps the prefill layer by layer (Mooncake, DistServe),
  so it adds no TTFT; its bandwidth is charged on the fabric by the fleet MILP
  (``planner.milp.fleet``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from models import counts
from planner import quant
from planner.engine.rates import rates
from planner.serving.aggregated import DecodeTerms, PromptWork, iteration
from planner.serving.evaluate import Fit, Scores, evaluate, fit
from planner.serving.layout import block_modes, layout
from planner.serving.plan import PlanArrays
from planner.serving.roofline import eager_iteration_s
from planner.serving.scenario import Scenario
from planner.serving.shape import ModelShape, model_shape, prefill_attention_scale
from planner.serving.workload import Workload
from specbase.record import record


def decode_scenario(scenario: Scenario) -> tuple[Scenario, ModelShape]:
    """Scenario and model shape of a decode-only instance of an isl/osl workload."""
    w = scenario.workload
    steady = replace(scenario, workload=Workload(tokens_cached=int(w.isl + w.osl // 2)))
    shape = model_shape(scenario.model, w.isl + w.osl / 2.0, float(w.isl + w.osl), scenario.moe_approximation)
    return steady, shape


def decode_scores(scenario: Scenario, plans: PlanArrays, full: bool = True) -> Scores:
    """The evaluator's scores of decode-only instances (module docstring); ``full=False``: without the figures
    only a plan's report reads (``planner.serving.evaluate.REPORTED``), as a candidate table is scored."""
    steady, shape = decode_scenario(scenario)
    return evaluate(steady, plans, shape, full)


def prefill_scenario(scenario: Scenario) -> Scenario:
    """Scenario whose evaluator memory is a prefill instance's: KV of ``isl`` tokens per prompt."""
    return replace(scenario, workload=Workload(tokens_cached=int(scenario.workload.isl)))


@record
class PrefillScores:
    """Prefill-instance scores, one entry per row (SI units).

    Attributes:
        fit: the evaluator's per-instance limits at ``tokens_cached = isl`` (memory, layout, placement:
            ``planner.serving.evaluate.fit``, the limits of its scores without timing a decode step).
        batch_time_s: time to first token of a batch of ``batch`` prompts.
        prompt_tps: prompt tokens/s one instance processes with its pipeline full.
        fabric_bytes_per_s: (3, rows) bytes/s one instance puts on each tier.
        iterations: engine iterations one micro-batch takes (chunked prefill).
    """

    fit: Fit
    batch_time_s: np.ndarray
    prompt_tps: np.ndarray
    fabric_bytes_per_s: np.ndarray
    iterations: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        """Rows meeting the evaluator's per-instance limits."""
        return self.fit.feasible


def prefill_scores(scenario: Scenario, plans: PlanArrays) -> PrefillScores:
    """Score prefill-only instances of ``scenario``'s isl/osl workload (module docstring)."""
    isl = int(scenario.workload.isl)
    hw, prof, model = scenario.hardware, scenario.engine_profile, scenario.model
    fits = fit(prefill_scenario(scenario), plans)
    shape = model_shape(model, float(isl), float(isl), scenario.moe_approximation, prefill_tokens=isl)
    r = rates(hw, prof)
    lay = layout(shape, plans, *block_modes(model.native_weight_quant, prof.lm_head_quant))
    idle = lay.with_batch(np.zeros_like(lay.batch))  # no decode batch: only the weights are read
    decode = DecodeTerms.of(shape, idle, r, plans.quant)
    prompts = lay.batch / lay.pp  # per micro-batch
    n = np.ceil(prompts * isl / prof.prefill_chunk_tokens)
    one_prompt = shape.prefill_attention_flop * prefill_attention_scale(model)
    work = PromptWork(group_tokens=prompts * isl / n / lay.dp, stage_tokens=prompts * isl / n,
                      prompts_per_group=prompts / n / lay.dp, attention_flop=prompts / n / lay.dp * one_prompt,
                      chunk_tokens=prompts * isl / n)  # one chunk per iteration: the micro-batch's share
    it = iteration(shape, idle, r, plans.quant, prof, decode, work, hw.gpus_per_server, hw.gpus_per_rack)
    stage = eager_iteration_s(shape, lay, prof.eager_kernel_overhead_s, it.stage_time_s)  # outside CUDA graphs
    overhead = prof.iteration_overhead_s(prompts / n / lay.dp)  # the prompts an iteration carries
    batch_time = (n + lay.pp - 1.0) * stage + n * overhead + prof.ttft_overhead_s
    prompt_tps = lay.batch * isl / (n * (lay.pp * stage + overhead))
    fabric = it.comm.bytes_by_tier / stage * lay.gpus
    return PrefillScores(fits, batch_time, prompt_tps, fabric, n)


def kv_bytes_per_request(scenario: Scenario, kv_quant: str) -> float:
    """KV-cache bytes one request hands from prefill to decode (its prompt's cache)."""
    per_element = quant.mode(kv_quant).bytes_per_element
    return float(np.asarray(counts.kv_bytes_per_sequence(scenario.model, float(scenario.workload.isl),
                                                         per_element)))
