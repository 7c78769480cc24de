"""Fleet planning speed: three hardware kinds, three models, every objective.

Plans ``examples/fleet.toml`` (2 gb200-nvl72 racks, 16 mi355x-8 servers, 8 hgx-h200 servers;
Qwen3-235B-A22B, Llama-3.1-70B and gpt-oss-120b, each aggregated or disaggregated) for each
objective and prints, per run, the time to build the candidate tables (numpy), to solve the
MILP (both the optimum and the tie-break solve), to verify the plan, and the whole call's
wall time (and its CPU time: on a busy machine the wall clock
moves far more); then the wall time of the complete CLI command. Goals: under 5 s per plan, and the
maximise-throughput plan (the hardest MILP) within 2.5 s. Last, the small fleet of docs/fleet.md
planned with ``--maximise tps --max-kw 90`` (its tie-break once stalled in a HiGHS root heuristic).

The first objective scores the candidate tables; the others reuse them (``plan_fleet(scored=...)``:
only the objective differs, so the tables are the same) and build only their own MILP, as a
program asking one fleet several questions would. The scoring time of the first is printed again
on its own line: a single objective in a fresh process (the CLI) pays it.

``--phases`` prints instead where the CPU time of ``rackplan fleet examples/fleet.toml`` goes, phase by
phase (medians of ``--repeat`` runs): the imports and the loading of the fleet file beyond the import floor
(fresh processes; the fleet file's tables are specbase records, so no pydantic), then in this process scoring the
candidate tables, pruning them into the MILP's columns, building the MILP, each HiGHS solve (the optimum,
then the tie-break's value and plan), verification and the report.

Run: python bench/fleet.py [--phases [--repeat N]]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# This folder holds bench/planner.py, named like the `planner` package; keep it off the import path.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from hardware.catalogue import Catalogue  # noqa: E402
from planner.fleet.optimise import plan_fleet  # noqa: E402
from planner.fleet.spec import Overrides, load  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fleet.toml"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "fleet.md"
OBJECTIVES = ("min_cost", "min_gpus", "min_power", "max_tps")
GOAL_S = 5.0
MAX_TPS_GOAL_S = 2.5


def main() -> None:
    cat = Catalogue()
    print(f"fleet: {EXAMPLE.relative_to(EXAMPLE.parents[1])} (3 hardware kinds, 3 models, serving agg or disagg)")
    print(f"{'objective':<10} {'columns':>7} {'tables s':>9} {'solve s':>8} {'verify s':>9} {'wall s':>7} {'cpu s':>6} "
          f"{'GPUs':>5} {'output tok/s':>13}  verified")
    worst, scored, walls = 0.0, None, {}
    for objective in OBJECTIVES:
        fleet = load(EXAMPLE, cat, Overrides(objective=objective))
        start, cpu = time.perf_counter(), time.process_time()
        result = plan_fleet(fleet, scored=scored)
        if scored is None:
            scored, scoring_s = result.scored, result.table_time_s
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        worst, walls[objective] = max(worst, wall), wall
        v = result.verified
        print(f"{objective:<10} {len(result.problem.columns):>7} {result.table_time_s:>9.2f} "
              f"{result.solution.solve_time_s:>8.2f} {result.verify_time_s:>9.3f} {wall:>7.2f} {cpu:>6.2f} "
              f"{sum(p.plan.gpus for p in v.pools):>5} {float(v.output_tps.sum()):>13,.0f}  "
              f"{'ok' if v.verdict.ok else 'FAILED'}")
    print(f"scoring the tables (first objective; the others reuse them): {scoring_s:.2f} s")
    agg = [t for t in scored.counts if t["role"] == "agg"]
    print(f"aggregated isl/osl rows scored in full: {sum(t['scored'] for t in agg):,} of "
          f"{sum(t['enumerated'] for t in agg):,} enumerated (the rest cannot be a size's fastest)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "planner.cli.main", "fleet", str(EXAMPLE), "--format", "json"],
                          capture_output=True, text=True, cwd=EXAMPLE.parents[1])
    cli_s = time.perf_counter() - start
    print(f"CLI `rackplan fleet examples/fleet.toml` (process start to exit): {cli_s:.2f} s, exit {done.returncode}")
    docs_fleet(cat)
    print(f"slowest plan {worst:.2f} s: {'within' if worst < GOAL_S else 'OVER'} the {GOAL_S:.0f} s goal; "
          f"max_tps {walls['max_tps']:.2f} s: {'within' if walls['max_tps'] <= MAX_TPS_GOAL_S else 'OVER'} "
          f"the {MAX_TPS_GOAL_S} s goal")


def docs_fleet(cat: Catalogue) -> None:
    """The docs' small fleet (its ``cat > fleet.toml`` block), maximising throughput within 90 kW."""
    text = re.search(r"cat > fleet.toml <<'EOF'\n(.*?)\nEOF", DOCS.read_text(), re.S).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.toml"
        path.write_text(text)
        fleet = load(path, cat, Overrides(objective="max_tps", max_kw=90))
        start, cpu = time.perf_counter(), time.process_time()
        result = plan_fleet(fleet)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"docs/fleet.md fleet, --maximise tps --max-kw 90: tables {result.table_time_s:.2f} s, solve "
          f"{result.solution.solve_time_s:.2f} s (both solves), wall {wall:.2f} s (CPU {cpu:.2f} s), "
          f"{'verified' if result.verified.verdict.ok else 'FAILED'}")


