"""Accuracy of rackplan's predictions against measurements, with the shipped defaults.

Three comparisons (data in ``calibration/``, see its README):

1. ``silicon_calibration.csv``: measured TPOT and TTFT of aggregated serving runs, per
   (model, system, engine) group and overall: n, TPOT MAPE, TPOT median absolute % error,
   share within +-20 %, TTFT MAPE and median. Disaggregated runs and rows that contradict
   themselves are counted, not scored. Saturated runs (requests waited longer for their
   first token than they spent decoding, so the engine ran fewer sequences than the stated
   concurrency) are scored on a separate line. The held-out family (``HELD_OUT_FAMILY``,
   never used by ``--fit``) is reported on its own line.
2. ``published_calibration.json``: predicted maximum output tokens/s per GPU (the planner,
   ``planner.search.serving.optimise``, with the published layout, precision, GPU count and,
   where given, concurrency pinned) against the published figure, per point, with the
   reason for every point left out (speculative decoding, disaggregation, variable-length
   datasets, models outside the catalogue). Input+output figures are compared on their
   output share (the file's ``output_tok_s_per_gpu``).
3. ``h200_microbench.json``: the catalogue's H200 rates against the measured kernels.

Usage::

    .venv/bin/python bench/accuracy.py            # the tables, shipped defaults
    .venv/bin/python bench/accuracy.py --fit      # also refit the defaults (minutes) and print them

``--fit`` refits, on the silicon rows outside the held-out family (saturated runs
excluded), every engine profile's knobs (``planner.calibration.fit.KNOBS``) jointly with the
efficiency fractions of the GPUs that have at least ``MIN_GPU_ROWS`` training rows and no
measured microbenchmark (H200's are measured and stay), and the per-GPU tables of the engine
profiles (``[gpus.NAME]``: latency knobs for (engine, GPU) pairs with ``MIN_PAIR_ROWS`` rows,
speed knobs where two model families measured the pair; fitted as offsets from the engine-wide
values), by the robust least squares of ``planner.calibration.fit``, in two passes (the second
leaves out rows the first misses by more than ``OUTLIER_FACTOR`` in TPOT, and names them, and
weighs TTFT by the ratio of the first pass's median TPOT and TTFT errors); it
prints the values to paste into ``planner/engine/data/*.toml`` and ``hardware/data/gpus/*.toml``.
The ``default`` engine keeps its unit multipliers and
overheads (neutral) and takes the pooled serving knobs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

# Python puts this script's folder first on sys.path, where bench/planner.py would shadow the
# planner package: drop it so the imports below find the installed packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from hardware.catalogue import Catalogue  # noqa: E402
from models.catalogue import model as load_model  # noqa: E402
from planner.budget import Budget  # noqa: E402
from planner.calibration import fit as cal  # noqa: E402
from planner.calibration import measurements, screen  # noqa: E402
from planner.calibration.profile_file import toml_key  # noqa: E402
from planner.engine.profile import engine  # noqa: E402
from planner.engine.rates import rates  # noqa: E402
from planner.errors import PlannerError  # noqa: E402
from planner.search.serving import optimise  # noqa: E402
from planner.serving.candidates import Limits  # noqa: E402
from planner.serving.evaluate import evaluate_plan  # noqa: E402
from planner.serving.plan import Plan  # noqa: E402
from planner.serving.scenario import Scenario  # noqa: E402
from planner.serving.space import default_space  # noqa: E402
from planner.serving.workload import Workload  # noqa: E402

CALIBRATION = Path(__file__).resolve().parents[1] / "calibration"
HELD_OUT_FAMILY = "llama"  # Llama-3.1-8B (bf16 and FP8): dense GQA, never seen by --fit
ENGINES = ("trtllm", "vllm", "sglang")
MIN_GPU_ROWS = 150  # GPUs with fewer training rows keep their sourced efficiencies
# The joint fit's 34 parameters are partly collinear (a GPU's HBM fraction times each engine's
# HBM scale): a firmer pull towards the starting values than rackplan calibrate's keeps them put.
PRIOR_WEIGHT = 0.05
# Fitted per GPU: only the HBM efficiency, whose catalogue value on these parts is aiconfigurator's
# blanket 0.8 guess ([E1]); GEMM efficiencies stay measured (MAMF [E8], H200 microbench). Bounds:
# 0.6 up to the 0.877 copy rate measured on H200 (h200_microbench.json) plus a read-only margin.
GPU_KNOBS = {"hbm_efficiency_fraction": (0.6, 0.92)}
# Fitted per (engine, GPU) pair (the profile's [gpus.NAME] tables): launch path, kernel
# maturity and request handling of one engine differ by part. Latency knobs (TTFT) need
# MIN_PAIR_ROWS training rows of the pair; speed knobs (they set TPOT and throughput) also need
# at least two model families with MIN_FAMILY_ROWS rows each, so that one model's runs on a part
# cannot set that part's speed for every model.
PAIR_SPEED_KNOBS = ("step_overhead_s", "per_kernel_overhead_s", "hbm_efficiency_scale")
PAIR_LATENCY_KNOBS = ("prefill_wait_fraction", "ttft_overhead_s")
MIN_PAIR_ROWS = 15
MIN_FAMILY_ROWS = 5
OUTLIER_FACTOR = 2.5
GOALS = {"tpot_mape": 12.0, "ttft_mape": 30.0, "published_median": 20.0}

PUBLISHED_SYSTEMS = {"H100": "hgx-h100", "H200": "hgx-h200", "B200": "hgx-b200", "B300": "hgx-b300",
                     "GB200": "gb200-nvl72", "GB300": "gb300-nvl72", "MI300X": "mi300x-8", "MI325X": "mi325x-8",
                     "MI355X": "mi355x-8"}
# Published model names -> catalogue entries (same architecture: Llama-3.3-70B is Llama-3.1-70B's).
PUBLISHED_MODELS = (("DeepSeek-R1", "deepseek-r1"), ("DeepSeek-V3", "deepseek-v3"), ("gpt-oss-120b", "gpt-oss-120b"),
                    ("Llama-3.3-70B", "llama-3.1-70b"), ("Llama-3.1-405B", "llama-3.1-405b"),
                    ("Qwen3-235B", "qwen3-235b-a22b"))


def family(model_name: str) -> str:
    """Model family of a catalogue name: ``llama``, ``qwen3``, ``gpt``, ``deepseek``."""
    return model_name.split("-")[0]


saturated = screen.saturated


# --------------------------------------------------------------------------------------- silicon
def silicon(cat: Catalogue):
    """Resolved silicon rows, their hardware, and the read/resolve skip counts."""
    mset, hardware = screen.resolve(measurements.read(CALIBRATION / "silicon_calibration.csv"), cat)
    return list(mset.rows), hardware, mset.skipped


def profiles_for(rows, table: dict) -> list:
    """The engine profile of every row."""
    return [table.get(m.engine or "default", table["default"]) for m in rows]


def _fmt(x: float, digits: int = 1) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def silicon_table(rows, pred: cal.Predictions) -> str:
    """Per-group and overall error table (markdown)."""
    meas = cal.measured(rows)
    head = ("| group | n | TPOT MAPE % | TPOT median % | TPOT within 20 % | TTFT MAPE % | TTFT median % |\n"
            "|---|---:|---:|---:|---:|---:|---:|")
    lines = [head]

    def line(label, idx):
        idx = np.asarray(idx, dtype=int)
        t = cal.Errors.of(pred.tpot_s[idx], meas.tpot_s[idx])
        f = cal.Errors.of(pred.ttft_s[idx], meas.ttft_s[idx])
        return (f"| {label} | {t.n} | {_fmt(t.mape)} | {_fmt(t.median)} | {_fmt(t.within_20, 0)} | "
                f"{_fmt(f.mape)} | {_fmt(f.median)} |")

    groups = defaultdict(list)
    for i, m in enumerate(rows):
        if not saturated(m):
            groups[(m.model_name, m.system, m.engine)].append(i)
    for key in sorted(groups):
        lines.append(line(" / ".join(key), groups[key]))
    fit_idx = [i for i, m in enumerate(rows) if not saturated(m) and family(m.model_name) != HELD_OUT_FAMILY]
    held_idx = [i for i, m in enumerate(rows) if not saturated(m) and family(m.model_name) == HELD_OUT_FAMILY]
    sat_idx = [i for i, m in enumerate(rows) if saturated(m)]
    lines.append(line("**fitted families (deepseek, gpt-oss, qwen3)**", fit_idx))
    lines.append(line(f"**held-out family ({HELD_OUT_FAMILY})**", held_idx))
    lines.append(line("**overall (not saturated)**", fit_idx + held_idx))
    lines.append(line("saturated runs (scored apart)", sat_idx))
    return "\n".join(lines)


def overall(rows, pred) -> cal.Report:
    """Errors over every unsaturated row."""
    idx = np.array([i for i, m in enumerate(rows) if not saturated(m)])
    meas = cal.measured(rows)
    return cal.Report(cal.Errors.of(pred.tpot_s[idx], meas.tpot_s[idx]),
                      cal.Errors.of(pred.ttft_s[idx], meas.ttft_s[idx]),
                      cal.Errors.of(pred.tok_per_gpu, meas.tok_per_gpu))


# ------------------------------------------------------------------------------------- published
def _published_scenario(p: dict, cat: Catalogue):
    """(scenario, budget, pins, compared output tok/s/GPU) of one published point, or a reason to skip it."""
    spec = str(p.get("speculative_decoding") or "").lower()
    if spec.startswith(("mtp", "on", "eagle")) or "enabled" in spec:
        return "speculative decoding (acceptance rate not modelled)"
    if p.get("disaggregated"):
        return "disaggregated prefill/decode"
    if not p.get("isl") or not p.get("osl"):
        return "variable-length dataset (no isl/osl)"
    system = PUBLISHED_SYSTEMS.get(p.get("hardware_gpu"))
    if system is None:
        return f"GPU {p.get('hardware_gpu')} not in the catalogue"
    name = next((ours for key, ours in PUBLISHED_MODELS if key.lower() in p["model"].lower()), None)
    if name is None:
        return "model not in the catalogue"
    gpus = p.get("gpus_per_instance") or (p.get("gpu_count_total") if p.get("num_instances") == 1 else None)
    if not gpus:
        return "GPUs per instance not stated"
    measured = p.get("output_tok_s_per_gpu")
    if not measured:
        return "no output tokens/s per GPU"
    framework = (p.get("framework") or "").lower()
    eng = "trtllm" if "tensorrt" in framework else "sglang" if "sglang" in framework else \
        "vllm" if "vllm" in framework else "default"
    prof = engine(eng)
    wq = (p.get("weight_precision") or "").upper()
    quant = "fp4" if "FP4" in wq else "fp8" if "FP8" in wq else "bf16"
    kq = (p.get("kv_cache_precision") or "").upper()
    kv = "fp8" if kq.startswith("FP8") else "bf16" if kq.startswith("BF16") else cal.kv_mode(prof, quant)
    hw = cat.hardware(system)
    if gpus > hw.scale_up_domain_gpus:
        return "instance wider than the scale-up domain"
    tp = p.get("tp")
    ep = p.get("ep")
    adp = p.get("attention_dp")
    dp = (gpus // tp if tp else None) if adp else (1 if adp is False else None)
    if tp and dp is None:
        dp = gpus // (tp * (p.get("pp") or 1))
    conc = p.get("concurrency")
    pins = dict(tp=tp, pp=p.get("pp") or (1 if tp else None), ep=ep, dp=dp, quant=quant, kv_quant=kv,
                kv_offload_fraction=0.0, batch=int(conc) if conc else None)
    sc = Scenario(hardware=hw, model=load_model(name), workload=Workload(isl=int(p["isl"]), osl=int(p["osl"])),
                  profile=prof)
    return sc, Budget(gpus=int(gpus)), pins, float(measured), eng


def published(cat: Catalogue) -> tuple[str, float, list]:
    """Table of predicted vs published max output tokens/s per GPU; the median abs % error."""
    points = json.loads((CALIBRATION / "published_calibration.json").read_text())
    lines = ["| id | GPU x n | model | engine | isl/osl | basis | published out tok/s/GPU | predicted | error % "
             "| plan |",
             "|---|---|---|---|---|---|---:|---:|---:|---|"]
    skipped, errors = [], []
    for p in points:
        got = _published_scenario(p, cat)
        if isinstance(got, str):
            skipped.append((p["id"], got))
            continue
        sc, budget, pins, value, eng = got
        gpus = budget.gpus
        space = default_space(sc).pinned(**pins)
        space = space.__class__(**{**space.__dict__, "tp": tuple(t for t in space.tp if t <= gpus),
                                   "dp": tuple(d for d in space.dp if d <= gpus)})
        note = ""
        try:
            best = optimise(sc, budget, space, Limits(), top=1).best
            plan, tps = best.plan, float(best.scores.total_tps[0])
        except PlannerError as exc:
            if not (pins["batch"] and gpus == 1):
                skipped.append((p["id"], f"no feasible plan ({str(exc).splitlines()[0][:60]})"))
                continue
            # The stated concurrency does not fit in one GPU's KV cache: the engine admits what
            # fits and queues the rest (planner.serving.aggregated admission), which the evaluator scores.
            plan = Plan(batch=pins["batch"], quant=pins["quant"], kv_quant=pins["kv_quant"])
            tps, note = float(evaluate_plan(sc, plan).total_tps[0]), " (KV admits fewer; rest queued)"
        pred = tps / gpus
        err = (pred / value - 1.0) * 100.0
        errors.append(abs(err))
        lines.append(f"| {p['id']} | {p['hardware_gpu']} x {gpus} | {sc.model.name} | {eng} | {p['isl']}/{p['osl']} | "
                     f"{p['published_basis']} | {value:,.0f} | {pred:,.0f} | {err:+.0f} | "
                     f"{plan.layout()} b{plan.batch} {plan.quant}/{plan.kv_quant} x{plan.instances}{note} |")
    med = float(np.median(errors)) if errors else math.nan
    return "\n".join(lines), med, skipped


# ------------------------------------------------------------------------------------ microbench
def microbench(cat: Catalogue) -> str:
    """The H200 catalogue's rates against h200_microbench.json."""
    micro = json.loads((CALIBRATION / "h200_microbench.json").read_text())["micro"]
    hw = cat.hardware("hgx-h200")
    r = rates(hw, engine("default"))
    lines = ["| quantity | measured | predicted | error % |", "|---|---:|---:|---:|"]

    def add(label, measured, predicted, unit):
        lines.append(f"| {label} | {measured:,.1f} {unit} | {predicted:,.1f} {unit} | "
                     f"{(predicted / measured - 1) * 100:+.1f} |")

    add("HBM device copy (read + write)", micro["hbm_copy_GBps_read_plus_write"], r.hbm_bytes_per_s / 1e9, "GB/s")
    add("BF16 GEMM 8192^3", micro["bf16_gemm_TFLOPs_8192cubed"], r.prefill_flop_per_s[0] / 1e12, "TFLOP/s")
    k, n = 4096, 14336
    for dtype, bytes_per, qi in (("bf16", 2.0, 0), ("fp8", 1.0, 1)):
        for m in (1, 16, 64, 256, 1024):
            key = f"{dtype}_gemv_M{m}_K{k}_N{n}_us"
            flop = 2.0 * m * k * n
            moved = k * n * bytes_per + m * (k + n) * 2.0
            predicted = max(flop / r.decode_flop_per_s[qi], moved / r.hbm_bytes_per_s) * 1e6  # roofline
            add(f"{dtype} GEMM M={m} 4096->14336 (roofline max)", micro[key], predicted, "us")
    add("pinned host-to-device copy", micro["h2d_pinned_GBps"], r.host_bytes_per_s / 1e9, "GB/s")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ fit
