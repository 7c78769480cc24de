"""The declared search space of the planner: finite lists of every decision.

The MILP's optimum is the best plan *in this space*; the report prints it. Defaults:

* tp, dp: powers of two up to the scale-up domain (64 at most); pp: 1, 2, 4, 8;
* ep: powers of two dividing the routed experts, up to tp x dp (1 for dense models);
* batch: 1, 2, 3, 4, 6, 8, 12, ... (powers of two and 1.5x powers of two) up to the engine's
  default maximum (``EngineProfile.max_batch``: vLLM 1024, TensorRT-LLM 2048), else 4096;
* weight quantisation: bf16, fp8, and fp4 where the GPU has FP4 tensor cores;
* KV quantisation: bf16, fp8; KV-offload fraction: 0, 0.25, 0.5.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace

from planner import quant
from planner.errors import InputError
from planner.serving.scenario import Scenario
from specbase.record import record

DEFAULT_MAX_BATCH = 4096
DEFAULT_OFFLOAD_LEVELS = (0.0, 0.25, 0.5)
# A fraction read back from a plan may differ from the declared one in the last bits.
FLOAT_MEMBER_TOLERANCE = 1e-12


def powers_of_two(limit: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to ``limit``."""
    out, v = [], 1
    while v <= limit:
        out.append(v)
        v *= 2
    return tuple(out)


def batch_ladder(limit: int) -> tuple[int, ...]:
    """Powers of two and 1.5x powers of two up to ``limit`` (1, 2, 3, 4, 6, 8, 12, ...)."""
    values = set(powers_of_two(limit)) | {3 * v // 2 for v in powers_of_two(limit) if v >= 2 and 3 * v // 2 <= limit}
    return tuple(sorted(values))


class DeclaredSpace:
    """Behaviour shared by frozen dataclasses of per-decision value tuples (serving and training)."""

    def as_dict(self) -> dict:
        """JSON-ready declaration."""
        return {k: list(v) for k, v in asdict(self).items()}

    def size(self) -> int:
        """Number of raw combinations before validity filtering."""
        n = 1
        for f in fields(self):  # not asdict, which deep-copies every value tuple (~0.1 ms a call)
            n *= len(getattr(self, f.name))
        return n

    def contains(self, plan) -> bool:
        """Whether every decision of ``plan`` is among the declared values (fractions to within a rounding)."""
        return all(_member(getattr(plan, f.name), getattr(self, f.name)) for f in fields(self))

    def check_counts(self, keys: tuple[str, ...], what: str) -> None:
        """Each of ``keys`` lists at least one value and none below 1; ``InputError`` naming ``what`` otherwise."""
        for key in keys:
            values = getattr(self, key)
            if not values or min(values) < 1:
                raise InputError(f"{what}: {key} values must be >= 1 (got {list(values)})")

    def pinned(self, **pins):
        """Restrict decisions to given values (``None`` leaves a decision free)."""
        changes = {k: tuple(v) if isinstance(v, (list, tuple)) else (v,) for k, v in pins.items() if v is not None}
        return replace(self, **changes)


def _member(value, values: tuple) -> bool:
    if isinstance(value, float) or any(isinstance(v, float) for v in values):
        return any(abs(value - v) < FLOAT_MEMBER_TOLERANCE for v in values)
    return value in values


def expert_degrees(model) -> tuple[int, ...]:
    """Expert-parallel degrees worth trying: powers of two dividing the routed experts, up to 64 (dense: 1)."""
    if model.moe is None:
        return (1,)
    return tuple(e for e in powers_of_two(min(64, model.moe.num_experts)) if model.moe.num_experts % e == 0)


@record
class SearchSpace(DeclaredSpace):
    """Finite value lists for every serving decision."""

    tp: tuple[int, ...]
    pp: tuple[int, ...]
    dp: tuple[int, ...]
    ep: tuple[int, ...]
    batch: tuple[int, ...]
    quant: tuple[str, ...]
    kv_quant: tuple[str, ...]
    kv_offload_fraction: tuple[float, ...]


def default_space(scenario: Scenario, max_batch: int | None = None) -> SearchSpace:
    """The default search space for a scenario (see module docstring); ``max_batch`` None is the
    engine's own default maximum (`EngineProfile.max_batch`), else `DEFAULT_MAX_BATCH`."""
    if max_batch is None:
        max_batch = scenario.engine_profile.max_batch or DEFAULT_MAX_BATCH
    hw = scenario.hardware
    limit = hw.scale_up_domain_gpus if not scenario.allow_span else max(hw.scale_up_domain_gpus, hw.gpus_per_rack)
    limit = min(limit, 64)
    degrees = powers_of_two(limit)
    model = scenario.model
    quants = ["bf16", "fp8"]
    if hw.gpu.peak_flop_per_s.get("fp4"):
        quants.append("fp4")
    return SearchSpace(
        tp=degrees, pp=tuple(p for p in (1, 2, 4, 8) if p <= model.num_hidden_layers), dp=degrees,
        ep=expert_degrees(model),
        batch=batch_ladder(max_batch), quant=tuple(quants), kv_quant=("bf16", "fp8"),
        kv_offload_fraction=DEFAULT_OFFLOAD_LEVELS,
    )


def validate(space: SearchSpace) -> SearchSpace:
    """Check values are in range; quantisation names are known."""
    space.check_counts(("tp", "pp", "dp", "ep", "batch"), "search space")
    for f in space.kv_offload_fraction:
        if not 0.0 <= f <= 1.0:
            raise InputError(f"search space: kv_offload_fraction must lie in [0, 1] (got {f})")
    return replace(space, quant=quant.parse_modes(space.quant), kv_quant=quant.parse_modes(space.kv_quant))
