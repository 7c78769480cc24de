"""Formatting of training results: pure ``format_*() -> str`` functions for ``--mode training``.

Builds on ``planner.report.tables`` (which alone imports ``tabulate``): the same four formats, the same
column machinery, training's columns (the seed's Inst Steps/s and Tot Steps/s, tokens/s, MFU,
days to train) and readable units for the evaluator's training keys.
"""

from __future__ import annotations

from typing import Any

from planner.report.tables import (
    BOUND_COLUMNS,
    FABRIC_COLUMNS,
    MEMORY_AND_VERDICT_COLUMNS,
    Column,
    _human,
    budget_text,
    flatten,
    format_pairs,
    format_ranked,
    solver_text,
    to_json,
)
from planner.search.training import SECONDS_PER_DAY
from planner.units import tflops

TRAINING_PLAN_COLUMNS = [
    Column("#", "rank"), Column("TPxCPxPPxEPxDP", "layout"),
    Column("vpp", "plan.vpp"), Column("mb", "plan.micro_batch"), Column("recompute", "plan.recompute"),
    Column("ZeRO", "plan.zero"), Column("prec", "plan.precision"), Column("GPUs", "gpus"),
    Column("Tok/GPU(avg)", "tok_per_gpu", ",.1f"), Column("tokens/s", "tokens_per_s", ",.0f"),
    Column("Inst Steps/s", "instance_steps_per_s", ",.3f"), Column("Tot Steps/s", "total_steps_per_s", ",.2f"),
    Column("step s", "step_time_s", ",.2f"), Column("MFU", lambda r: r["mfu"] * 100, ".1f"),
    Column("days", "time_to_train_days", ",.1f"),
    *BOUND_COLUMNS, *FABRIC_COLUMNS, *MEMORY_AND_VERDICT_COLUMNS,
]


def _training_human(key: str, value: Any) -> Any:
    if isinstance(value, float):
        if key == "time_to_train_s":
            return f"{value / SECONDS_PER_DAY:,.1f} days ({value:,.0f} s)"
        if key in ("mfu", "mfu_fp8", "hfu", "bubble_fraction"):
            return f"{value * 100:.2f} %"
        if key == "model_flop_per_s_per_gpu":
            return f"{tflops(value):,.1f} TFLOP/s"
        if key.endswith("steps_per_s"):
            return f"{value:,.3f}"
        if key.endswith("_per_s") or key.endswith("_days"):
            return f"{value:,.1f}"
        if key in ("step_time_s", "micro_batch_s") or key.startswith("time_split_s"):
            return f"{value:,.3f} s"
    return _human(key, value)


def format_training_evaluation(result: dict, fmt: str, title: str | None = None) -> str:
    """One evaluated training layout: JSON object, or a field/value table with readable units."""
    if fmt == "json":
        return to_json(result)
    pairs = [(k, _training_human(k, v) if fmt != "csv" else v) for k, v in flatten(result)]
    return format_pairs(pairs, fmt, title)


def _training_space_text(space: dict) -> str:
    parts = [f"{key} {{{', '.join(str(v) for v in space[key])}}}"
             for key in ("tp", "pp", "vpp", "cp", "ep", "micro_batch", "recompute", "zero", "precision")]
    dp = space["dp"]
    parts.append(f"dp {dp[0]}..{dp[-1]} ({len(dp)} divisors of the global batch)" if len(dp) > 1 else f"dp {{{dp[0]}}}")
    return "; ".join(parts)


def _training_header(doc: dict) -> list[str]:
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


def format_training_result(doc: dict, fmt: str) -> str:
    """A training planner result: header lines, then the optimum and the next best layouts as rows."""
    columns = [c for c in TRAINING_PLAN_COLUMNS if c.header != "days" or doc.get("time_to_train_days") is not None]
    return format_ranked(doc, columns, fmt, _training_header)
