"""Sweeps: a grid file expands to scenarios; each is planned, verified and written as it finishes.

The grid file (TOML) lists values per axis; every combination is one scenario, numbered in
the order of ``planner.studies.compare.AXES`` (models vary slowest)::

    models = ["qwen3-30b-a3b", "llama-3.1-8b"]
    systems = ["hgx-h200", "mi355x-8"]          # or gpus = [...]
    racks = [1, 2]                              # or gpu_budgets = [8, 16]
    tokens_cached = [2048, 8192]                # and/or workloads = [{isl = 1024, osl = 1024}]
    min_tok_per_user = [0, 40]                  # 0: no latency limit
    fabrics = ["default", "400gbe"]
    quants = [["fp8", "fp4"]]                   # optional; each entry is one set searched together
    serving = ["agg"]                           # optional

    [settings]                                  # optional; shared by every scenario
    max_batch = 512
    kv_quant = ["fp8"]

Rows stream to CSV or JSON Lines: each row is written and flushed as soon as the executor hands
it back (completion order; worker processes and Ray return a few rows per task, see
``planner.studies.executors``), so an interrupted sweep loses no finished row. When the sweep
completes, the file is rewritten sorted by scenario index, so the finished file is the same,
row for row, whichever executor ran it. ``resume`` keeps the rows already in the file (after
checking they belong to this grid), drops a torn last line, and runs only the rest.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hardware.toml_file import read_toml
from planner.errors import InputError
from planner.files import write_text
from planner.serving.coverage import range_flag
from planner.serving.workload import Workload
from planner.studies.compare import ScenarioSpec, Settings, axis_values, expand, plan_row
from planner.studies.executors import run_unordered
from specbase.record import record

SWEEP_FORMATS = ("csv", "jsonl")
# Grid values are bounded as the command-line options are (planner.cli.options): beyond these an
# int64 overflows or the search space explodes.
Degree = Annotated[int, Field(ge=1, le=1_000_000)]
Racks = Annotated[int, Field(ge=1, le=10_000)]
Tokens = Annotated[int, Field(ge=0, le=100_000_000)]
Floor = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Name = Annotated[str, Field(min_length=1)]
FIELDS = (
    "index", "scenario", "model", "system", "gpu", "fabric", "racks", "gpu_budget", "tokens_cached", "isl", "osl",
    "arrivals", "quant_set", "serving", "min_tok_per_user", "status", "reason", "layout", "tp", "pp", "ep", "dp",
    "batch", "quant", "kv_quant", "kv_offload_fraction", "instances", "gpus", "tok_per_gpu", "instance_tps",
    "total_tps", "tok_per_user", "ttft_s", "limit", "bound_compute_tok_per_gpu", "bound_hbm_tok_per_gpu",
    "bound_comm_tok_per_gpu", "intra_server_gb_per_s", "inter_server_gb_per_s", "inter_rack_gb_per_s",
    "memory_per_gpu_bytes", "power_kw", "measured_range", "outside_measured_range", "verified",
)


class GridSettings(BaseModel):
    """The ``[settings]`` table: what every scenario shares."""

    model_config = ConfigDict(defer_build=True, extra="forbid", allow_inf_nan=False)

    engine: Name | None = None
    profile: str | None = Field(None, description="engine profile TOML, relative to the grid file")
    allow_span: bool = False
    seed_moe: bool = False
    max_batch: int | None = Field(None, ge=1, le=1_000_000)
    tp: list[Degree] | None = None
    pp: list[Degree] | None = None
    ep: list[Degree] | None = None
    dp: list[Degree] | None = None
    batch: list[Degree] | None = None
    kv_quant: list[Name] | None = None
    kv_offload_fraction: list[Share] | None = None
    max_tpot_ms: float | None = Field(None, gt=0)
    max_ttft_ms: float | None = Field(None, gt=0)
    max_kw: float | None = Field(None, gt=0)
    solver: str = "highs"
    time_limit_s: float | None = Field(None, gt=0)


class GridFile(BaseModel):
    """A sweep grid: one list per axis."""

    model_config = ConfigDict(defer_build=True, extra="forbid", allow_inf_nan=False)

    models: list[Name] = Field(min_length=1)
    systems: list[Name] = []
    gpus: list[Name] = []
    racks: list[Racks] = []
    gpu_budgets: list[Degree] = []
    tokens_cached: list[Tokens] = []
    workloads: list[Workload] = []
    min_tok_per_user: list[Floor] = []
    fabrics: list[Name] = []
    quants: list[list[Name]] = []
    serving: list[Name] = []
    settings: GridSettings = GridSettings()


def load_grid(path: str | Path, catalogue_dirs=()) -> tuple[list[ScenarioSpec], Settings]:
    """Scenarios and shared settings of a grid file; one-line ``InputError`` on any problem."""
    path = Path(path)
    raw = read_toml(path, InputError, "the grid")
    try:
        grid = GridFile(**raw)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key also leaves the right one missing: name the misspelling, it is the cause.
        # (a workload is a record, not a pydantic model: pydantic reports its unknown key as an unexpected argument)
        unknown = ("extra_forbidden", "unexpected_keyword_argument")
        err = next((e for e in errors if e["type"] in unknown), errors[0])
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] in unknown:
            known = [f.name for f in dataclasses.fields(Workload)] if key.startswith("workloads.") else \
                list(GridSettings.model_fields if key.startswith("settings.") else GridFile.model_fields)
            close = difflib.get_close_matches(key.split(".")[-1], known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known)}"
            raise InputError(f"{path}: unknown key '{key}'; {hint}") from None
        msg = err["msg"].removeprefix("Value error, ")
        raise InputError(f"{path}: key '{key}': {msg}") from None
    if not grid.systems and not grid.gpus:
        raise InputError(f"{path}: give 'systems' (or 'gpus'): the hardware axis is empty")
    if not grid.tokens_cached and not grid.workloads:
        raise InputError(f"{path}: give 'tokens_cached' (or 'workloads'): the context axis is empty")
    workloads = [{k: v for k, v in dataclasses.asdict(w).items() if v is not None} for w in grid.workloads]
    axes = axis_values(models=grid.models, systems=grid.systems, gpus=grid.gpus, racks=grid.racks,
                       gpu_budgets=grid.gpu_budgets, tokens_cached=grid.tokens_cached, workloads=workloads,
                       quants=[tuple(q) for q in grid.quants], fabrics=grid.fabrics, serving=grid.serving,
                       min_tok_per_user=grid.min_tok_per_user)
    s = grid.settings
    pins = {k: getattr(s, k) for k in ("tp", "pp", "ep", "dp", "batch", "kv_quant", "kv_offload_fraction")}
    profile = None if s.profile is None else str((path.parent / s.profile).resolve())
    settings = Settings(engine_name=s.engine, profile_path=profile, allow_span=s.allow_span, seed_moe=s.seed_moe,
                        catalogue_dirs=tuple(catalogue_dirs), max_batch=s.max_batch,
                        pins=tuple((k, tuple(v)) for k, v in pins.items() if v), max_tpot_ms=s.max_tpot_ms,
                        max_ttft_ms=s.max_ttft_ms, max_kw=s.max_kw, solver=s.solver, time_limit_s=s.time_limit_s)
    return expand(axes), settings


def flat_row(row: dict) -> dict:
    """A ``plan_row`` as one flat record with the ``FIELDS`` keys (SI units; GB/s for fabric load)."""
    sc = row["scenario"]
    ok = row["status"] == "ok"
    plan = row.get("plan") or {}
    bounds = row.get("bounds_tok_per_gpu") or {}
    load = row.get("fabric_load_gb_per_s") or {}
    out = {
        "index": row["index"], "scenario": row["label"], "model": sc["model"],
        "system": row.get("system_name") or sc["system"], "gpu": row.get("gpu_name") or sc["gpu"],
        "fabric": sc["fabric"], "racks": sc["racks"], "gpu_budget": sc["gpus"], "tokens_cached": sc["tokens_cached"],
        "isl": sc["isl"], "osl": sc["osl"], "arrivals": sc["arrivals"] if sc["isl"] is not None else None,
        "quant_set": ",".join(sc["quant"]) if sc["quant"] else None,
        "serving": sc["serving"], "min_tok_per_user": sc["min_tok_per_user"], "status": row["status"],
        "reason": None if row["reason"] is None else " ".join(row["reason"].split()),  # one line per row
        "layout": row.get("layout"),
    }
    for key in ("tp", "pp", "ep", "dp", "batch", "quant", "kv_quant", "kv_offload_fraction", "instances"):
        out[key] = plan.get(key)
    for key in ("gpus", "tok_per_gpu", "instance_tps", "total_tps", "tok_per_user", "ttft_s", "limit", "power_kw"):
        out[key] = row.get(key)
    for key in ("compute", "hbm", "comm"):
        out[f"bound_{key}_tok_per_gpu"] = bounds.get(key)
    for key in ("intra_server", "inter_server", "inter_rack"):
        out[f"{key}_gb_per_s"] = load.get(key)
    out["memory_per_gpu_bytes"] = (row.get("memory_per_gpu_bytes") or {}).get("total")
    outside = row.get("outside_measured_range")  # one line per figure outside (planner.serving.coverage)
    out["measured_range"] = range_flag(outside)
    out["outside_measured_range"] = "; ".join(outside) if outside else None
    out["verified"] = row["verification"]["ok"] if ok else None
    return {k: out[k] for k in FIELDS}


def sweep_task(item: tuple[int, ScenarioSpec, Settings]) -> dict:
    """Plan one scenario of a sweep (module level, so worker processes and Ray can pickle it)."""
    index, spec, settings = item
    return flat_row(plan_row(spec, settings, index))


def output_format(path: str | Path, fmt: str | None) -> str:
    """``fmt``, or the one the file name implies (.csv; .jsonl/.ndjson)."""
    if fmt:
        if fmt not in SWEEP_FORMATS:
            raise InputError(f"unknown sweep format '{fmt}'; choose one of: {', '.join(SWEEP_FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InputError(f"cannot tell the format of '{path}' from its name: use .csv or .jsonl, or give --format")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else repr(value)
    return str(value)


def encode(record: dict, fmt: str) -> str:
    """One record as one line (with its newline)."""
    if fmt == "jsonl":
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        return json.dumps(clean) + "\n"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_cell(record[k]) for k in FIELDS])
    return buf.getvalue()


def _header(fmt: str) -> str:
    if fmt != "csv":
        return ""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(FIELDS)
    return buf.getvalue()


def _row_key(line: str, fmt: str) -> tuple[int, str] | None:
    """(index, scenario label) of one results line, or ``None`` when the line is damaged."""
    try:
        if fmt == "csv":
            cells = next(csv.reader([line]))
            if len(cells) != len(FIELDS):
                return None
            index, label = cells[0], cells[1]
        else:
            record = json.loads(line)
            if not isinstance(record, dict):
                return None
            index, label = record.get("index"), record.get("scenario")
        if isinstance(index, bool) or not isinstance(index, (int, str)) or not isinstance(label, str):
            return None
        return int(index), label
    except (ValueError, StopIteration, csv.Error, RecursionError):
        return None


def read_rows(path: Path, fmt: str) -> tuple[list[tuple[int, str, str]], int]:
    """(index, scenario label, line) of every complete row in ``path``, and the number of damaged lines.

    A torn last line (an interrupted write) and any line that is not a row of this format (an
    empty line, a bad index, a JSON array) are left out and counted; their scenarios run again.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the results to resume ({exc.strerror})") from None
    lines = text.splitlines(keepends=True)
    damaged = 0
    if lines and not lines[-1].endswith("\n"):  # a row cut short by an interruption: it will rerun
        lines.pop()
        damaged += 1
    if fmt == "csv":
        if not lines:
            return [], damaged
        if lines[0] != _header(fmt):
            raise InputError(f"{path}: not a sweep CSV of this version (header differs); remove it or use another file")
        lines = lines[1:]
    out = []
    for line in lines:
        key = _row_key(line, fmt)
        if key is None:
            damaged += 1
        else:
            out.append((*key, line))
    return out, damaged


