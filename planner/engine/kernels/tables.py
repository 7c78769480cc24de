"""The fitted parameters of the kernel curves, and the one rule for which of them a profile gets.

Each curve keeps its parameters in ``planner/engine/data/kernels/<curve>.toml`` (fitted by
``bench/kernel_fits.py --fit``), one entry per measured (engine, GPU). A profile on a GPU takes
(:func:`pool`), the first that exists:

1. its engine's entry on that GPU;
2. the measured engines' entries on that GPU (the ``default`` profile, a user's profile, or an
   engine without this kernel there), to be pooled by their median;
3. "transferred" (a GPU without kernel rows: MI300X, MI325X, MI355X, H800, ...): its engine's
   entries on every measured GPU, else every measured engine's, pooled by their median and applied
   by the curve to the GPU's own peaks, bandwidth and SM count.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from hardware.toml_file import read_toml
from planner.errors import PlannerError

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "kernels"
# Engines whose kernels the tables measure; a profile of another name pools them.
ENGINES = ("trtllm", "vllm", "sglang")


@cache
def read(curve: str) -> dict:
    """The top-level tables of ``<curve>.toml`` without its ``[sources]``."""
    raw = read_toml(DATA_DIR / f"{curve}.toml", PlannerError, f"the {curve} kernel curve parameters")
    return {key: value for key, value in raw.items() if key != "sources"}


def pool(table: dict, engine: str, gpu: str, has: Callable[[dict], bool] = lambda entry: True,
         engines: tuple[str, ...] = ENGINES) -> tuple[list, bool]:
    """The entries of ``table`` (``{engine: {gpu: entry}}``) that ``engine`` on ``gpu`` takes (module
    docstring), keeping those ``has`` accepts, and whether they were measured on ``gpu``."""
    own = [engine] if engine in table else list(engines)
    for names in (own, engines):
        found = [table[e][gpu] for e in names if gpu in table.get(e, {}) and has(table[e][gpu])]
        if found:
            return found, True
    for names in (own, engines):
        found = [entry for e in names for entry in table.get(e, {}).values() if has(entry)]
        if found:
            return found, False
    return [], False


def median(entries: list[dict], names) -> dict[str, float]:
    """Per-parameter median of ``entries`` (one entry: its own values)."""
    return {name: float(middle([entry[name] for entry in entries])) for name in names}


def middle(values) -> np.ndarray:
    """``np.median(values, axis=0)``, to the bit (the two middle values' sum halved; NaN where a column
    holds one), without ``np.median``, whose NaN check imports ``numpy.ma`` (~6 ms of a plan's start)."""
    ranked = np.sort(np.asarray(values, dtype=float), axis=0)
    mid = len(ranked) // 2
    found = ranked[mid] if len(ranked) % 2 else (ranked[mid - 1] + ranked[mid]) / 2
    return np.where(np.isnan(ranked[-1]), np.nan, found)
