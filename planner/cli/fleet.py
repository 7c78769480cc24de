"""``rackplan fleet``: several models on a fleet of mixed hardware, planned in one MILP."""

from __future__ import annotations

import click

from planner.cli.options import (
    emit,
    engine_choice,
    floor_option,
    given,
    html_format_option,
    latency_options,
    pass_catalogue,
    solver_options,
    workload_options,
)
from planner.cli.progress import progress_options
from planner.cli.types import POSITIVE
from planner.errors import InputError
from planner.fleet.optimise import plan_fleet
from planner.fleet.spec import SERVING, Overrides, load
from planner.report.fleet_summary import fleet_document
from planner.report.tables import format_fleet
from planner.serving import resolve

MINIMISE = ("gpus", "cost", "power")


def _model_option(ctx, param, values):
    """``NAME=TPS`` pairs (``NAME`` alone when maximising)."""
    out = []
    for text in values:
        name, _, tps = text.partition("=")
        if not name.strip():
            raise click.BadParameter(f"expected NAME=TPS, got '{text}'")
        try:
            target = POSITIVE.convert(tps, param, ctx) if tps.strip() else None
        except click.BadParameter:
            raise click.BadParameter(f"target of '{text}' must be a finite number > 0 (tokens/s)") from None
        out.append((name.strip(), target))
    return tuple(out)


@click.command("fleet")
@click.argument("fleet_file", type=click.Path(dir_okay=False))
@click.option("--minimise", type=click.Choice(MINIMISE), default=None,
              help="Objective: fewest GPUs, least cost per hour or least power meeting every target.")
@click.option("--maximise", type=click.Choice(("tps",)), default=None,
              help="Objective: most weighted output tokens/s (or the most at fixed shares) within the fleet.")
@click.option("--max-kw", type=POSITIVE, default=None,
              help="Power cap over the GPUs in use, kW (overrides [plan] max_kw).")
@click.option("--max-cost-per-hour", type=POSITIVE, default=None,
              help="Price cap over the GPUs in use, per hour (overrides [plan] max_cost_per_hour).")
@click.option("--serving", type=click.Choice(SERVING), default=None,
              help="Serving mode for every model: aggregated, disaggregated, or either (overrides the file).")
@click.option("--model", "models", multiple=True, callback=_model_option,
              help="NAME=TPS: serve this model at this many output tokens/s instead of the file's [[model]] "
                   "tables (repeatable; --tokens-cached, --isl, --osl and the latency limits apply to these).")
@workload_options
@latency_options
@floor_option
@engine_choice
@solver_options
@html_format_option
@progress_options("fleet: step")
@pass_catalogue
def fleet_cmd(fleet_file, minimise, maximise, max_kw, max_cost_per_hour, serving, models, tokens_cached, isl, osl,
              max_tpot_ms, min_tok_per_user, max_ttft_ms, engine_name, profile_path, solver, time_limit_s, fmt,
              output, progress, catalogue_dirs):
    """Plan several models on a fleet of mixed hardware (FLEET_FILE: TOML, see examples/fleet.toml).

    Each model may be served aggregated or as prefill and decode pools, on any hardware kind
    (prefill on one, decode on another); the MILP picks layouts and instance counts for all at once.
    """
    if minimise and maximise:
        raise InputError("give --minimise or --maximise, not both")
    objective = f"min_{minimise}" if minimise else ("max_tps" if maximise else None)
    extra = {k: v for k, v in (("tokens_cached", tokens_cached), ("isl", isl), ("osl", osl),
                               ("max_tpot_ms", max_tpot_ms), ("min_tok_per_user", min_tok_per_user),
                               ("max_ttft_ms", max_ttft_ms)) if v is not None}
    if extra and not models:
        raise InputError(f"--{next(iter(extra)).replace('_', '-')} applies to --model NAME=TPS models; "
                         "the file's [[model]] tables set their own workloads and limits")
    cli_models = tuple({"name": name, **({"target_tps": tps} if tps is not None else {}), **extra}
                       for name, tps in models)
    profile = resolve.profile(engine_name, profile_path) if engine_name or profile_path else None
    overrides = Overrides(objective=objective, max_kw=max_kw, max_cost_per_hour=max_cost_per_hour, serving=serving,
                          profile=profile, models=cli_models)
    fleet = load(fleet_file, resolve.catalogue(catalogue_dirs), overrides)
    result = plan_fleet(fleet, **given({"solver": solver, "time_limit_s": time_limit_s}), progress=progress)
    progress.clear()
    doc = fleet_document(result)
    if fmt == "html":
        from planner.report.html_pages import fleet_html
        emit(fleet_html(doc), output)
    else:
        emit(format_fleet(doc, fmt), output)


def register(group: click.Group) -> None:
    """Attach ``fleet`` to ``group``."""
    group.add_command(fleet_cmd)