def finished(path: Path, fmt: str, specs: list[ScenarioSpec]) -> tuple[set[int], int]:
    """Indices already in ``path`` (each checked to be the same scenario of this grid), and damaged lines."""
    done = set()
    rows, damaged = read_rows(path, fmt)
    for index, label, _ in rows:
        if not 0 <= index < len(specs) or specs[index].label() != label:
            raise InputError(f"{path}: row {index} ('{label[:80]}') is not scenario {index} of this grid; "
                             "the grid changed since the file was written: remove it or write elsewhere")
        done.add(index)
    return done, damaged


def sort_file(path: Path, fmt: str) -> None:
    """Rewrite ``path`` with its rows in scenario order, one row per scenario (atomically)."""
    rows, _ = read_rows(path, fmt)
    unique = {index: line for index, _, line in rows}  # a rerun of a scenario replaces its earlier row
    write_text(path, _header(fmt) + "".join(unique[i] for i in sorted(unique)), "sweep results")


@record
class Summary:
    """What a sweep did."""

    total: int
    skipped: int
    ran: int
    counts: dict
    elapsed_s: float
    damaged: int = 0

    @property
    def rate_per_s(self) -> float:
        """Scenarios planned per second of this run."""
        return self.ran / self.elapsed_s if self.elapsed_s > 0 else 0.0


