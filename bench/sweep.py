"""Sweep speed: 1,000 scenarios planned and verified, on 1 and 2 local processes and on local Ray.

The grid (every combination is one scenario, 5 x 5 x 2 x 2 x 5 x 2 = 1,000):

* models: qwen3-30b-a3b, llama-3.1-8b, qwen3-32b, llama-3.1-70b, mixtral-8x7b
* systems: hgx-h100, hgx-h200, hgx-b200, mi300x-8, mi355x-8 (8-GPU scale-up domains)
* budgets: 1 and 2 racks; contexts: 2,048 and 8,192 tokens cached
* latency floors: none, 25, 50, 100, 200 tok/s per user; fabrics: the system's own and 400 GbE

Search space per scenario: the default space with batches up to 256, i.e. tp, dp in {1, 2, 4, 8},
pp in {1, 2, 4, 8}, ep = powers of two dividing the experts (1 for dense), batch 1..256 (16 values),
weights bf16/fp8 (+fp4 on B200 and MI355X), KV bf16/fp8, KV offload {0, 0.25, 0.5}.

Prints scenarios/s for each executor (Ray's start-up is timed apart) and checks the three
result files are identical. Run: python bench/sweep.py [--jobs N: CPUs of the Ray instance, default 2]
[--repeat N: best of N runs per executor, default 1]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# bench/planner.py is named like the `planner` package: keep this folder off the import path
# (before Ray starts, so its workers inherit the trimmed path too).
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from planner.studies.compare import Settings, axis_values, expand  # noqa: E402
from planner.studies.sweep import run_sweep  # noqa: E402

GRID = axis_values(
    models=["qwen3-30b-a3b", "llama-3.1-8b", "qwen3-32b", "llama-3.1-70b", "mixtral-8x7b"],
    systems=["hgx-h100", "hgx-h200", "hgx-b200", "mi300x-8", "mi355x-8"],
    racks=[1, 2], tokens_cached=[2048, 8192], min_tok_per_user=[0, 25, 50, 100, 200], fabrics=["default", "400gbe"],
)
SETTINGS = Settings(max_batch=256)


def _run(label: str, specs, out: Path, repeat: int, **kw) -> float:
    elapsed = float("inf")
    for _ in range(repeat):  # best of `repeat`: other work on a shared machine only ever slows a run
        start = time.perf_counter()
        summary = run_sweep(specs, SETTINGS, out, **kw)
        elapsed = min(elapsed, time.perf_counter() - start)
    counts = ", ".join(f"{v} {k}" for k, v in summary.counts.items() if v)
    print(f"{label:<28} {summary.ran:5d} scenarios in {elapsed:6.1f} s  {summary.ran / elapsed:7.1f} scenarios/s  "
          f"({counts})", flush=True)
    return elapsed


def main() -> None:
    ray_cpus = int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else 2
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    specs = expand(GRID)
    assert len(specs) == 1000, len(specs)
    print(f"{len(specs)} scenarios; this machine has {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: Path(tmp) / f"{name}.csv" for name in ("p1", "p2", "ray")}
        _run("local, 1 process", specs, files["p1"], repeat, jobs=1)
        _run("local, 2 processes", specs, files["p2"], repeat, jobs=2)
        try:
            import ray
        except ImportError:
            print("ray: not installed (pip install '.[ray]'); skipped")
        else:
            start = time.perf_counter()
            ray.init(num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False)
            print(f"ray start-up ({ray_cpus} CPUs)          {time.perf_counter() - start:6.1f} s", flush=True)
            try:
                _run(f"ray, local, {ray_cpus} CPUs", specs, files["ray"], repeat, executor="ray")
            finally:
                ray.shutdown()
        texts = {name: path.read_text() for name, path in files.items() if path.exists()}
        same = len(set(texts.values())) == 1
        print(f"result files identical across executors: {'yes' if same else 'NO'} ({', '.join(texts)})")
        if not same:
            first = next(iter(texts.values())).splitlines()
            for name, text in texts.items():
                for n, (a, b) in enumerate(zip(first, text.splitlines())):
                    if a != b:
                        print(f"  {name} differs first at line {n + 1}:\n    {a[:160]}\n    {b[:160]}")
                        break
            print("  (catalogue or model files edited during the run would do this: workers read them afresh)")
            sys.exit(1)


if __name__ == "__main__":
    main()