def _cpu_of(argv: list[str]) -> float:
    """CPU seconds (user + system) of a fresh process running ``argv``."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=EXAMPLE.parents[1])
    usage = os.wait4(proc.pid, 0)[2]
    return usage.ru_utime + usage.ru_stime


def phases(repeat: int) -> None:
    """Median CPU ms of each phase of ``rackplan fleet examples/fleet.toml`` (module docstring)."""
    from planner.fleet import table
    from planner.fleet.verify import verify
    from planner.milp import fleet_solve
    from planner.milp.fleet import build
    from planner.report.fleet_summary import fleet_document
    from planner.report.tables import format_fleet

    floor = [sys.executable, "-c", "import numpy, pulp, highspy, pydantic, click, tabulate"]
    cli = [sys.executable, "-c", "import numpy, pulp, highspy, pydantic, click, tabulate; import planner.cli.main, "
           "planner.cli.fleet; from planner.fleet.spec import Overrides, load; from planner.serving import resolve; "
           f"load({str(EXAMPLE)!r}, resolve.catalogue(()), Overrides())"]
    _cpu_of(cli)  # bytecode written, caches warm
    imports = [_cpu_of(cli) - _cpu_of(floor) for _ in range(repeat)]
    solves: list[float] = []
    real_run = fleet_solve.run

    def timed_run(*args, **kwargs):  # each HiGHS solve of the fleet, timed where fleet_solve calls it
        start = time.process_time()
        try:
            return real_run(*args, **kwargs)
        finally:
            solves.append(time.process_time() - start)

    fleet_solve.run = timed_run
    cat, rows, marks = Catalogue(), {}, []

    def mark(name: str | None) -> None:
        """The CPU time since the last mark, as a run of phase ``name`` (None: start the clock)."""
        marks.append(time.process_time())
        if name is not None:
            rows.setdefault(name, []).append(marks[-1] - marks[-2])

    for _ in range(repeat + 1):  # the first run warms up; the medians are of the others
        fleet = load(EXAMPLE, cat, Overrides())
        mark(None)
        scored = table.score(fleet)
        mark("score the tables")
        problem = table.build(fleet, scored=scored).problem
        mark("prune into columns")
        milp = build(problem)
        mark("build the MILP")
        solves.clear()
        solution = fleet_solve.solve(milp)
        mark("solve: optimum + tie-break")
        for name, seconds in zip(("  optimum (HiGHS)", "  tie-break: least GPUs (HiGHS)",
                                  "  tie-break: fewest instances (HiGHS)"), solves):
            rows.setdefault(name, []).append(seconds)
        verify(fleet, problem, solution)
        mark("verify")
        result = plan_fleet(fleet, scored=scored)  # (not timed: the plan the report is of)
        mark(None)
        format_fleet(fleet_document(result), "text")
        mark("report")
    fleet_solve.run = real_run
    print(f"{EXAMPLE.relative_to(EXAMPLE.parents[1])}, least cost: CPU ms, median of {repeat}")
    print(f"  {'imports and the fleet file, beyond the floor':<44} {statistics.median(imports) * 1e3:7.1f}"
          "  (fresh processes)")
    for name, values in rows.items():
        print(f"  {name:<44} {statistics.median(values[1:]) * 1e3:7.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Fleet planning speed (module docstring).")
    parser.add_argument("--phases", action="store_true", help="where a fleet command's CPU time goes, by phase")
    parser.add_argument("--repeat", type=int, default=5, help="runs per phase median (--phases)")
    args = parser.parse_args()
    phases(args.repeat) if args.phases else main()
