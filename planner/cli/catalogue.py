"""Catalogue commands: ``gpus``, ``systems``, ``models``, ``fabrics``, ``show``."""

from __future__ import annotations

import click

from models import catalogue as model_catalogue
from planner.cli.output import emit, format_option, pass_catalogue
from planner.engine.profile import engine, load_profile
from planner.report import describe
from planner.report.fields import human_field
from planner.report.tables import format_pairs, format_rows
from planner.serving.resolve import catalogue


def everything(dirs):
    """The catalogue with every entry read and cross-checked (a plan reads only the entries it uses): a
    listing or ``show`` reports any bad file of the catalogue, the one it shows or not."""
    return catalogue(dirs).load_all()


# name, help, rows and columns from the --catalogue directories
LISTINGS = (
    ("gpus", "List GPUs with memory, bandwidth, peak FLOP/s and power.",
     lambda dirs: describe.gpu_rows(everything(dirs))),
    ("systems", "List systems (servers and racks) with their fabric tiers.",
     lambda dirs: describe.system_rows(everything(dirs))),
    ("fabrics", "List fabrics with per-GPU bandwidth and message latency.",
     lambda dirs: describe.fabric_rows(everything(dirs))),
    ("models", "List catalogue models with parameter counts and KV bytes per token.",
     lambda dirs: describe.model_rows(model_catalogue.model_names())),
)


def listing(name: str, text: str, rows_of) -> click.Command:
    """A command printing the table ``rows_of(catalogue_dirs)`` gives."""
    @click.command(name, help=text)
    @format_option
    @pass_catalogue
    def command(fmt, output, catalogue_dirs):
        emit(format_rows(*rows_of(catalogue_dirs), fmt), output)
    return command


@click.command("show")
@click.argument("kind", type=click.Choice(["gpu", "system", "fabric", "model", "engine"]))
@click.argument("name")
@format_option
@pass_catalogue
def show(kind, name, fmt, output, catalogue_dirs):
    """Show one GPU, system, fabric, model or engine profile: spec, derived figures and sources.

    An engine is a shipped name or a profile TOML (as `rackplan calibrate` writes): its knobs, per-GPU tables,
    default maximum batch, measured range and sources."""
    if kind == "engine":
        pairs = describe.engine_pairs(load_profile(name) if name.endswith(".toml") else engine(name))
    else:
        pairs = describe.show_pairs(everything(catalogue_dirs), kind, name)
    if fmt in ("table", "markdown"):  # units into the field names, figures in them (JSON/CSV stay SI)
        pairs = [human_field(k, v) for k, v in pairs]
    emit(format_pairs(pairs, fmt, title=f"{kind} {name}"), output)


def register(group: click.Group) -> None:
    """Attach the catalogue commands to ``group``."""
    for args in LISTINGS:
        group.add_command(listing(*args))
    group.add_command(show)
