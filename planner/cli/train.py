"""``rackplan train plan|min-gpus|evaluate``: training questions, each one call of the public API.

``rackplan plan --mode training`` (and ``min-gpus``, ``evaluate``) still reach these commands
(``planner.cli.alias``).
"""

from __future__ import annotations

import click

import planner
from planner.cli.options import emit, pass_catalogue, train_defaults, train_evaluate_options, train_plan_options
from planner.report.training import format_training_evaluation, format_training_result


def _result(doc: dict, fmt: str) -> str:
    if fmt != "html":
        return format_training_result(doc, fmt)
    from planner.report.html_pages import training_html
    return training_html(doc)


@click.group("train", epilog=train_defaults)
def train() -> None:
    """Plan and score training jobs: layouts, MFU, memory, time to train."""


@train.command("plan", epilog=train_defaults)
@train_plan_options
@pass_catalogue
def train_plan(fmt, output, **options):
    """Fastest layout of a training job within a budget (MILP, verified by the evaluator)."""
    emit(_result(planner.train_plan(**options), fmt), output)


@train.command("min-gpus", epilog=train_defaults)
@train_plan_options
@pass_catalogue
def train_min_gpus(fmt, output, **options):
    """Fewest GPUs whose job reaches --target-tokens-per-s, or trains --train-tokens within --deadline-days."""
    emit(_result(planner.train_min_gpus(**options), fmt), output)


@train.command("evaluate")
@train_evaluate_options
@pass_catalogue
def train_evaluate(fmt, output, **options):
    """Score one training layout: step time split, MFU, bubble, memory per GPU, time to train."""
    doc = planner.train_evaluate(**options)
    if fmt == "html":
        from planner.report.html_pages import training_evaluation_html
        emit(training_evaluation_html(doc, doc.title), output)
    else:
        emit(format_training_evaluation(doc, fmt, doc.title), output)


def register(group: click.Group) -> None:
    """Attach the ``train`` group to ``group``."""
    group.add_command(train)
