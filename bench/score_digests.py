"""SHA-1 of every array the evaluator returns, over a grid of cases: proof that a speed change moved no figure.

Scores (``planner.serving.evaluate.Scores``, its nested records such as ``memory`` included) of bench/evaluator.py's
random rows and of each scenario's default candidate table, for eight model/system pairs (dense, GQA, MLA, experts-only
MXFP4, small and large MoE), the default preset and the seed preset, four engines, four workloads (decode at two
contexts, isl/osl at two shapes), full and table scores; then bench/evaluator.py's own cases at its 1,000,000 rows,
decode and isl/osl. Run it on two trees (here a checkout of main in ../main, the change in this one) and compare:

    PYTHONPATH=../main python ../main/bench/score_digests.py main.json
    PYTHONPATH=. python bench/score_digests.py new.json --against main.json

``--quick``: two pairs, one engine, two workloads, random rows only (seconds instead of minutes).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from dataclasses import fields, is_dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from evaluator import CASES, ISL, OSL, TOKENS_CACHED, random_rows  # noqa: E402  bench/evaluator.py

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

import planner  # noqa: E402
from hardware.catalogue import Catalogue  # noqa: E402
from models.catalogue import model  # noqa: E402
from planner.engine.profile import engine  # noqa: E402
from planner.serving.candidates import enumerate_plans  # noqa: E402
from planner.serving.evaluate import evaluate, shape_of  # noqa: E402
from planner.serving.scenario import Scenario  # noqa: E402
from planner.serving.space import default_space  # noqa: E402
from planner.serving.workload import Workload  # noqa: E402

PAIRS = (("qwen3-235b-a22b", "gb200-nvl72"), ("llama-3.1-70b", "hgx-h200"), ("deepseek-v3", "hgx-b200"),
         ("gpt-oss-120b", "hgx-h100"), ("qwen3-30b-a3b", "hgx-h200"), ("mixtral-8x7b", "hgx-h100"),
         ("llama-3.1-8b", "gb200-nvl72"), ("kimi-k2", "gb200-nvl72"))
WORKLOADS = (Workload(tokens_cached=8192), Workload(isl=4096, osl=1024), Workload(tokens_cached=512),
             Workload(isl=1024, osl=256))
ENGINES = ("default", "sglang", "vllm", "trtllm")
RANDOM_ROWS = 200_000


def digests(obj, prefix: str = "", out: dict | None = None) -> dict:
    """``{name: dtype, shape and SHA-1 of the bytes}`` of every array of a record (nested records by dotted
    name); scalars and None by their repr."""
    out = {} if out is None else out
    for f in fields(obj):
        v = getattr(obj, f.name)
        if is_dataclass(v) and not isinstance(v, type):
            digests(v, f"{prefix}{f.name}.", out)
        elif isinstance(v, np.ndarray):
            sha1 = hashlib.sha1(np.ascontiguousarray(v).tobytes()).hexdigest()
            out[prefix + f.name] = f"{v.dtype.str}{v.shape}:{sha1}"
        elif v is None or isinstance(v, (bool, int, float)):
            out[prefix + f.name] = repr(v)
    return out


def grid(quick: bool) -> dict:
    """The digests of every case, keyed by case."""
    cat, result = Catalogue(), {}
    for name, system in PAIRS[:2] if quick else PAIRS:
        spec = model(name)
        rows = random_rows(RANDOM_ROWS, spec.moe is not None, seed=1)
        for preset in (None, "seed"):
            hw = cat.hardware(system, preset=preset)
            for eng in ENGINES[:1] if quick or preset else ENGINES:
                for w in WORKLOADS[:2] if quick else WORKLOADS:
                    sc = Scenario(hardware=hw, model=spec, workload=w, profile=engine(eng), allow_span=True)
                    tables = {"random": rows}
                    if not quick:
                        tables["table"] = enumerate_plans(sc, default_space(sc))
                    for label, plans in tables.items():
                        for full in (True, False):
                            result[f"{name}|{system}|{preset}|{eng}|{w}|{label}|{full}"] = \
                                digests(evaluate(sc, plans, shape_of(sc), full=full))
            print(f"  {name} on {system}: {len(result)} cases so far", flush=True)
    for label, name, system, _ in CASES:  # the bench's own rows and workloads
        spec = model(name)
        rows = random_rows(RANDOM_ROWS if quick else 1_000_000, spec.moe is not None)
        for w in (Workload(tokens_cached=TOKENS_CACHED), Workload(isl=ISL, osl=OSL)):
            sc = Scenario(hardware=cat.hardware(system), model=spec, workload=w, allow_span=True)
            result[f"bench|{label}|{w}"] = digests(evaluate(sc, rows, shape_of(sc)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="JSON file the digests are written to")
    parser.add_argument("--against", help="JSON file of another tree's digests to compare with")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"planner from {Path(planner.__file__).parent}")
    result = grid(args.quick)
    Path(args.out).write_text(json.dumps(result, indent=0, sort_keys=True))
    print(f"{sum(len(v) for v in result.values()):,} arrays in {len(result):,} cases -> {args.out}")
    if args.against:
        other = json.loads(Path(args.against).read_text())
        differ = [(case, key) for case in sorted(set(result) | set(other))
                  for key in sorted(set(result.get(case, {})) | set(other.get(case, {})))
                  if result.get(case, {}).get(key) != other.get(case, {}).get(key)]
        print(f"against {args.against}: {len(differ):,} differ")
        for case, key in differ[:20]:
            print(f"  {case}: {key}")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
