"""The evaluator: score many plans at once, check every limit, explain failures.

One vectorised code path scores one plan or millions. A decode step (every sequence of an
instance gains one token) takes ``pp`` stage times plus the engine's step overhead and its
per-sequence overhead for each sequence of an attention group; a stage
time blends compute, HBM, communication and KV-offload time (``roofline.combine``, with the
engine's ``overlap_fraction``) and adds a per-kernel (and per-layer) overhead. For isl/osl workloads the step
also carries the prompt work interleaved into it and TTFT is the chunked prefill plus its
queueing (``planner.serving.aggregated``); ``tokens_cached`` workloads are pure decode.

Reported figures (the seed notes' columns):

* ``tok_per_gpu``: instance tokens/s over its GPUs (= total TPS / GPUs in use).
* ``instance_tps``: ``batch / step_time``; ``total_tps``: times the instance count.
* ``limit``: the largest of the four terms.
* ``prefill_time_s`` (isl/osl workloads; ``row(..., prefill=True)``, as ``rackplan evaluate``
  reports it): one forward pass of ``batch x isl``
  prompt tokens on its own, no decode batch and no queueing (``planner.serving.prefill``), to
  compare with a measured prefill; ``ttft_s`` stays the serving figure.
* bounds, tokens/s per GPU if only one subsystem mattered: compute is exactly the seed's
  Note 2 formula ``rate x compute_scale / (2 x active params)``; HBM and comm are the
  micro-batch's tokens per GPU over that term's time alone.
* fabric load per tier: bytes/s one instance puts on that tier's links; utilisation is the
  per-GPU rate over the tier's nominal per-GPU bandwidth.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from hardware.specs import TIERS
from planner.engine.rates import rates
from planner.serving import parallel
from planner.serving.comm import comm
from planner.serving.coverage import outside_measured_range
from planner.serving.layout import block_modes, layout
from planner.serving.memory import Memory, admitted_sequences, memory
from planner.serving.plan import KvRuns, Plan, PlanArrays, join_rows, kv_runs, take_rows
from planner.serving.roofline import (
    attention_s,
    combine,
    compute_s,
    curve_read_bytes,
    gemm_s,
    hbm_s,
    launch_overhead_s,
    moe_s,
    offload_s,
)
from planner.serving.scenario import Scenario
from planner.serving.shape import ModelShape, model_shape, prefill_attention_scale
from planner.units import gb, kw
from specbase.record import record

LIMITS = ("compute", "hbm", "comm", "offload", "gemm", "moe", "attn")  # attn: attention kernels
# Rows per block of ``evaluate`` (0.25 MB per float array: the temporaries of a block, and of each round of the
# serving fixed point, stay in a core's cache instead of each streaming a million rows through memory). 65,536
# scored as fast, but the default plan's 109,008 rows then peaked at 125 MB instead of 114 MB (one large block's
# temporaries beside the whole table's results).
BLOCK_ROWS = 32_768


class HbmHeadroom:
    """Bytes per GPU above the usable HBM, of scores holding ``memory`` (``.total``) and ``hbm_capacity_bytes``."""

    @property
    def hbm_excess_bytes(self) -> np.ndarray:
        """Bytes per GPU above the usable HBM (negative: headroom)."""
        return self.memory.total - self.hbm_capacity_bytes


class InstanceLimits(HbmHeadroom):
    """Whether each row fits one instance, of scores holding the memory per GPU, the usable HBM and host memory,
    ``layout_ok`` and ``span_ok`` (`Scores` and `Fit`)."""

    @property
    def host_excess_bytes(self) -> np.ndarray:
        """Offloaded KV bytes per GPU above the usable host memory (negative: headroom)."""
        return self.memory.kv_offloaded - self.host_capacity_bytes

    @property
    def feasible(self) -> np.ndarray:
        """Rows meeting every per-instance limit (layout, placement, HBM, host memory)."""
        return self.layout_ok & self.span_ok & (self.hbm_excess_bytes <= 0) & (self.host_excess_bytes <= 0)


@record
class CommonScores(HbmHeadroom):
    """What serving's and training's scores both report per row (SI units).

    Attributes:
        limit: index of the largest time term (into the evaluator's ``LIMITS``).
        bound_compute, bound_hbm, bound_comm: tokens/s per GPU if only that subsystem mattered.
        fabric_bytes_per_s: shape (3, rows): bytes/s one instance (job) puts on each tier.
        fabric_utilisation: shape (3, rows): per-GPU rate over the tier's nominal per-GPU bandwidth.
        memory: bytes per GPU (serving's ``Memory`` or training's ``TrainingMemory``; ``.total``
            is the HBM in use).
        hbm_capacity_bytes: usable HBM per GPU.
    """

    limit: np.ndarray
    bound_compute: np.ndarray
    bound_hbm: np.ndarray
    bound_comm: np.ndarray
    fabric_bytes_per_s: np.ndarray
    fabric_utilisation: np.ndarray
    memory: Any
    hbm_capacity_bytes: float

    def take(self, index):
        """Rows ``index`` of every array (tier arrays keep their first axis)."""
        return take_rows(self, index)


@record
class Scores(CommonScores, InstanceLimits):
    """Evaluator output, one entry per candidate row (SI units), beyond :class:`CommonScores`."""

    plans: PlanArrays
    compute_s: np.ndarray
    hbm_s: np.ndarray
    comm_s: np.ndarray
    offload_s: np.ndarray
    gemm_s: np.ndarray
    moe_s: np.ndarray
    attention_s: np.ndarray
    stage_time_s: np.ndarray
    step_time_s: np.ndarray
    ttft_s: np.ndarray | None
    tok_per_gpu: np.ndarray
    instance_tps: np.ndarray
    total_tps: np.ndarray
    host_capacity_bytes: float
    layout_ok: np.ndarray
    span_ok: np.ndarray
    gpus_per_instance: np.ndarray
    power_w: np.ndarray


# What a plan's report reads of its scores and nothing else does: the time split, the limit, the bounds and
# the fabric utilisation. A candidate table is scored without them (``evaluate(..., full=False)``; ~15 MB fewer
# for the default plan's 109,008 rows): what the search, the limits, the explanation and a study read of its rows
# is kept, and a chosen plan's report reads the scores verification gives it, scored from scratch.
REPORTED = ("compute_s", "hbm_s", "comm_s", "offload_s", "gemm_s", "moe_s", "attention_s", "stage_time_s",
            "tok_per_gpu", "total_tps", "limit", "bound_compute", "bound_hbm", "bound_comm", "fabric_utilisation")


def shape_of(scenario: Scenario) -> ModelShape:
    """Model scalars at the scenario's contexts."""
    w = scenario.workload
    return model_shape(scenario.model, w.decode_context_tokens, w.kv_context_tokens,
                       scenario.moe_approximation, prefill_tokens=w.isl or 0)


def row_blocks(rows: int) -> list[slice] | None:
    """Consecutive slices of at most ``BLOCK_ROWS`` rows covering ``rows``; None when one block holds them."""
    if rows <= BLOCK_ROWS:
        return None
    return [slice(start, start + BLOCK_ROWS) for start in range(0, rows, BLOCK_ROWS)]


def evaluate(scenario: Scenario, plans: PlanArrays, shape: ModelShape | None = None, full: bool = True) -> Scores:
    """Score every row of ``plans`` under ``scenario``.

    Every row scores on its own (its figures do not depend on the rows beside it), so a large table is
    scored in blocks of ``BLOCK_ROWS`` rows (:func:`row_blocks`), whose temporaries stay in cache.
    ``full=False``: the ``REPORTED`` figures are left ``None`` (a candidate table's scores).
    """
    shape = shape or shape_of(scenario)
    if (blocks := row_blocks(len(plans))) is None:
        return _evaluate(scenario, plans, shape, full)
    parts = (replace(_evaluate(scenario, plans.take(b), shape, full), plans=None) for b in blocks)
    return replace(join_rows(parts, len(plans)), plans=plans)


def _evaluate(scenario: Scenario, plans: PlanArrays, shape: ModelShape, full: bool = True) -> Scores:
    hw, prof = scenario.hardware, scenario.engine_profile
    r = rates(hw, prof)
    lay = layout(shape, plans, *block_modes(scenario.model.native_weight_quant, prof.lm_head_quant))
    gps, gpr = hw.gpus_per_server, hw.gpus_per_rack

    t_offload = offload_s(shape, lay, r)
    ttft = None
    w = scenario.workload
    mem = memory(shape, lay)
    runs = None
    if not w.has_prefill:  # steady decode; with prompts the serving fixed point times the step instead
        # The terms that read no KV choice are computed on the first row of each run of rows differing in those
        # only (``kv_runs``: a candidate table's KV choices, one after another) and taken by the run's other rows.
        runs = kv_runs(plans)
        one, one_quant = (lay, plans.quant) if runs is None else (take_rows(lay, runs.first), plans.quant[runs.first])
        spread = _same if runs is None else runs.spread
        t_compute, t_hbm = spread(compute_s(shape, one, r, one_quant)), hbm_s(shape, lay, r)
        t_moe = spread(moe_s(shape, one, r, one_quant, one.micro_tokens))  # own term, after the blend
        t_attention = attention_s(shape, lay, r)
        traffic = spread(comm(shape, one, r, gps, gpr))
        terms = [t_compute, t_hbm, traffic.time_s, t_offload]
        # Dense-block GEMMs on their kernel curve, one after another with the rest (not blended).
        t_gemm = spread(gemm_s(shape, one, r, one.group_tokens, one.group_tokens))
        stage = combine(terms, prof.overlap_fraction) \
            + spread(launch_overhead_s(shape, one, prof.per_layer_overhead_s, prof.per_kernel_overhead_s, r)) \
            + t_gemm + t_moe + t_attention  # kernel-curve terms after the blend (zero under the seed preset)
        step = prof.step_time_s(lay.pp * stage, prof.iteration_overhead_s(lay.batch / lay.dp))
        instance_tps = lay.batch / step
    else:  # aggregated serving: the step carries prompt work (planner.serving.aggregated), its decode terms
        # those of the sequences admitted (``t_offload`` stays the batch's, as reported)
        from planner.serving.aggregated import serving  # the isl/osl stack: a decode-only run never loads it

        sv = serving(shape, lay, r, plans.quant, prof, None, w.isl, w.osl,
                     shape.prefill_attention_flop * prefill_attention_scale(scenario.model), gps, gpr,
                     admitted_sequences(mem, lay, hw.gpu.hbm_bytes, prof, w.isl, w.osl), w.burst)
        t_compute, t_hbm, traffic, terms = sv.step.compute_s, sv.step.hbm_s, sv.step.comm, sv.step.terms
        t_gemm, t_moe = sv.step.gemm_s, sv.step.moe_s
        stage, step, ttft, instance_tps = sv.step.stage_time_s, sv.step_time_s, sv.ttft_s, sv.instance_tps
        t_attention = sv.step.attention_s

    per_gpu_rate = traffic.bytes_by_tier / stage
    gpus = lay.gpus
    kept = dict(
        plans=plans, step_time_s=step, ttft_s=ttft, instance_tps=instance_tps, fabric_bytes_per_s=per_gpu_rate * gpus,
        **_limits(scenario, plans, lay, mem, runs, r),
        gpus_per_instance=gpus.astype(np.int64),
        power_w=gpus * plans.instances * hw.gpu.power_w,
    )
    if not full:
        return Scores(**kept, **dict.fromkeys(REPORTED))

    per_gpu_tokens = lay.micro_tokens / lay.gpus
    # The HBM bound streams every byte, those the kernel curves stream included (at the GPU's achievable
    # rate, the fastest any curve streams them).
    achievable = hw.gpu.hbm_bytes_per_s * hw.gpu.hbm_efficiency_fraction
    with np.errstate(divide="ignore"):
        bound_hbm = per_gpu_tokens / (t_hbm + curve_read_bytes(shape, lay, r) / achievable)
        comm_s = np.where(traffic.time_s > 0, traffic.time_s, 1.0)
        bound_comm = np.where(traffic.time_s > 0, per_gpu_tokens / comm_s, np.inf)
    bound_compute = np.take(r.compute_bound_flop_per_s, plans.quant) / shape.linear_flop_per_token
    return Scores(
        **kept,
        compute_s=t_compute, hbm_s=t_hbm, comm_s=traffic.time_s, offload_s=t_offload, gemm_s=t_gemm, moe_s=t_moe,
        attention_s=t_attention, stage_time_s=stage,
        tok_per_gpu=instance_tps / lay.gpus, total_tps=instance_tps * plans.instances,
        limit=first_largest([*terms, t_gemm, t_moe, t_attention]),
        bound_compute=bound_compute, bound_hbm=bound_hbm, bound_comm=bound_comm,
        fabric_utilisation=per_gpu_rate / r.fabric_peak_bytes_per_s[:, None],
    )


def _same(x):
    return x


def _limits(scenario: Scenario, plans: PlanArrays, lay, mem: Memory, runs: KvRuns | None, r) -> dict:
    """The fields of the per-instance limits (`Fit`'s, and `Scores`' of those names) of rows laid out as ``lay``."""
    hw, prof = scenario.hardware, scenario.engine_profile
    return dict(memory=mem, hbm_capacity_bytes=hw.gpu.hbm_bytes * prof.hbm_usable_fraction,
                host_capacity_bytes=r.host_memory_bytes, layout_ok=_layout_ok(scenario, plans, runs),
                span_ok=np.ones(len(plans), bool) if scenario.allow_span else lay.gpus <= hw.scale_up_domain_gpus)


@record
class Fit(InstanceLimits):
    """Whether each row fits one instance, without timing it (`fit`): memory per GPU against the usable HBM and
    host memory, the layout rules and the placement; the same arrays as the `Scores` fields of those names."""

    memory: Memory
    hbm_capacity_bytes: float
    host_capacity_bytes: float
    layout_ok: np.ndarray
    span_ok: np.ndarray


def fit(scenario: Scenario, plans: PlanArrays) -> Fit:
    """The per-instance limits of every row of ``plans`` under ``scenario``, as `evaluate` checks them, without the
    times (a fifth of the work of a steady-decode table's scores: a prefill pool reads only these of them)."""
    prof = scenario.engine_profile
    shape = shape_of(scenario)
    lay = layout(shape, plans, *block_modes(scenario.model.native_weight_quant, prof.lm_head_quant))
    runs = kv_runs(plans) if not scenario.workload.has_prefill else None
    return Fit(**_limits(scenario, plans, lay, memory(shape, lay), runs, rates(scenario.hardware, prof)))


def _layout_ok(scenario: Scenario, plans: PlanArrays, runs: KvRuns | None) -> np.ndarray:
    """The layout rules of each row (they read its layout and batch: once per run of ``runs``)."""
    p = plans if runs is None else plans.take(runs.first)
    ok = parallel.layout_mask(scenario.model, p.tp, p.pp, p.ep, p.dp, p.batch)
    return ok if runs is None else runs.spread(ok)


def first_largest(terms: list[np.ndarray]) -> np.ndarray:
    """Index of the largest term of each row, the first on ties (``np.vstack(terms).argmax(axis=0)``).

    Compares row-wise instead of stacking: argmax down the short axis of a (terms x rows)
    array is strided and about three times slower over a million rows. The index is the count of leading
    terms below the largest (at most the last index: where none equals it, a NaN row, the last), counted in
    bytes: a masked write per term ran about three times longer.
    """
    largest = terms[0]
    for term in terms[1:]:
        largest = np.maximum(largest, term)
    if len(terms) == 1 or len(terms) > 255:  # (one term; counts beyond a byte)
        index = np.full(np.shape(largest), len(terms) - 1, dtype=np.int64)
        for k in range(len(terms) - 2, -1, -1):
            index[terms[k] == largest] = k
        return index
    below = np.asarray(np.not_equal(terms[0], largest))  # rows whose terms so far are all below the largest
    count = below.view(np.uint8).copy()
    for term in terms[1:-1]:
        below &= np.not_equal(term, largest)
        count += below.view(np.uint8)
    return count.astype(np.int64)


def evaluate_plan(scenario: Scenario, plan: Plan) -> Scores:
    """Score a single plan (a one-row ``Scores``)."""
    return evaluate(scenario, PlanArrays.from_plans([plan]))


def reasons(scenario: Scenario, scores: Scores, i: int = 0) -> list[str]:
    """Why row ``i`` is infeasible, with numbers (empty when feasible)."""
    p = scores.plans.plan(i)
    out = parallel.layout_reasons(scenario.model, p.tp, p.pp, p.ep, p.dp, p.batch)
    if not scores.span_ok[i]:
        out.append(f"placement: the instance needs {p.gpus_per_instance} GPUs but the scale-up domain of "
                   f"{scenario.hardware.system.name} holds {scenario.hardware.scale_up_domain_gpus} "
                   f"(use --allow-span to cross onto the slower tier)")
    excess = float(scores.hbm_excess_bytes[i])
    if excess > 0:
        out.append(f"hbm_capacity: needs {gb(scores.memory.total[i]):.1f} GB per GPU but "
                   f"{gb(scores.hbm_capacity_bytes):.1f} GB is usable: over by {excess:,.0f} bytes")
    host = float(scores.host_excess_bytes[i])
    if host > 0:
        out.append(f"host_memory: offloaded KV needs {gb(scores.memory.kv_offloaded[i]):.1f} GB per GPU but "
                   f"{gb(scores.host_capacity_bytes):.1f} GB of host memory is usable: over by {host:,.0f} bytes")
    return out


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def bounds_and_fabric(hardware, scores, i: int) -> dict:
    """The bounds and per-tier fabric keys of row ``i`` (shared by serving and training scores)."""
    return {
        "bounds_tok_per_gpu": {"compute": _finite(scores.bound_compute[i]), "hbm": _finite(scores.bound_hbm[i]),
                               "comm": _finite(scores.bound_comm[i])},
        "fabric_load_gb_per_s": {k: gb(float(scores.fabric_bytes_per_s[t, i])) for t, k in enumerate(TIERS)},
        "fabric_utilisation": {k: float(scores.fabric_utilisation[t, i]) for t, k in enumerate(TIERS)},
        "fabric_names": {k: hardware.fabrics[k].name for k in TIERS},
    }


def _prefill_s(scenario: Scenario, scores: Scores, i: int) -> float | None:
    from planner.serving.prefill import prefill_time_s  # the isl/osl stack (rackplan evaluate of an isl/osl plan)

    t = prefill_time_s(scenario, scores.plans.take(np.array([i])))
    return None if t is None else float(t[0])


def row(scenario: Scenario, scores: Scores, i: int = 0, prefill: bool = False) -> dict:
    """Row ``i`` as the evaluator's JSON object (SI units; GB/s for fabric load).

    ``prefill`` adds ``prefill_time_s`` after ``ttft_s`` (``rackplan evaluate``; module docstring).
    ``outside_measured_range``: how the plan lies outside its engine profile's measured range
    (``planner.serving.coverage``; empty inside it, None where the profile records none).
    """
    m = scores.memory
    ttft = None if scores.ttft_s is None else float(scores.ttft_s[i])
    step = float(scores.step_time_s[i])
    return {
        "feasible": bool(scores.feasible[i]),
        "reasons": reasons(scenario, scores, i),
        "tok_per_gpu": float(scores.tok_per_gpu[i]),
        "instance_tps": float(scores.instance_tps[i]),
        "total_tps": float(scores.total_tps[i]),
        "step_time_s": step,
        "tpot_s": step,
        "tok_per_user": 1.0 / step,
        "ttft_s": ttft,
        **({"prefill_time_s": _prefill_s(scenario, scores, i)} if prefill else {}),
        "limit": LIMITS[int(scores.limit[i])],
        "time_split_s": {"compute": float(scores.compute_s[i]), "hbm": float(scores.hbm_s[i]),
                         "comm": float(scores.comm_s[i]), "offload": float(scores.offload_s[i]),
                         "gemm": float(scores.gemm_s[i]), "moe": float(scores.moe_s[i]),
                         "attention": float(scores.attention_s[i])},
        **bounds_and_fabric(scenario.hardware, scores, i),
        "memory_per_gpu_bytes": {
            "weights": float(m.weights[i]), "kv_hbm": float(m.kv_hbm[i]), "kv_offloaded": float(m.kv_offloaded[i]),
            "activations": float(m.activations[i]), "total": float(m.total[i]),
            "capacity": float(scores.hbm_capacity_bytes),
        },
        "gpus_per_instance": int(scores.gpus_per_instance[i]),
        "gpus": int(scores.gpus_per_instance[i] * scores.plans.instances[i]),
        "power_kw": kw(float(scores.power_w[i])),
        "outside_measured_range": outside_measured_range(scenario.engine_profile, scenario.workload,
                                                         scores.plans.plan(i), ttft, step, scenario.hardware.gpu.name),
    }
