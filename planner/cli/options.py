"""Options shared by several commands, defined once."""

from __future__ import annotations

import functools

import click

from planner.report.tables import FORMATS

CATALOGUE_ENV = "RACKPLAN_CATALOGUE"


def _stack(*decorators):
    def apply(func):
        for deco in reversed(decorators):
            func = deco(func)
        return func
    return apply


def positive_int(name: str):
    """A click type for integers >= 1 whose message names the option."""
    return click.IntRange(min=1)


format_option = _stack(
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                 help="Output format: text table, markdown, CSV or JSON (JSON prints nothing else)."),
    click.option("--output", "output", type=click.Path(dir_okay=False, writable=True), default=None,
                 help="Write the report to FILE instead of stdout."),
)

hardware_options = _stack(
    click.option("--system", default=None, help="System name (see `rackplan systems`), e.g. gb200-nvl72."),
    click.option("--gpu", default=None, help="GPU name (see `rackplan gpus`); uses that GPU's default system."),
    click.option("--fabric", default=None,
                 help="Replace every fabric tier with this fabric (e.g. 400gbe), or 'default'."),
    click.option("--preset", default=None,
                 help="Apply a catalogue preset; 'seed' sets the seed notes' sustained decode TFLOP/s."),
)

model_option = click.option("--model", default=None,
                            help="Model name, Hugging Face id, or path to a config.json.")

workload_options = _stack(
    click.option("--tokens-cached", type=click.IntRange(min=0), default=None,
                 help="Steady-state decode: tokens of context per sequence."),
    click.option("--isl", type=click.IntRange(min=1), default=None, help="Prompt length in tokens."),
    click.option("--osl", type=click.IntRange(min=1), default=None, help="Output length in tokens."),
)

engine_options = _stack(
    click.option("--engine", "engine_name", default=None,
                 help="Serving-engine profile (default, trtllm, vllm, sglang)."),
    click.option("--profile", "profile_path", type=click.Path(dir_okay=False), default=None,
                 help="Engine profile TOML (e.g. written by `rackplan calibrate`); overrides --engine."),
    click.option("--allow-span", is_flag=True, default=False,
                 help="Let an instance cross its scale-up domain; the traffic is charged to the slower tier."),
    click.option("--seed-moe", is_flag=True, default=False,
                 help="Use the seed notes' MoE approximation (12 % shared / 88 % experts) for active parameters."),
)


def emit(text: str, output: str | None) -> None:
    """Print ``text`` or write it to ``output``."""
    if output:
        with open(output, "w") as fh:
            fh.write(text + "\n")
    else:
        click.echo(text)


def pass_catalogue(func):
    """Hand the group's ``--catalogue`` directories to the command as ``catalogue_dirs``."""
    @functools.wraps(func)
    @click.pass_context
    def wrapper(ctx, *args, **kwargs):
        return func(*args, catalogue_dirs=ctx.obj.get("catalogue_dirs", ()), **kwargs)
    return wrapper
