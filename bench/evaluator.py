"""Plans scored per second by the roofline evaluator, on one core.

Scores 1,000,000 random candidate rows of a steady-state decode workload (8,192 tokens
cached) for a dense model (Llama-3.1-70B on HGX H200) and an MoE model (Qwen3-235B-A22B on
GB200 NVL72), single process with the BLAS/OpenMP pools pinned to one thread, and prints
the best of a few repeats (CPU time of the process: on a shared machine other processes stretch
its wall time); then the same rows under an isl/osl workload (4,096 in, 1,024 out: prefill and
the serving fixed point), with its slowdown against decode (the two workloads take turns in each
repeat, so a load that comes and goes moves both alike). It scores under the allocator setting every
``rackplan`` command runs with (``planner.cli.memory.keep_freed_memory``: freed blocks stay with the process),
as the planner's own scoring runs: without it each million rows pays ~12,000 page faults of system time
(the blocks' temporaries paged in afresh), which the shared host's load stretches most. Goals: at least
3,000,000 dense and 2,000,000 MoE decode plans/s per core, isl/osl within 3x of decode.

``--against TREE``: this tree's and another checkout's whole runs of this script, taking turns (``--pairs`` of
them), and each rate's median in both with the median and range of the pairs' ratios (``bench/paired.py``): the
figure that holds when the host's speed drifts or the host changes, e.g. today's tree against the commit that
last met a goal.

Usage: ``.venv/bin/python bench/evaluator.py [--rows N] [--repeats N] [--against TREE [--pairs N]]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: one core, as the goal is stated per core

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from machine import describe  # noqa: E402  bench/machine.py, before its folder leaves sys.path
from paired import PairedRunError, alternate, script_of, summary, whole_run  # noqa: E402  bench/paired.py, likewise

# Python puts this script's folder first on sys.path, where bench/planner.py would shadow the
# planner package: drop it so the imports below find the installed packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from hardware.catalogue import Catalogue  # noqa: E402
from models.catalogue import model  # noqa: E402
from planner import quant  # noqa: E402
from planner.cli.memory import keep_freed_memory  # noqa: E402
from planner.serving.evaluate import evaluate, shape_of  # noqa: E402
from planner.serving.plan import PlanArrays  # noqa: E402
from planner.serving.scenario import Scenario  # noqa: E402
from planner.serving.workload import Workload  # noqa: E402

TOKENS_CACHED = 8192
ISL, OSL = 4096, 1024
GOAL_ISL_OSL_SLOWDOWN = 3.0
# One case's line of main's output: its label, then its decode and isl/osl rates (the format of every earlier
# version of this script too, so a checkout of an older commit compares).
RATE_LINE = re.compile(r"^ +(\w+) +\S+ +on +\S+ +([\d,]+) plans/s.*?isl \d+/osl \d+ +([\d,]+) plans/s", re.M)
# label, model, system, decode goal (plans/s per core)
CASES = (("dense", "llama-3.1-70b", "hgx-h200", 3_000_000), ("moe", "qwen3-235b-a22b", "gb200-nvl72", 2_000_000))


def random_rows(rows: int, moe: bool, seed: int = 0) -> PlanArrays:
    """``rows`` random candidate rows: powers-of-two layouts, batches 1..4096, every quant mode."""
    rng = np.random.default_rng(seed)
    pow2 = np.array([1, 2, 4, 8])
    tp = rng.choice(pow2, rows)
    dp = rng.choice(pow2, rows) if moe else np.ones(rows, np.int64)
    ep = np.minimum(rng.choice(np.array([1, 2, 4, 8, 16, 32]), rows), tp * dp) if moe else np.ones(rows, np.int64)
    return PlanArrays(
        tp=tp, pp=rng.choice(pow2, rows), ep=ep, dp=dp,
        batch=rng.integers(1, 4097, rows),
        quant=rng.integers(0, len(quant.MODE_NAMES), rows),
        kv_quant=rng.integers(0, 2, rows),
        kv_offload_fraction=rng.choice(np.array([0.0, 0.25, 0.5]), rows),
        instances=np.ones(rows, np.int64),
    )


def plans_per_s(scenarios: list[Scenario], plans: PlanArrays, repeats: int) -> list[float]:
    """Best-of-``repeats`` rate of ``evaluate`` on ``plans`` under each scenario (shape computed once, as the
    planner does), in CPU time: the process runs on one core, and on a shared machine other processes stretch its
    wall time. The scenarios take turns within each repeat, so a load that comes and goes slows them alike and
    their ratio holds."""
    shapes = [shape_of(scenario) for scenario in scenarios]
    best = [float("inf")] * len(scenarios)
    for _ in range(repeats):
        for i, (scenario, shape) in enumerate(zip(scenarios, shapes)):
            start = time.process_time()
            evaluate(scenario, plans, shape)
            best[i] = min(best[i], time.process_time() - start)
    return [len(plans) / t for t in best]


def rates_printed(text: str) -> dict[str, float]:
    """The rates a run of this script printed: ``{"moe decode": plans/s, "moe isl/osl": plans/s, ...}``."""
    out = {}
    for label, decode, prompts in RATE_LINE.findall(text):
        out[f"{label} decode"] = float(decode.replace(",", ""))
        out[f"{label} isl/osl"] = float(prompts.replace(",", ""))
    return out


def against(other: Path, pairs: int, rows: int, repeats: int) -> None:
    """Print each rate's median in this tree and in ``other``, and its pairs' ratios (``--against``)."""
    here, script = Path(__file__).resolve().parents[1], "bench/evaluator.py"
    script_of(other, script)  # (before the header: a wrong tree is one line)

    def run(tree: Path) -> dict[str, float]:
        rates = rates_printed(whole_run(tree, script, ["--rows", str(rows), "--repeats", str(repeats)]))
        if not rates:
            raise PairedRunError(f"{tree / script} printed no rates: give a checkout of this project")
        return rates

    print(describe())
    print(f"evaluator: this tree against {other}, {pairs} pairs of whole runs taking turns, each {rows:,} rows "
          f"and the best CPU time of {repeats}; medians, and the pairs' ratios this tree / {other.name}")
    for key, (mine, theirs, ratio, low, high) in summary(alternate(run, (here, other.resolve()), pairs)).items():
        print(f"  {key:12s} {mine:14,.0f} against {theirs:14,.0f} plans/s: ratio {ratio:.3f} "
              f"(pairs {low:.3f}-{high:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", type=Path, metavar="TREE", help="another checkout to take turns with")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of whole runs with --against (default 3)")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error(f"--pairs {args.pairs}: give at least 1")
    if args.against is not None:
        try:
            against(args.against, args.pairs, args.rows, args.repeats)
        except PairedRunError as error:
            sys.exit(f"bench/evaluator.py --against: {error}")
        return
    keep_freed_memory()  # as every rackplan command (module docstring)
    cat = Catalogue()
    print(describe())
    print(f"evaluator: {args.rows:,} decode rows (tokens_cached {TOKENS_CACHED}), one process, 1 BLAS thread, "
          f"best CPU time of {args.repeats}")
    for label, name, system, goal in CASES:
        spec = model(name)
        rows = random_rows(args.rows, spec.moe is not None)
        rates = plans_per_s([Scenario(hardware=cat.hardware(system), model=spec, workload=workload, allow_span=True)
                             for workload in (Workload(tokens_cached=TOKENS_CACHED), Workload(isl=ISL, osl=OSL))],
                            rows, args.repeats)
        verdict = "meets" if rates[0] >= goal else "below"
        slowdown = rates[0] / rates[1]
        print(f"  {label:5s} {name:16s} on {system:12s} {rates[0]:14,.0f} plans/s  ({verdict} the {goal:,} goal); "
              f"isl {ISL}/osl {OSL} {rates[1]:12,.0f} plans/s, {slowdown:.1f}x slower "
              f"({'meets' if slowdown <= GOAL_ISL_OSL_SLOWDOWN else 'above'} the {GOAL_ISL_OSL_SLOWDOWN:.0f}x goal)")

if __name__ == "__main__":
    main()
