"""``rackplan compare``: the optimal plan of every scenario of a grid, side by side.

Also defines the grid options (comma-separated value lists, one axis each) that
``rackplan frontier`` shares.
"""

from __future__ import annotations

import click

from planner import quant as quant_modes
from planner.serving import resolve
from planner.cli.options import emit, engine_options, format_option, pass_catalogue
from planner.studies.compare import SERVING, ScenarioSpec, Settings, axis_values, compare, expand, format_compare
from planner.milp.solve import SOLVERS
from planner.serving.space import DEFAULT_MAX_BATCH

DEFAULT_MODEL = "qwen3-235b-a22b"
DEFAULT_SYSTEM = "gb200-nvl72"
DEFAULT_TOKENS_CACHED = 8192


def _split(convert):
    def callback(ctx, param, value):
        if value is None:
            return ()
        items = [v.strip() for v in value.split(",") if v.strip()]
        try:
            return tuple(convert(v) for v in items)
        except ValueError:
            raise click.BadParameter(f"expected a comma-separated list, got '{value}'") from None
    return callback


def _quant_sets(ctx, param, values):
    # Each --quant is one set searched together; repeating the option adds a scenario per set.
    return tuple(quant_modes.parse_modes(v) for v in values)


def _stack(options):
    def apply(func):
        for opt in reversed(options):
            func = opt(func)
        return func
    return apply


grid_options = _stack([
    click.option("--model", "models", callback=_split(str), default=None,
                 help=f"Model name(s), comma-separated (default {DEFAULT_MODEL})."),
    click.option("--system", "systems", callback=_split(str), default=None,
                 help=f"System(s), e.g. gb200-nvl72,mi355x-8,hgx-h200 (default {DEFAULT_SYSTEM})."),
    click.option("--gpu", "gpu_names", callback=_split(str), default=None,
                 help="GPU(s) instead of systems; each uses its default system."),
    click.option("--fabric", "fabrics", callback=_split(str), default=None,
                 help="Fabric(s) replacing the scale-out tiers, e.g. default,400gbe."),
    click.option("--racks", callback=_split(int), default=None, help="Budget(s) in racks, e.g. 1,2,4 (default 1)."),
    click.option("--gpus", "gpu_budgets", callback=_split(int), default=None,
                 help="Budget(s) in GPUs instead of racks, e.g. 8,16."),
    click.option("--tokens-cached", callback=_split(int), default=None,
                 help=f"Steady-state decode context(s), e.g. 2048,8192 (default {DEFAULT_TOKENS_CACHED})."),
    click.option("--isl", callback=_split(int), default=None, help="Prompt length(s); combined with every --osl."),
    click.option("--osl", callback=_split(int), default=None, help="Output length(s)."),
    click.option("--quant", "quants", multiple=True, callback=_quant_sets,
                 help="A weight-quantisation set searched together, e.g. fp8,fp4; repeat the option for one "
                      "scenario per set: --quant bf16 --quant fp8,fp4 (default: every mode the GPU runs)."),
    click.option("--serving", callback=_split(str), default=None,
                 help=f"Serving mode(s): {', '.join(SERVING)} (default agg)."),
    click.option("--min-tok-per-user", callback=_split(float), default=None,
                 help="Per-user decode floor(s), tokens/s, e.g. 0,20,40 (0: no limit)."),
])

fixed_options = _stack([
    click.option("--kv-quant", default=None, help="KV-cache quantisation(s) searched in every scenario."),
    click.option("--kv-offload-fraction", callback=_split(float), default=None,
                 help="KV-offload level(s) searched in every scenario."),
    click.option("--tp", callback=_split(int), default=None, help="Pin tensor-parallel degree(s)."),
    click.option("--pp", callback=_split(int), default=None, help="Pin pipeline stages."),
    click.option("--ep", callback=_split(int), default=None, help="Pin expert-parallel degree(s)."),
    click.option("--dp", callback=_split(int), default=None, help="Pin attention data-parallel degree(s)."),
    click.option("--batch", callback=_split(int), default=None, help="Pin batch size(s) per instance."),
    click.option("--max-batch", type=click.IntRange(min=1), default=DEFAULT_MAX_BATCH, show_default=True,
                 help="Largest batch of the search space."),
    click.option("--max-tpot-ms", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Time-per-output-token ceiling, ms, in every scenario."),
    click.option("--max-ttft-ms", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Time-to-first-token ceiling, ms (isl/osl workloads)."),
    click.option("--max-kw", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Board-power cap, kW, in every scenario."),
    click.option("--solver", type=click.Choice(SOLVERS), default="highs", show_default=True, help="MILP solver."),
    click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="Solver time limit per solve, seconds."),
])


def build(kw: dict, catalogue_dirs) -> tuple[list[ScenarioSpec], Settings]:
    """Scenarios and shared settings from the grid and fixed options (defaults filled in)."""
    models = kw.pop("models") or (DEFAULT_MODEL,)
    systems, gpus = kw.pop("systems"), kw.pop("gpu_names")
    if not systems and not gpus:
        systems = (DEFAULT_SYSTEM,)
    tokens, isl, osl = kw.pop("tokens_cached"), kw.pop("isl"), kw.pop("osl")
    if not tokens and not isl and not osl:
        tokens = (DEFAULT_TOKENS_CACHED,)
    grid = axis_values(models=models, systems=systems, gpus=gpus, racks=kw.pop("racks"),
                       gpu_budgets=kw.pop("gpu_budgets"), tokens_cached=tokens, isl=isl, osl=osl,
                       quants=kw.pop("quants"), fabrics=kw.pop("fabrics"), serving=kw.pop("serving"),
                       min_tok_per_user=kw.pop("min_tok_per_user"))
    pins = {k: kw.pop(k) for k in ("tp", "pp", "ep", "dp", "batch", "kv_offload_fraction")}
    kv = kw.pop("kv_quant")
    pins["kv_quant"] = quant_modes.parse_modes(kv) if kv else ()
    settings = Settings(
        engine_name=kw.pop("engine_name"), profile_path=kw.pop("profile_path"), allow_span=kw.pop("allow_span"),
        seed_moe=kw.pop("seed_moe"), catalogue_dirs=tuple(catalogue_dirs), max_batch=kw.pop("max_batch"),
        pins=tuple((k, tuple(v)) for k, v in pins.items() if v), max_tpot_ms=kw.pop("max_tpot_ms"),
        max_ttft_ms=kw.pop("max_ttft_ms"), max_kw=kw.pop("max_kw"), solver=kw.pop("solver"),
        time_limit_s=kw.pop("time_limit"))
    return expand(grid), settings


@click.command("compare")
@grid_options
@fixed_options
@click.option("--baseline", type=click.IntRange(min=1), default=1, show_default=True,
              help="Row number the ratio columns compare against.")
@engine_options
@format_option
@pass_catalogue
def compare_cmd(baseline, fmt, output, catalogue_dirs, **kw):
    """Optimal plans side by side across systems, budgets, quantisation sets, fabrics, models, contexts.

    Every comma-separated list is an axis; the rows are every combination, in the order model, system,
    budget, context, quant set, fabric, serving, latency floor (the first varies slowest).
    Example: rackplan compare --system gb200-nvl72,hgx-h200 --racks 1,2 --model qwen3-30b-a3b
    """
    specs, settings = build(kw, catalogue_dirs)
    rows = compare(specs, settings, baseline)
    emit(format_compare(rows, fmt, engine=resolve.profile(settings.engine_name, settings.profile_path).name), output)


def register(group: click.Group) -> None:
    """Attach ``compare`` to ``group``."""
    group.add_command(compare_cmd)
