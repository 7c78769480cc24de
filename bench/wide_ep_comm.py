"""Wide expert parallelism on an NVL72: the decode step's communication under the old and new collectives.

DeepSeek-V3 decoding on a GB200 NVL72 with attention data parallelism and experts spread over
EP ranks (tp 1, dp = ep), 64 sequences per rank with 4,096 tokens cached, under each engine: the
per-step communication time of the fitted collective curves (``planner.engine.kernels.comm``: a
MoE dispatch or combine is ONE exchange) against the old alpha-beta model (``log2 n`` latency
rounds of the catalogue's per-message latency, times the engine's ``comm_latency_scale``), and the
share of it that is latency (the time of the same step with no bytes moved).

Usage: ``.venv/bin/python bench/wide_ep_comm.py``
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from unittest import mock

# bench/planner.py would shadow the planner package: drop this script's folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from hardware.catalogue import Catalogue  # noqa: E402
from models.catalogue import model  # noqa: E402
from planner import units  # noqa: E402
from planner.engine import rates as rates_module  # noqa: E402
from planner.engine.profile import engine  # noqa: E402
from planner.serving.evaluate import evaluate_plan  # noqa: E402
from planner.serving.plan import Plan  # noqa: E402
from planner.serving.scenario import Scenario  # noqa: E402
from planner.serving.workload import Workload  # noqa: E402

SEQUENCES_PER_RANK = 64


def comm_ms(sc: Scenario, plan: Plan, curves: bool, latency_only: bool = False) -> float:
    """Per-step communication (ms) with the fitted curves or the old alpha-beta model; ``latency_only``:
    with every byte free (the floors and latency rounds alone)."""
    original = rates_module.rates

    def patched(hw, profile):
        r = original(hw, profile)
        if not curves:
            r = replace(r, comm_curves=None)
        if latency_only and curves:
            free = np.full(3, np.inf)
            r = replace(r, comm_curves=replace(r.comm_curves, allreduce_bytes_per_s=free, alltoall_bytes_per_s=free))
        elif latency_only:
            r = replace(r, fabric_bytes_per_s=np.full(3, np.inf))
        return r

    with mock.patch("planner.serving.evaluate.rates", patched):
        return units.ms(float(evaluate_plan(sc, plan).comm_s[0]))


def main() -> int:
    hw = Catalogue().hardware("gb200-nvl72")
    print("DeepSeek-V3 decode on gb200-nvl72, tp 1, dp = ep, 64 sequences per rank, 4,096 tokens cached:")
    print("per-step communication in ms (of it latency: floors or rounds alone),")
    print("old alpha-beta (log2 n rounds) -> fitted curves (one exchange)")
    for name in ("trtllm", "sglang", "vllm", "default"):
        sc = Scenario(hardware=hw, model=model("deepseek-v3"), workload=Workload(tokens_cached=4096),
                      profile=engine(name))
        cells = []
        for ep in (8, 32, 72):
            plan = Plan(tp=1, dp=ep, ep=ep, batch=SEQUENCES_PER_RANK * ep)
            old, new = comm_ms(sc, plan, False), comm_ms(sc, plan, True)
            old_latency, new_latency = comm_ms(sc, plan, False, True), comm_ms(sc, plan, True, True)
            cells.append(f"ep {ep:>2}: {old:5.2f} ({old_latency:4.2f}) -> {new:5.2f} ({new_latency:4.2f})")
        print(f"  {name:<8} " + "   ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
