"""Fits of the cost model's kernel curves to the measured kernel tables, and their scores.

Each module listed in ``FITS`` owns one kind of kernel and provides:

* ``score() -> list[Score]``: the shipped curve (parameters as the planner loads them) against
  every row of its tables, one :class:`Score` per (table, system, engine);
* ``fit_text() -> str``: a fresh fit, as the TOML text to store beside the shipped parameters.

``bench/kernel_fits.py`` prints the scores as the table in ``docs/accuracy.md``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

# Module names under this package, one per kernel kind; each engineer adds its own line.
FITS: tuple[str, ...] = (
    "attention",
    "comm",
    "gemm",
    "moe",
)


@dataclass(frozen=True)
class Score:
    """A curve against one kernel table of one system and engine."""

    curve: str        # e.g. "moe"
    table: str        # e.g. "moe_perf"
    system: str       # e.g. "h200_sxm"
    engine: str       # e.g. "vllm"
    rows: int
    mape_pct: float
    median_pct: float
    worst_pct: float
    optimistic_share: float  # rows predicted faster than measured


def score(curve: str, table: str, system: str, engine: str,
          predicted_s: np.ndarray, measured_s: np.ndarray) -> Score:
    """Errors of ``predicted_s`` against ``measured_s`` (equal-length arrays of seconds)."""
    error = (np.asarray(predicted_s, float) - measured_s) / measured_s
    absolute = np.abs(error) * 100.0
    return Score(curve, table, system, engine, int(error.size), float(absolute.mean()),
                 float(np.median(absolute)), float(absolute.max()), float((error < 0).mean()))


def modules():
    """(name, module) of every curve fit, in ``FITS`` order."""
    return [(name, importlib.import_module(f"{__name__}.{name}")) for name in FITS]


def score_all() -> list[Score]:
    return [s for _, module in modules() for s in module.score()]


def table_markdown(scores: list[Score]) -> str:
    """The scores as a markdown table, one row per (curve, table, system, engine)."""
    lines = ["| curve | table | system | engine | rows | MAPE % | median % | worst % | faster than measured |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for s in scores:
        lines.append(f"| {s.curve} | {s.table} | {s.system} | {s.engine} | {s.rows:,} | {s.mape_pct:.1f} "
                     f"| {s.median_pct:.1f} | {s.worst_pct:.0f} | {s.optimistic_share:.0%} |")
    return "\n".join(lines)
