"""A scenario grid from value lists, with the serving defaults filled in (``compare`` and ``frontier``).

``scenarios`` turns one list per axis into the ``ScenarioSpec`` rows of ``planner.studies.compare``
(an empty axis takes the default: the default model and system, one rack, 8,192 tokens cached);
``settings`` gathers what every scenario shares. ``None`` means "the default" throughout.
"""

from __future__ import annotations

from planner import quant as quant_modes
from planner.studies.compare import ScenarioSpec, Settings, axis_values, expand
from planner.studies.serving import DEFAULT_MODEL, DEFAULT_SOLVER, DEFAULT_SYSTEM, DEFAULT_TOKENS_CACHED

PINS = ("tp", "pp", "ep", "dp", "batch", "kv_offload_fraction")


def scenarios(*, models=None, systems=None, gpus=None, racks=None, gpu_budgets=None, tokens_cached=None, isl=None,
              osl=None, arrivals=None, quants=None, fabrics=None, serving=None,
              min_tok_per_user=None) -> list[ScenarioSpec]:
    """Every combination of the axes' values, in ``compare.AXES`` order (defaults for empty axes)."""
    if not systems and not gpus:
        systems = (DEFAULT_SYSTEM,)
    if not tokens_cached and not isl and not osl:
        tokens_cached = (DEFAULT_TOKENS_CACHED,)
    grid = axis_values(models=models or (DEFAULT_MODEL,), systems=systems or (), gpus=gpus or (),
                       racks=racks or (), gpu_budgets=gpu_budgets or (), tokens_cached=tokens_cached or (),
                       isl=isl or (), osl=osl or (), arrivals=arrivals or (),
                       quants=[quant_modes.parse_modes(q) for q in quants or ()],
                       fabrics=fabrics or (), serving=serving or (), min_tok_per_user=min_tok_per_user or ())
    return expand(grid)


def settings(*, engine_name=None, profile_path=None, allow_span=False, seed_moe=False, allow_long_context=False,
             catalogue_dirs=(),
             max_batch=None, kv_quant=None, max_tpot_ms=None, max_ttft_ms=None, latency_margin=None, max_kw=None,
             solver=None, time_limit_s=None,
             **pins) -> Settings:
    """What every scenario shares; ``pins`` restrict the search space (``tp``, ``batch``, ...: value lists)."""
    unknown = set(pins) - set(PINS)
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}")
    values = {k: tuple(pins[k]) for k in PINS if pins.get(k)}
    if kv_quant:
        values["kv_quant"] = quant_modes.parse_modes(kv_quant)
    return Settings(engine_name=engine_name, profile_path=profile_path, allow_span=bool(allow_span),
                    seed_moe=bool(seed_moe), allow_long_context=bool(allow_long_context),
                    catalogue_dirs=tuple(catalogue_dirs or ()),
                    max_batch=max_batch, pins=tuple(values.items()),
                    max_tpot_ms=max_tpot_ms, max_ttft_ms=max_ttft_ms, latency_margin=latency_margin, max_kw=max_kw,
                    solver=solver or DEFAULT_SOLVER,
                    time_limit_s=time_limit_s)
