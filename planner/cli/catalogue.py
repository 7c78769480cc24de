"""Catalogue commands: ``gpus``, ``systems``, ``models``, ``fabrics``, ``show``."""

from __future__ import annotations

import click

from models import catalogue as model_catalogue
from planner.report import describe
from planner.cli.options import emit, format_option, pass_catalogue
from planner.report.tables import format_pairs, format_rows
from planner.serving.resolve import catalogue


@click.command("gpus")
@format_option
@pass_catalogue
def gpus(fmt, output, catalogue_dirs):
    """List GPUs with memory, bandwidth, peak FLOP/s and power."""
    rows, cols = describe.gpu_rows(catalogue(catalogue_dirs))
    emit(format_rows(rows, cols, fmt), output)


@click.command("systems")
@format_option
@pass_catalogue
def systems(fmt, output, catalogue_dirs):
    """List systems (servers and racks) with their fabric tiers."""
    rows, cols = describe.system_rows(catalogue(catalogue_dirs))
    emit(format_rows(rows, cols, fmt), output)


@click.command("fabrics")
@format_option
@pass_catalogue
def fabrics(fmt, output, catalogue_dirs):
    """List fabrics with per-GPU bandwidth and message latency."""
    rows, cols = describe.fabric_rows(catalogue(catalogue_dirs))
    emit(format_rows(rows, cols, fmt), output)


@click.command("models")
@format_option
def models(fmt, output):
    """List catalogue models with parameter counts and KV bytes per token."""
    rows, cols = describe.model_rows(model_catalogue.model_names())
    emit(format_rows(rows, cols, fmt), output)


@click.command("show")
@click.argument("kind", type=click.Choice(["gpu", "system", "fabric", "model"]))
@click.argument("name")
@format_option
@pass_catalogue
def show(kind, name, fmt, output, catalogue_dirs):
    """Show one GPU, system, fabric or model: spec, derived figures and sources."""
    pairs = describe.show_pairs(catalogue(catalogue_dirs), kind, name)
    emit(format_pairs(pairs, fmt, title=f"{kind} {name}"), output)


def register(group: click.Group) -> None:
    """Attach the catalogue commands to ``group``."""
    for cmd in (gpus, systems, fabrics, models, show):
        group.add_command(cmd)
