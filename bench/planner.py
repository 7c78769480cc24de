"""Planner speed: Qwen3-235B-A22B on gb200-nvl72 for 1 to 64 racks, full search space.

Prints, per budget, the candidate count, the MILP solve time, the verification time and the
wall time of the whole `optimise` call, then the time brute-force enumeration of the same
space takes (planner.verify.bruteforce: itertools listing + one vectorised evaluator call + direct
selection), and the wall time of the complete CLI command for one budget; then the whole command with a list
of 192 batch sizes, its wall time and peak memory (goal: within 1.5 s and 300 MB).

Run: python bench/planner.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

# This file is named like the `planner` package; keep its own folder off the import path.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from hardware.catalogue import Catalogue  # noqa: E402
from models.catalogue import model  # noqa: E402
from planner.budget import Budget  # noqa: E402
from planner.engine.profile import engine  # noqa: E402
from planner.search.serving import optimise  # noqa: E402
from planner.serving.candidates import Limits  # noqa: E402
from planner.serving.scenario import Scenario  # noqa: E402
from planner.serving.space import default_space  # noqa: E402
from planner.serving.workload import Workload  # noqa: E402
from planner.verify.bruteforce import brute_force  # noqa: E402
from planner.verify.serving import verify  # noqa: E402

RACKS = (1, 2, 4, 8, 16, 32, 64)
BATCH_LIST, BATCH_LIST_GOAL_S, BATCH_LIST_GOAL_MB = 192, 1.5, 300


def main() -> None:
    hw = Catalogue().hardware("gb200-nvl72")
    sc = Scenario(hardware=hw, model=model("qwen3-235b-a22b"), workload=Workload(tokens_cached=8192),
                  profile=engine("default"))
    space = default_space(sc)
    print(f"Qwen3-235B-A22B on gb200-nvl72, tokens cached 8192; search space {space.size():,} combinations")
    print(f"{'racks':>5} {'GPUs':>5} {'total TPS':>12} {'plan':>14} {'solve ms':>9} {'verify ms':>10} {'wall s':>7}")
    worst = 0.0
    for racks in RACKS:
        budget = Budget.of(hw, racks, None)
        start = time.perf_counter()
        result = optimise(sc, budget, space, Limits(), "max_tps", top=1)
        wall = time.perf_counter() - start
        best = result.best
        t0 = time.perf_counter()
        verify(sc, best.plan, budget, Limits(), result.space, "max_tps", best.solution.objective_value)
        verify_ms = (time.perf_counter() - t0) * 1e3
        worst = max(worst, wall)
        print(f"{racks:>5} {budget.gpus:>5} {float(best.scores.total_tps[0]):>12,.0f} "
              f"{best.plan.layout() + ' x' + str(best.plan.instances):>14} {best.solution.solve_time_s * 1e3:>9.1f} "
              f"{verify_ms:>10.1f} {wall:>7.2f}")
    print(f"slowest plan end to end: {worst:.2f} s (goal: within 1 s)")
    start = time.perf_counter()
    oracle = brute_force(sc, Budget.of(hw, 1, None), space, Limits(), "max_tps")
    print(f"brute-force enumeration of the same space (1 rack): {time.perf_counter() - start:.2f} s "
          f"over {oracle.rows:,} combinations, optimum {oracle.value:,.0f} tok/s")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "planner.cli.main", "plan", "--racks", "64", "--format", "json"],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"whole command `rackplan plan --racks 64` (process start, imports, top-5 plans): "
          f"{time.perf_counter() - start:.2f} s")
    # A long batch list: 192 batch sizes over the default space's layouts, quantisations and offloads.
    # The child reports its own peak (VmHWM, kB, of the memory it has since exec): its ru_maxrss would count
    # this process's pages, which it shares between fork and exec.
    batches = ",".join(str(b) for b in range(1, BATCH_LIST + 1))
    report_peak = ("import atexit, runpy, sys; atexit.register(lambda: print(open('/proc/self/status').read()"
                   ".split('VmHWM:')[1].split()[0], file=sys.stderr)); sys.argv[0] = 'rackplan'; "
                   "runpy.run_module('planner.cli.main', run_name='__main__')")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", report_peak, "plan", "--batch", batches, "--format", "json"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: rackplan plan --batch 1..{BATCH_LIST} failed: {done.stderr.strip()[-300:]}")
    rss_mb = int(done.stderr.split()[-1]) / 1024
    print(f"whole command `rackplan plan --batch 1,2,...,{BATCH_LIST}` ({BATCH_LIST} batch sizes): {wall:.2f} s, "
          f"peak RSS {rss_mb:,.0f} MB (goal: within {BATCH_LIST_GOAL_S} s and {BATCH_LIST_GOAL_MB} MB: "
          f"{'met' if wall <= BATCH_LIST_GOAL_S and rss_mb <= BATCH_LIST_GOAL_MB else 'NOT met'})")


if __name__ == "__main__":
    main()