def knob_line(name: str, value: float) -> str:
    """A fitted knob as its profile-file line (overheads in microseconds, 4 significant digits)."""
    if name.endswith("_overhead_s"):
        value *= 1e6
    return f"{toml_key(name)} = {value:.4g}"


def pair_value(profile, knob, offset: float) -> float:
    """An (engine, GPU) pair's knob: the engine-wide value times ``exp(offset)``, within bounds.

    Fitting offsets (pulled towards 0 by the prior) keeps the engine-wide values informed by
    every GPU's rows, so they stay the defaults for parts without a pair of their own.
    """
    return float(np.clip(max(getattr(profile, knob.name), knob.start) * math.exp(offset), knob.low, knob.high))


def refit(rows, hardware, cat: Catalogue) -> None:
    """Jointly refit engine knobs and GPU efficiencies on the training rows; print the values."""
    train = [m for m in rows if family(m.model_name) != HELD_OUT_FAMILY and not saturated(m)]
    meas = cal.measured(train)
    count = Counter(hardware[m.system].gpu.name for m in train)
    gpus = sorted(g for g, c in count.items() if c >= MIN_GPU_ROWS and g != "h200-sxm")
    engines = {e: engine(e) for e in ENGINES}
    params = []  # (kind, owner, knob)
    for e in ENGINES:
        sub = [m for m in train if m.engine == e]
        params += [("engine", e, k) for k in cal.informed_knobs(sub, hardware)]
    gpu_knob = {f: cal.Knob(f, "logit", lo, hi) for f, (lo, hi) in GPU_KNOBS.items()}
    params += [("gpu", g, gpu_knob[f]) for g in gpus for f in GPU_KNOBS]
    pair_rows = Counter((m.engine, hardware[m.system].gpu.name) for m in train)
    pair_families = Counter((m.engine, hardware[m.system].gpu.name, family(m.model_name)) for m in train)
    pairs = sorted(p for p, c in pair_rows.items() if c >= MIN_PAIR_ROWS)
    knob_by_name = {k.name: k for k in cal.KNOBS}
    for pair in pairs:
        families = sum(1 for (e, g, _), c in pair_families.items() if (e, g) == pair and c >= MIN_FAMILY_ROWS)
        names = PAIR_LATENCY_KNOBS + (PAIR_SPEED_KNOBS if families >= 2 else ())
        params += [("pair", pair, knob_by_name[f]) for f in names]

    def start(kind, owner, knob):
        if kind == "engine":
            return max(getattr(engines[owner], knob.name), knob.start)
        if kind == "pair":  # log offset from the engine-wide value (0: none)
            return None
        return getattr(next(h.gpu for h in hardware.values() if h.gpu.name == owner), knob.name)

    theta0 = np.array([0.0 if kind == "pair" else cal.to_theta(k, start(kind, o, k)) for kind, o, k in params])

    def state(theta):
        prof = {}
        for e, p in engines.items():
            upd = {k.name: cal.from_theta(k, t) for (kind, o, k), t in zip(params, theta)
                   if kind == "engine" and o == e}
            base = p.model_copy(update=upd)
            per_gpu = {}
            for (kind, o, k), t in zip(params, theta):
                if kind == "pair" and o[0] == e:
                    per_gpu.setdefault(o[1], {})[k.name] = pair_value(base, k, t)
            prof[e] = base.model_copy(update={"gpus": per_gpu})
        hw = {}
        for name, h in hardware.items():
            upd = {k.name: cal.from_theta(k, t) for (kind, o, k), t in zip(params, theta)
                   if kind == "gpu" and o == h.gpu.name}
            hw[name] = h.model_copy(update={"gpu": h.gpu.model_copy(update=upd)}) if upd else h
        return prof, hw

    ttft_weight = cal.TTFT_WEIGHT

    def residual(theta):
        prof, hw = state(theta)
        return cal.relative_residuals(cal.predict(train, hw, [prof[m.engine] for m in train]), meas, ttft_weight)

    t0 = time.perf_counter()

    def fitted(n: int):
        """One pass of the fit, its progress on stderr (one line an iteration) and its time."""
        start = time.perf_counter()

        def show(i, of, cost):
            print(f"pass {n}: iteration {i}/{of}, cost {cost:.4g}, {time.perf_counter() - start:.0f} s",
                  file=sys.stderr, flush=True)

        theta = cal.robust_least_squares(residual, theta0, iterations=20, prior_weight=PRIOR_WEIGHT, progress=show)
        print(f"pass {n}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        return theta

    theta = fitted(1)
    # Trimmed second pass: rows the first fit misses by more than OUTLIER_FACTOR in TPOT ran
    # something else than their row says (e.g. Qwen3-32B BF16 on GB200 at batch 1: 42 ms a token
    # against a 4 ms weight read); they are counted and left out of the second pass.
    prof, hw_fit = state(theta)
    first = cal.predict(train, hw_fit, [prof[m.engine] for m in train])
    keep = np.abs(np.log(first.tpot_s / meas.tpot_s)) <= math.log(OUTLIER_FACTOR)
    trimmed = Counter(" / ".join((m.model_name, m.system, m.engine)) for m, k in zip(train, keep) if not k)
    print(f"trimmed after the first pass (TPOT off by more than {OUTLIER_FACTOR}x): {sum(trimmed.values())} rows: "
          + "; ".join(f"{g}: {c}" for g, c in sorted(trimmed.items())))

    # The second pass weighs TTFT by how much noisier it is than TPOT on the kept rows: the
    # ratio of their median absolute relative errors after the first pass (pooled over engines).
    ttft_weight = float(np.nanmedian(np.abs(first.tpot_s[keep] / meas.tpot_s[keep] - 1.0))
                        / np.nanmedian(np.abs(first.ttft_s[keep] / meas.ttft_s[keep] - 1.0)))
    print(f"TTFT weight of the second pass (median TPOT / TTFT relative error, first pass): {ttft_weight:.3f}")
    train = [m for m, k in zip(train, keep) if k]
    meas = cal.measured(train)
    theta = fitted(2)
    prof, hw_fit = state(theta)
    held = [m for m in rows if family(m.model_name) == HELD_OUT_FAMILY and not saturated(m)]
    for label, sub in (("training", train), ("held-out", held)):
        p = cal.predict(sub, hw_fit, [prof.get(m.engine, engine("default")) for m in sub])
        rep = cal.report(p, cal.measured(sub))
        print(f"{label}: TPOT MAPE {rep.tpot.mape:.1f} median {rep.tpot.median:.1f}; "
              f"TTFT MAPE {rep.ttft.mape:.1f} median {rep.ttft.median:.1f}")
    print(f"\n## Refit ({len(train)} training rows, {len(params)} parameters, {time.perf_counter() - t0:.0f} s)\n")
    for e in ENGINES:
        print(f"[{e}]")
        for kind, o, k in params:
            if kind == "engine" and o == e:
                print(knob_line(k.name, getattr(prof[e], k.name)))
    for e, g in pairs:
        print(f"[{e}: gpus.{g}]")
        for name, value in prof[e].gpus[g].items():
            print(knob_line(name, value))
    for g in gpus:
        print(f"[gpu {g}]")
        for (kind, o, k), t in zip(params, theta):
            if kind == "gpu" and o == g:
                print(f"{k.name.removesuffix('_fraction')} = {cal.from_theta(k, t):.3f}")
    pooled = cal.fit(train, hardware, engine("default"),
                     knobs=tuple(k for k in cal.KNOBS if k.name in ("prefill_wait_fraction", "ttft_overhead_s")))
    print(f"[default, pooled serving knobs] prefill_wait_fraction = {pooled.prefill_wait_fraction:.4g}, "
          f"ttft_overhead_us = {pooled.ttft_overhead_s * 1e6:.4g}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit the defaults (minutes) and print them")
    args = parser.parse_args(argv)
    cat = Catalogue()
    rows, hardware, skipped = silicon(cat)
    table = {name: engine(name) for name in ("default", *ENGINES)}
    t0 = time.perf_counter()
    pred = cal.predict(rows, hardware, profiles_for(rows, table))
    print(f"# rackplan accuracy ({len(rows)} silicon rows scored in {time.perf_counter() - t0:.1f} s)\n")
    print("## silicon_calibration.csv (aggregated serving)\n")
    print(silicon_table(rows, pred))
    print("\nRows not scored: " + "; ".join(f"{k}: {v}" for k, v in sorted(skipped.items())))
    rep = overall(rows, pred)
    pub_table, pub_median, pub_skipped = published(cat)
    print("\n## published_calibration.json (max output tokens/s per GPU, layout pinned)\n")
    print(pub_table)
    print("\nPoints not compared: " + "; ".join(f"{i}: {why}" for i, why in pub_skipped))
    print("\n## h200_microbench.json\n")
    print(microbench(cat))
    print("\n## Goals (shipped defaults)\n")
    for label, value, goal in (("TPOT MAPE %", rep.tpot.mape, GOALS["tpot_mape"]),
                               ("TTFT MAPE %", rep.ttft.mape, GOALS["ttft_mape"]),
                               ("published max-throughput median error %", pub_median, GOALS["published_median"])):
        print(f"- {label}: {value:.1f} (goal <= {goal:.0f}: {'met' if value <= goal else 'NOT met'})")
    if args.fit:
        refit(rows, hardware, cat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
