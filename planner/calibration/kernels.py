"""Kernel timing tables (``calibration/kernels/``): read one table across systems and engines.

The tables need pyarrow (the ``calibrate`` extra); the planner itself never reads them. Columns come
back as numpy arrays, one dict per table, with ``system`` and ``engine`` added from the path and
``latency_s`` converted once from the table's ``latency`` column (milliseconds, or microseconds for the
tables in `LATENCY_IN_US`; tables without that column, such as the DeepEP ones with ``*_us`` columns, get none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from planner import units
from planner.errors import PlannerError

# The tables ship in the repository, not in the wheel: beside the package in a checkout (editable
# install), else in the working directory's checkout (a plain install run from the repository root).
_CANDIDATES = (Path(__file__).resolve().parents[2] / "calibration" / "kernels", Path.cwd() / "calibration" / "kernels")
KERNELS_DIR = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
# Catalogue GPU names of the tables' systems (hardware/data/gpus/*.toml).
SYSTEM_GPUS = {"h100_sxm": "h100-sxm", "h200_sxm": "h200-sxm", "b200_sxm": "b200", "gb200": "gb200",
               "b300_sxm": "b300", "gb300": "gb300"}


# Tables whose ``latency`` column is microseconds, not milliseconds: moe_a2a_perf's equals its own
# ``transmit_us`` column row by row (e.g. B200 DeepEP combine, 16 tokens: 59.9 and 59.9).
LATENCY_IN_US = frozenset({"moe_a2a_perf"})


def _pyarrow():
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise PlannerError("reading kernel tables needs pyarrow: pip install -e '.[calibrate]'") from exc
    return pq


def readable(root: Path = KERNELS_DIR) -> bool:
    """Whether the tables can be read here: pyarrow installed and the tables' folder present (a checkout, or a
    plain install run from one)."""
    try:
        _pyarrow()
    except PlannerError:
        return False
    return root.is_dir()


def paths(table: str, system: str | None = None, engine: str | None = None,
          root: Path = KERNELS_DIR) -> list[Path]:
    """Parquet files of ``table`` (e.g. ``moe_perf``), optionally of one system and engine, sorted."""
    found = sorted(root.glob(f"{system or '*'}/*/{engine or '*'}/*/{table}.parquet"))
    if not found:
        raise PlannerError(f"no kernel table {table!r} for system {system or 'any'}, engine {engine or 'any'} "
                           f"under {root}: see calibration/kernels/README.md for the tables")
    return found


def load(table: str, system: str | None = None, engine: str | None = None,
         columns: list[str] | None = None, root: Path = KERNELS_DIR) -> list[dict[str, np.ndarray]]:
    """Every file of ``table`` as a dict of numpy columns plus ``system``, ``engine``, ``latency_s``."""
    pq = _pyarrow()
    frames = []
    for path in paths(table, system, engine, root):
        names = pq.read_schema(path).names
        wanted = None if columns is None else sorted((set(columns) | {"latency"}) & set(names))
        data = pq.read_table(path, columns=wanted).to_pydict()
        frame = {name: np.asarray(values) for name, values in data.items()}
        if "latency" in frame:
            frame["latency_s"] = (units.from_us if table in LATENCY_IN_US else units.from_ms)(frame["latency"])
        rel = path.relative_to(root).parts
        frame["system"], frame["engine"] = rel[0], rel[2]
        frames.append(frame)
    return frames
