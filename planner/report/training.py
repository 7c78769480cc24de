"""Formatting of training results: pure ``format_*() -> str`` functions for ``--mode training``.

Builds on ``planner.report.tables`` (which alone imports ``tabulate``): the same four formats, the same
column machinery, training's columns (micro-batches per second per replica and in all, the seed's
Inst Steps/s and Tot Steps/s; tokens/s, MFU,
days to train) and readable units for the evaluator's training keys.
"""

from __future__ import annotations

from typing import Any

from planner.report.fields import human_field
from planner.report.tables import (
    BOUND_COLUMNS,
    FABRIC_COLUMNS,
    MEMORY_AND_VERDICT_COLUMNS,
    Column,
    budget_text,
    flatten,
    format_pairs,
    format_ranked,
    solver_text,
    to_json,
)
from planner.units import tflops

TRAINING_PLAN_COLUMNS = [
    Column("#", "rank"), Column("TPxCPxPPxEPxDP", "layout"),
    Column("vpp", "plan.vpp"), Column("mb", "plan.micro_batch"), Column("recompute", "plan.recompute"),
    Column("ZeRO", "plan.zero"), Column("prec", "plan.precision"), Column("GPUs", "gpus"),
    # Micro-batches per second (per data-parallel replica, and over all of them) are not optimiser steps:
    # their headers say so, beside "step s" (seconds per optimiser step).
    Column("tok/s/GPU", "tok_per_gpu", ",.1f"), Column("tok/s", "tokens_per_s", ",.0f"),
    Column("mb/s/replica", "instance_steps_per_s", ",.3f"), Column("mb/s", "total_steps_per_s", ",.2f"),
    Column("step s", "step_time_s", ",.2f"), Column("MFU %", lambda r: r["mfu"] * 100, ".1f"),
    Column("days", "time_to_train_days", ",.1f"),
    *BOUND_COLUMNS, *FABRIC_COLUMNS, *MEMORY_AND_VERDICT_COLUMNS,
]


def _training_field(key: str, value: Any) -> tuple[str, Any]:
    """``(label, value)`` of a training field: seconds, days and percent; the rest as ``human_field``."""
    head, _, rest = key.partition(".")

    def number(fmt: str, scale: float = 1.0) -> Any:
        return format(value * scale, fmt) if isinstance(value, float) else value

    if key in ("mfu", "mfu_fp8", "hfu", "bubble_fraction"):
        return f"{key} (%)", number(".2f", 100)
    if key == "model_flop_per_s_per_gpu":
        return "model_flop_per_gpu (TFLOP/s)", tflops(value) if value is None else format(tflops(value), ",.1f")
    if key in ("instance_steps_per_s", "total_steps_per_s"):  # micro-batches, not optimiser steps
        return f"{key[:-len('steps_per_s')]}micro_batches (1/s)", number(",.3f")
    if key == "steps_per_s":
        return "optimiser_steps (1/s)", number(",.3f")
    if key == "time_to_train_s":
        return "time_to_train (s)", number(",.0f")
    if key.endswith("_days"):
        return f"{key[:-5]} (days)", number(",.1f")
    if key.endswith("tokens_per_s"):
        return key, number(",.1f")
    if key in ("step_time_s", "micro_batch_s") or head == "time_split_s":
        name = head[:-2] + (f".{rest}" if rest else "")
        return f"{name} (s)", number(",.3f")
    return human_field(key, value)


def training_pairs(result: dict) -> list[tuple[str, Any]]:
    """An evaluated training layout as (label, value) pairs with readable units."""
    return [_training_field(k, v) for k, v in flatten(result)]


def format_training_evaluation(result: dict, fmt: str, title: str | None = None) -> str:
    """One evaluated training layout: JSON object, or a field/value table with readable units."""
    if fmt == "json":
        return to_json(result)
    return format_pairs(training_pairs(result) if fmt != "csv" else flatten(result), fmt, title)


def _training_space_text(space: dict) -> str:
    parts = [f"{key} {{{', '.join(str(v) for v in space[key])}}}"
             for key in ("tp", "pp", "vpp", "cp", "ep", "micro_batch", "recompute", "zero", "precision")]
    dp = space["dp"]
    parts.append(f"dp {dp[0]}..{dp[-1]} ({len(dp)} divisors of the global batch)" if len(dp) > 1 else f"dp {{{dp[0]}}}")
    return "; ".join(parts)


def training_header(doc: dict) -> list[str]:
    sc = doc["scenario"]
    w = sc["workload"]
    counts = doc["search_space"]["counts"]
    target = sc.get("target_tokens_per_s")
    objective = "maximise tokens/s" if doc["objective"] == "max_tokens_per_s" else \
        f"fewest GPUs reaching {target:,.0f} tokens/s"
    tokens = f", {w['tokens_to_train']:,.3g} tokens to train" if w.get("tokens_to_train") else ""
    return [
        f"training {sc['model']} on {sc['system']} ({sc['gpu']}): {w['global_batch_sequences']:,} sequences of "
        f"{w['sequence_tokens']:,} tokens per step, {w['optimiser']}{tokens}",
        f"objective: {objective}; {budget_text(sc['budget'])}"
        + (f"; at least {target:,.0f} tokens/s" if target and doc["objective"] != "min_gpus" else ""),
        f"search space: {_training_space_text(doc['search_space'])}",
        f"candidates: {counts['enumerated']:,} enumerated, {counts['layout_valid']:,} valid layouts, "
        f"{counts['feasible']:,} fit in memory, {counts['milp_columns']} MILP columns after pruning",
        solver_text(doc),
    ]


def training_columns(doc: dict) -> list[Column]:
    """The training table's columns ("days" only when the job has tokens to train)."""
    return [c for c in TRAINING_PLAN_COLUMNS if c.header != "days" or doc.get("time_to_train_days") is not None]


def format_training_result(doc: dict, fmt: str) -> str:
    """A training planner result: header lines, then the optimum and the next best layouts as rows."""
    return format_ranked(doc, training_columns(doc), fmt, training_header)
