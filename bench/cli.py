"""Whole-process speed of the ``rackplan`` commands users wait on, as ratios to the import floor.

Each command runs as a fresh process, interleaved in the same loop with the import floor
``python -c "import numpy, pulp, highspy, pydantic, click, tabulate"`` (what any command that plans
must load; nothing rackplan does can beat it), so a busy machine slows both alike. Prints, per
command: the median wall time, the floor's median wall time, their ratio, the median CPU time and
the peak resident set size (``ru_maxrss`` of the process, from ``os.wait4``), beside the goal ratio.

Every process runs with its bytecode cached, as an installed package runs (pip compiles the ``.pyc``
files at install; a checkout writes them on its first run): the cache is a scratch folder
(``PYTHONPYCACHEPREFIX``), filled by one unmeasured run of the floor and of each command, so the
floor's libraries and rackplan's modules are both loaded from bytecode, whatever
``PYTHONDONTWRITEBYTECODE`` says. rackplan's parsed copies of its own TOML data and the validated
specs of its shipped catalogue entries and models (``hardware/toml_file.py``, ``hardware/entry_file.py``,
``planner/model_file.py``, as any run after the first has them) are kept in a scratch folder too,
filled by the same unmeasured run.
``--no-bytecode`` times them as that variable leaves them instead, with no TOML cache: a first run
(rackplan's own modules then compile on every run, ~0.04 s of a plan on a 2-core machine, and its
TOML data is parsed and its catalogue entries validated, ~0.015 s).

Run: python bench/cli.py [--repeat N] [--only NAME ...] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe  # bench/machine.py: this script's folder is first on sys.path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = ("floor", [sys.executable, "-c", "import numpy, pulp, highspy, pydantic, click, tabulate"], None)
# name, arguments after `rackplan`, goal (ratio to the floor; None: no goal, shown for reference)
COMMANDS = (
    ("help", ["--help"], 0.5),
    ("version", ["--version"], 0.5),
    ("plan", ["plan"], 1.6),
    ("plan-isl-osl", ["plan", "--model", "qwen3-235b-a22b", "--system", "hgx-h200", "--gpus", "8",
                      "--isl", "4096", "--osl", "1024"], 1.6),
    ("plan-racks-64", ["plan", "--racks", "64"], 2.0),
    ("fleet", ["fleet", str(ROOT / "examples" / "fleet.toml")], 3.0),
    # 3 systems x 2 budgets x 2 contexts x 2 quant sets = 24 scenarios
    ("compare-24", ["compare", "--system", "gb200-nvl72,hgx-b200,hgx-h200", "--racks", "1,2",
                    "--tokens-cached", "2048,8192", "--quant", "fp8", "--quant", "fp8,fp4"], 6.0),
    # 2 systems x 10 latency floors = 20 points
    ("frontier-20", ["frontier", "--system", "gb200-nvl72,hgx-h200", "--points", "10"], 6.0),
)


def rackplan() -> list[str]:
    """The console script beside this interpreter, else the module entry point."""
    script = Path(sys.executable).with_name("rackplan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "planner.cli.main"]


def child_env(pycache: str | None) -> dict[str, str]:
    """The environment of every timed process: one BLAS thread, and bytecode and parsed TOML data cached
    under ``pycache`` (``None``: the caller's own bytecode settings and no TOML cache)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", RACKPLAN_CACHE_DIR="")
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
        env["RACKPLAN_CACHE_DIR"] = str(Path(pycache) / "rackplan-toml")
    return env


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS in MB of one process running ``argv``."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(argv)} exited {proc.returncode}: {err.strip()[-300:]}")
    # ru_maxrss is in kilobytes on Linux
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (median taken; default 5)")
    parser.add_argument("--only", nargs="*", default=None, help="command names to run (default: all)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="no bytecode cache of its own: run under the caller's PYTHONDONTWRITEBYTECODE")
    args = parser.parse_args()
    chosen = [c for c in COMMANDS if args.only is None or c[0] in args.only]
    if not chosen:
        raise SystemExit(f"error: --only takes {', '.join(c[0] for c in COMMANDS)}")
    base = rackplan()
    pycache = None if args.no_bytecode else tempfile.mkdtemp(prefix="rackplan-bench-pycache-")
    try:
        bytecode = "bytecode cached" if pycache else "bytecode as the environment says"
        print(describe())
        print(f"median of {args.repeat} runs, {bytecode}; floor: python {' '.join(FLOOR[1][1:])}")
        table(chosen, base, args.repeat, child_env(pycache))
    finally:
        if pycache is not None:
            shutil.rmtree(pycache, ignore_errors=True)


def table(chosen, base: list[str], repeat: int, env: dict[str, str]) -> None:
    """Time each chosen command against the floor and print one line each."""
    run_once(FLOOR[1], env)  # fills the bytecode cache: not timed
    print(f"{'command':<14} {'wall s':>7} {'floor s':>8} {'ratio':>6} {'goal':>5} {'cpu s':>6} {'cpu ratio':>9} "
          f"{'RSS MB':>7}  met")
    for name, cmd, goal in chosen:
        walls, floors, cpus, floor_cpus, rss = [], [], [], [], 0.0
        run_once(base + cmd, env)  # fills the bytecode cache: not timed
        for _ in range(repeat):
            floor_wall, floor_cpu, _ = run_once(FLOOR[1], env)
            floors.append(floor_wall)
            floor_cpus.append(floor_cpu)
            wall, cpu, peak = run_once(base + cmd, env)
            walls.append(wall)
            cpus.append(cpu)
            rss = max(rss, peak)
        wall, floor = statistics.median(walls), statistics.median(floors)
        ratio = wall / floor
        met = "yes" if ratio <= goal else "NO"
        cpu = statistics.median(cpus)
        print(f"{name:<14} {wall:>7.2f} {floor:>8.2f} {ratio:>5.2f}x {goal:>4.1f}x {cpu:>6.2f} "
              f"{cpu / statistics.median(floor_cpus):>8.2f}x {rss:>7.0f}  {met}", flush=True)


if __name__ == "__main__":
    main()