def run_sweep(specs: list[ScenarioSpec], settings: Settings, output: str | Path, fmt: str | None = None,
              executor: str = "local", jobs: int | None = None, address: str | None = None, resume: bool = False,
              progress: Callable[[int, int], None] | None = None) -> Summary:
    """Plan every scenario, streaming rows to ``output``; see the module docstring."""
    path = Path(output)
    fmt = output_format(path, fmt)
    if not specs:
        raise InputError("the grid has no scenarios")
    done, damaged = finished(path, fmt, specs) if resume and path.exists() else (set(), 0)
    todo = [(i, spec, settings) for i, spec in enumerate(specs) if i not in done]
    counts = {"ok": 0, "infeasible": 0, "error": 0}
    start = time.perf_counter()
    fresh = not path.exists() or not resume or path.stat().st_size == 0
    if not fresh:  # drop damaged lines first, so the rows appended below start on a line of their own
        sort_file(path, fmt)
    try:
        with open(path, "w" if fresh else "a", encoding="utf-8") as fh:
            if fresh:
                fh.write(_header(fmt))
                fh.flush()
            if progress:
                progress(len(done), len(specs))
            for n, record in enumerate(run_unordered(sweep_task, todo, executor, jobs, address), 1):
                fh.write(encode(record, fmt))
                fh.flush()  # the row survives an interruption from here on
                counts[record["status"]] = counts.get(record["status"], 0) + 1
                if progress:
                    progress(len(done) + n, len(specs))
    except OSError as exc:
        raise InputError(f"{path}: cannot write the sweep results ({exc.strerror or exc}); the rows written "
                         "so far are kept: rerun with --resume") from None
    sort_file(path, fmt)
    return Summary(len(specs), len(done), len(todo), counts, time.perf_counter() - start, damaged)
