"""The declared search space of training plans and its enumeration into a scored candidate table.

Defaults (the planner's optimum is the best plan *in this space*; the report prints it):

* tp: powers of two up to the scale-up domain (16 at most; the rack, 64 at most, with
  ``allow_span``); pp: 1, 2, 4, 8, 16, 32; vpp: 1, 2, 4, 8; cp: 1, 2, 4, 8, 16;
* ep: powers of two dividing the routed experts, up to 64 (1 for dense models);
* dp: every divisor of the global batch that fits the GPU budget;
* micro_batch: 1, 2, 4, 8; recompute: none, selective, full; ZeRO stage 0-3;
* precision: bf16, and fp8 where the GPU has FP8 tensor cores.

Enumeration is two-phase so the table stays small: the parallel layout (tp, pp, vpp, cp, ep,
dp) first, filtered by the GPU budget and the rules that do not involve the micro-batch, then
crossed with micro-batch, recomputation, ZeRO stage and precision and filtered by every rule
of ``planner.training.parallel``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.errors import InputError
from planner.serving.space import DeclaredSpace, expert_degrees, powers_of_two
from planner.training.evaluate import TrainingScenario, TrainingScores, evaluate_training, memory_of
from planner.training.memory import TRAINING_HBM_USABLE_FRACTION
from planner.training.parallel import layout_mask
from planner.training.workload import PRECISIONS, RECOMPUTE_MODES, ZERO_STAGES, TrainingPlanArrays
from specbase.record import record

DEFAULT_PP = (1, 2, 4, 8, 16, 32)
DEFAULT_VPP = (1, 2, 4, 8)
DEFAULT_CP = (1, 2, 4, 8, 16)
DEFAULT_MICRO_BATCH = (1, 2, 4, 8)


@record
class TrainingSearchSpace(DeclaredSpace):
    """Finite value lists for every training decision."""

    tp: tuple[int, ...]
    pp: tuple[int, ...]
    vpp: tuple[int, ...]
    cp: tuple[int, ...]
    ep: tuple[int, ...]
    dp: tuple[int, ...]
    micro_batch: tuple[int, ...]
    recompute: tuple[str, ...]
    zero: tuple[int, ...]
    precision: tuple[str, ...]


def divisors(n: int, limit: int) -> tuple[int, ...]:
    """Positive divisors of ``n`` up to ``limit``, ascending."""
    return tuple(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def default_training_space(scenario: TrainingScenario, budget_gpus: int) -> TrainingSearchSpace:
    """The default space for ``scenario`` under a budget of ``budget_gpus`` GPUs (module docstring)."""
    hw, model, w = scenario.hardware, scenario.model, scenario.workload
    limit = min(hw.gpus_per_rack, 64) if scenario.allow_span else min(hw.scale_up_domain_gpus, 16)
    precisions = tuple(p for p in PRECISIONS if hw.gpu.peak_flop_per_s.get(p))
    return TrainingSearchSpace(
        tp=powers_of_two(limit), pp=tuple(p for p in DEFAULT_PP if p <= model.num_hidden_layers),
        vpp=DEFAULT_VPP, cp=DEFAULT_CP, ep=expert_degrees(model), dp=divisors(w.global_batch_sequences, budget_gpus),
        micro_batch=DEFAULT_MICRO_BATCH, recompute=RECOMPUTE_MODES, zero=ZERO_STAGES, precision=precisions,
    )


def validate(space: TrainingSearchSpace) -> TrainingSearchSpace:
    """Check every list is non-empty and in range, and names are known."""
    space.check_counts(("tp", "pp", "vpp", "cp", "ep", "dp", "micro_batch"), "training search space")
    if not space.zero or any(z not in ZERO_STAGES for z in space.zero):
        raise InputError(f"training search space: zero stages must be among 0, 1, 2, 3 (got {list(space.zero)})")
    for key, known in (("recompute", RECOMPUTE_MODES), ("precision", PRECISIONS)):
        values = tuple(str(v).strip().lower() for v in getattr(space, key))
        bad = [v for v in values if v not in known]
        if bad or not values:
            raise InputError(f"training search space: unknown {key} {', '.join(bad) or '(none)'}; "
                             f"choose among {', '.join(known)}")
        space = replace(space, **{key: values})
    return space


def _grid(*lists) -> list[np.ndarray]:
    return [g.ravel() for g in np.meshgrid(*[np.asarray(v) for v in lists], indexing="ij")]


def enumerate_training_plans(scenario: TrainingScenario, space: TrainingSearchSpace,
                             budget_gpus: int) -> TrainingPlanArrays:
    """All rule-abiding rows of ``space`` that fit ``budget_gpus`` GPUs."""
    hw, w = scenario.hardware, scenario.workload
    tp, pp, vpp, cp, ep, dp = _grid(space.tp, space.pp, space.vpp, space.cp, space.ep, space.dp)
    ok = tp * pp * cp * dp <= budget_gpus
    # Every rule holding at micro-batch 1 is necessary for some micro-batch to pass: the batch
    # and interleaving divisibility at micro-batch m imply them at 1.
    ok &= layout_mask(scenario.model, w, tp, pp, vpp, cp, ep, dp, np.ones_like(tp), hw.scale_up_domain_gpus,
                      scenario.allow_span)
    lay = np.flatnonzero(ok)
    rc_idx = [RECOMPUTE_MODES.index(r) for r in space.recompute]
    pr_idx = [PRECISIONS.index(p) for p in space.precision]
    li, mb, rc, z, pr = _grid(lay, space.micro_batch, rc_idx, space.zero, pr_idx)
    cols = dict(tp=tp[li], pp=pp[li], vpp=vpp[li], cp=cp[li], ep=ep[li], dp=dp[li])
    keep = layout_mask(scenario.model, w, cols["tp"], cols["pp"], cols["vpp"], cols["cp"], cols["ep"], cols["dp"], mb,
                       hw.scale_up_domain_gpus, scenario.allow_span)
    idx = np.flatnonzero(keep)
    return TrainingPlanArrays(**{k: v[idx].astype(np.int64) for k, v in cols.items()},
                              micro_batch=mb[idx].astype(np.int64), recompute=rc[idx].astype(np.int64),
                              zero=z[idx].astype(np.int64), precision=pr[idx].astype(np.int64))


@record
class TrainingCandidates:
    """Scored candidates and which of them meet every per-job limit (layout, precision, HBM).

    Attributes:
        plans, scores: the scored rows: those whose memory fits (all rows when none does, so
            the diagnosis can name the smallest footprint).
        ok: rows meeting every per-job limit.
        num_enumerated: raw combinations of the space; num_valid: rows obeying the layout rules.
    """

    plans: TrainingPlanArrays
    scores: TrainingScores
    ok: np.ndarray
    num_enumerated: int
    num_valid: int

    def feasible(self) -> TrainingCandidates:
        """Only the rows that meet every per-job limit."""
        idx = np.flatnonzero(self.ok)
        return TrainingCandidates(self.plans.take(idx), self.scores.take(idx), np.ones(idx.size, bool),
                                  self.num_enumerated, self.num_valid)


def training_candidates(scenario: TrainingScenario, space: TrainingSearchSpace,
                        budget_gpus: int) -> TrainingCandidates:
    """Enumerate, score and filter the candidates of ``space`` under a GPU budget.

    Memory per GPU is cheap next to the step-time model, so rows that cannot fit in HBM (or
    use a precision the GPU lacks) are dropped before scoring, unless no row fits at all.
    """
    plans = enumerate_training_plans(scenario, space, budget_gpus)
    hw = scenario.hardware
    capacity = hw.gpu.hbm_bytes * TRAINING_HBM_USABLE_FRACTION
    supported = np.array([bool(hw.gpu.peak_flop_per_s.get(p)) for p in PRECISIONS])
    fits = (memory_of(scenario, plans).total <= capacity) & supported[plans.precision]
    scored = plans.take(np.flatnonzero(fits)) if fits.any() else plans
    scores = evaluate_training(scenario, scored)
    return TrainingCandidates(scored, scores, scores.feasible.copy(), space.size(), len(plans))
