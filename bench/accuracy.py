"""Accuracy of rackplan's predictions against measurements, with the shipped defaults.

Four comparisons (data in ``calibration/``, see its README):

1. ``silicon_calibration.csv``: measured TPOT and TTFT of aggregated serving runs, per
   (model, system, engine) group and overall: n, TPOT MAPE, TPOT median absolute % error,
   share within +-20 %, TTFT MAPE and median. Disaggregated runs and rows that contradict
   themselves are counted, not scored. Saturated runs (requests waited longer for their
   first token than they spent decoding, so the engine ran fewer sequences than the stated
   concurrency) are scored on a separate line. Each model family is reported on its own line too
   (every family is fitted: how the model does on a family it never saw is ``--lofo``'s figure).
2. ``published_calibration.json``: predicted maximum output tokens/s per GPU (the best scored
   candidate, ``planner.serving.candidates``, of one instance of the published GPU count, with the
   published layout, precision, KV dtype and, where given, concurrency pinned) against the
   published figure, per point, with the
   reason for every point left out (speculative decoding, disaggregation, variable-length
   datasets, models outside the catalogue). Input+output figures are compared on their
   output share (the file's ``output_tok_s_per_gpu``).
3. ``h200_microbench.json``: the catalogue's H200 rates against the measured kernels.
4. ``silicon_calibration.csv``'s disaggregated runs: each decode pool's measured TPOT against the
   decode-only instance ``--disagg`` sizes its decode pool with, at the sequences it runs by Little's law
   (``planner.calibration.decode_pools``), per group and overall. Never fitted, and no goal.

Usage::

    .venv/bin/python bench/accuracy.py            # the tables, shipped defaults
    .venv/bin/python bench/accuracy.py --fit      # also refit the defaults (minutes) and print them
    .venv/bin/python bench/accuracy.py --no-measured-screen   # also score the rows the kernel-table screens drop
    .venv/bin/python bench/accuracy.py --decompose   # TPOT split into decode step and prompt tokens, only
    .venv/bin/python bench/accuracy.py --screens     # each group's rows against the measured-kernel floor, only
    .venv/bin/python bench/accuracy.py --ttft-by-rate   # measured / predicted TTFT by collection and streamed rate
    .venv/bin/python bench/accuracy.py --sent-lengths --lofo   # InferenceX runs at the mean lengths they sent

``--fit`` refits, on every family's silicon rows (saturated runs
excluded), every engine profile's knobs jointly with the GPUs' HBM fractions and the per-GPU
tables of the engine profiles (``planner.calibration.joint``, whose docstring says what and how)
and prints the values to paste into ``planner/engine/data/*.toml`` and
``hardware/data/gpus/*.toml``. The ``default`` engine keeps its unit multipliers and overheads
(neutral) and takes the pooled serving knobs.

``--lofo`` adds leave-one-model-family-out cross-validation: for each family (``--families``,
default all four), the same joint fit without that family's rows, scored on them. One fit per
family (a few minutes each; ``--jobs 2`` fits two at once); the pooled line is the accuracy to expect on a
model never seen. A second table scores the same out-of-fold predictions per engine, with the 90th percentile
of the errors: the ``out_of_family_*`` lines of the shipped profiles, which the reports quote beside a plan.
Each fold's fit starts from, and centres its prior on, values no calibration row informed
(``planner.calibration.joint.neutral``: sourced values): the knobs the rows hold only weakly stay
there, so a left-out family's errors cannot reach its own fold through the start. ``--start
shipped`` starts the folds from the shipped profiles instead, as ``--fit`` does (it refits the
shipped values; ``--fit --start neutral`` fits from the neutral start): those were fitted on every
family but Llama, so the other folds then start from values their own family informed
(docs/accuracy.md, "Folds that start where no row informed them").

``--decompose`` prints only the split of TPOT into the decode step and the cost of a prompt token
(``planner.calibration.decompose``): for every (model, system, engine) whose runs of one configuration
differ in output length, the predicted step without prompts and the predicted cost of a prompt token,
each over the measured one (medians over its configurations), and that cost in GPU microseconds.

``--screens`` prints only, per (model, system, engine) group the measured-kernel floor applies to (dense models,
``planner.calibration.kernel_chain``), how many of its rows (every row the other checks keep, saturated ones
included) measure a TPOT below the floor and the range of measured TPOT over floor among those and among the rest;
then every campaign with a row below a physical floor, and whether it is counted out whole
(``planner.calibration.screen.discredited_campaigns``).

``--sent-lengths`` reads the aggregated InferenceX runs (every DeepSeek-V3 and gpt-oss-120b run) at the mean
prompt and output lengths their benchmark sent, 922 of a stated 1,024 (``planner.calibration.measurements``,
``sent_length``), for the tables, ``--fit`` and ``--lofo`` alike: measured and not the default (docs/accuracy.md,
"What the InferenceX recipes ran").

``--fit`` also prints each engine's measured range (``planner.calibration.calibrate.measured_ranges`` of its
unsaturated rows, every family), the ``measured_*`` lines of the shipped profiles.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from hardware.errors import CatalogueError  # noqa: E402
from models.catalogue import model as load_model  # noqa: E402
from models.errors import ModelError  # noqa: E402
from planner.budget import Budget  # noqa: E402
from planner.calibration import decode_pools, decompose, joint, kernels, measurements, screen  # noqa: E402
from planner.calibration import fit as cal  # noqa: E402
from planner.calibration.calibrate import measured_ranges  # noqa: E402
from planner.engine.profile import engine, file_key  # noqa: E402
from planner.engine.rates import rates  # noqa: E402
from planner.serving.candidates import Limits, candidate_table  # noqa: E402
from planner.serving.evaluate import evaluate_plan  # noqa: E402
from planner.serving.plan import Plan  # noqa: E402
from planner.serving.scenario import Scenario  # noqa: E402
from planner.serving.space import default_space  # noqa: E402
from planner.serving.workload import Workload  # noqa: E402
from planner.units import us  # noqa: E402

CALIBRATION = Path(__file__).resolve().parents[1] / "calibration"
# The default profile's fitted knobs, all engines pooled (--fit, and each --lofo fold).
POOLED_KNOBS = tuple(k for k in cal.KNOBS if k.name in ("prompt_queue_scale", "ttft_overhead_s"))
ENGINES = joint.ENGINES
FAMILIES = ("deepseek", "gpt", "llama", "qwen3")  # catalogue name prefixes (joint.family)
# The kernel-grounded cost model issue's goals: calibration set, and leave-one-family-out (--lofo).
GOALS = {"tpot_mape": 10.0, "ttft_mape": 20.0, "published_median": 12.0, "lofo_tpot_mape": 13.0,
         "lofo_ttft_mape": 25.0}

PUBLISHED_SYSTEMS = {"H100": "hgx-h100", "H200": "hgx-h200", "B200": "hgx-b200", "B300": "hgx-b300",
                     "GB200": "gb200-nvl72", "GB300": "gb300-nvl72", "MI300X": "mi300x-8", "MI325X": "mi325x-8",
                     "MI355X": "mi355x-8"}
# Published model names -> catalogue entries (same architecture: Llama-3.3-70B is Llama-3.1-70B's).
PUBLISHED_MODELS = (("DeepSeek-R1", "deepseek-r1"), ("DeepSeek-V3", "deepseek-v3"), ("gpt-oss-120b", "gpt-oss-120b"),
                    ("Llama-3.3-70B", "llama-3.1-70b"), ("Llama-3.1-405B", "llama-3.1-405b"),
                    ("Qwen3-235B", "qwen3-235b-a22b"))


family = joint.family
saturated = screen.saturated


# --------------------------------------------------------------------------------------- silicon
def silicon(cat: Catalogue, measured_ceiling: bool = True, sent_lengths: bool = False):
    """Resolved silicon rows, their hardware, and the read/resolve skip counts (``screen.resolve``); ``sent_lengths``:
    the InferenceX runs at the mean lengths their benchmark sent (``measurements.read``)."""
    mset, hardware = screen.resolve(measurements.read(CALIBRATION / "silicon_calibration.csv",
                                                      sent_lengths=sent_lengths), cat,
                                    measured_ceiling=measured_ceiling)
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
    for fam in FAMILIES:
        lines.append(line(f"**family {fam}**",
                          [i for i, m in enumerate(rows) if not saturated(m) and family(m.model_name) == fam]))
    sat_idx = [i for i, m in enumerate(rows) if saturated(m)]
    lines.append(line("**overall (not saturated)**", [i for i, m in enumerate(rows) if not saturated(m)]))
    lines.append(line("saturated runs (scored apart)", sat_idx))
    cold = np.array([i for i, m in enumerate(rows) if m.cold_ttft and not saturated(m)], dtype=int)
    f = cal.Errors.of(pred.ttft_s[cold], cal.measured(rows, cold_ttft=True).ttft_s[cold])
    lines.append(f"| cold-start TTFTs (scored apart: InferenceX runs before its warm-up; their TPOT scored above) | "
                 f"{f.n} | | | | {_fmt(f.mape)} | {_fmt(f.median)} |")
    return "\n".join(lines)


def decode_pools_scored(cat: Catalogue, table: dict):
    """The decode pools of the file's disaggregated runs resolved (``planner.calibration.decode_pools``), their
    measured TPOT, the TPOT each engine's profile predicts and the ``default`` profile's (as if the engine were
    unknown), and the pools not scored by reason (the file's aggregated rows left out of the count)."""
    mset, hardware = decode_pools.resolve(measurements.read(CALIBRATION / "silicon_calibration.csv",
                                                            decode_pools=True), cat)
    rows = list(mset.rows)
    pred = decode_pools.predict_tpot(rows, hardware, profiles_for(rows, table))
    unknown = decode_pools.predict_tpot(rows, hardware, [table["default"]] * len(rows))
    skipped = {k: v for k, v in mset.skipped.items() if k != measurements.AGGREGATED_RUN}
    return rows, np.array([m.tpot_s for m in rows]), pred, unknown, skipped


def decode_pool_table(cat: Catalogue, table: dict) -> tuple[str, dict[str, int]]:
    """Per-group, per-engine and overall TPOT errors of the decode pools of the file's disaggregated runs
    (:func:`decode_pools_scored`: never fitted), as a markdown table, and the pools not scored by reason."""
    rows, meas, pred, unknown, skipped = decode_pools_scored(cat, table)
    head = ("| group | n | sequences per worker | TPOT MAPE % | TPOT median % | TPOT P90 % | TPOT within 20 % | "
            "predicted / measured, median |\n|---|---:|---:|---:|---:|---:|---:|---:|")

    def line(label, idx, predicted=pred):
        idx = np.asarray(idx, dtype=int)
        e = cal.Errors.of(predicted[idx], meas[idx])
        seqs = [decode_pools.running(rows[i]) for i in idx]
        return (f"| {label} | {e.n} | {min(seqs):,}-{max(seqs):,} | {_fmt(e.mape)} | {_fmt(e.median)} | "
                f"{_fmt(e.p90, 0)} | {_fmt(e.within_20, 0)} | {np.median(predicted[idx] / meas[idx]):.2f} |")

    groups = defaultdict(list)
    for i, m in enumerate(rows):
        groups[(m.model_name, m.system, m.engine)].append(i)
    lines = [head] + [line(" / ".join(key), groups[key]) for key in sorted(groups)]
    lines += [line(f"**engine {name}**", [i for i, m in enumerate(rows) if m.engine == name])
              for name in ENGINES if any(m.engine == name for m in rows)]
    lines.append(line("**all decode pools**", range(len(rows))))
    lines.append(line("**all, under the default profile**", range(len(rows)), unknown))
    return "\n".join(lines), skipped


# Streamed output tokens/s of one instance (concurrency / measured TPOT): the bins of ttft_rate_table.
RATE_BINS = (0.0, 2_000.0, 6_000.0, 10_000.0, 20_000.0, math.inf)


def collection(campaign: str | None) -> str:
    """Which of the file's three collections a run's campaign (``Measurement.campaign``) comes from: a results
    database's configurations (``config_id=``), the per-file collection (``source_file=`` a path), or the dated
    CSVs (``source_file=`` a dated file name)."""
    if campaign is None:
        return "none recorded"
    if campaign.startswith("config_id="):
        return "database configurations"
    return "per-file collection" if "/" in campaign.partition(", ")[0] else "dated CSVs"


def ttft_rate_table(rows, pred: cal.Predictions) -> str:
    """Measured over predicted TTFT (median, and runs) by collection, engine and the instance's streamed output
    tokens/s, unsaturated runs with both measurements (markdown)."""
    meas = cal.measured(rows)
    cells = defaultdict(list)
    for i, m in enumerate(rows):
        if saturated(m) or not (meas.ttft_s[i] > 0 and meas.tpot_s[i] > 0):
            continue
        rate = m.batch / meas.tpot_s[i]
        k = next(b for b in range(len(RATE_BINS) - 1) if rate < RATE_BINS[b + 1])
        cells[(collection(m.campaign), m.engine, k)].append(meas.ttft_s[i] / pred.ttft_s[i])
    labels = [f"{lo / 1e3:g}-{hi / 1e3:g}k" if math.isfinite(hi) else f">= {lo / 1e3:g}k"
              for lo, hi in zip(RATE_BINS, RATE_BINS[1:])]
    lines = ["| collection / engine | " + " | ".join(f"{b} tok/s" for b in labels) + " |",
             "|---|" + "---:|" * len(labels)]
    for key in sorted({k[:2] for k in cells}):
        row = [cells.get((*key, b)) for b in range(len(labels))]
        lines.append(f"| {' / '.join(key)} | " + " | ".join(
            f"{np.median(c):.2f} ({len(c)})" if c else "-" for c in row) + " |")
    return "\n".join(lines)


def arrivals_table(rows, hardware, table: dict) -> str:
    """Each group of the per-file collection (one campaign each) and the other collections' groups (markdown): TPOT and
    TTFT MAPE with every run predicted as a closed loop and as one burst (``Workload.arrivals``), the shipped
    profiles, unsaturated runs; the arrivals the file's campaigns are predicted with (``Measurement.burst``)."""
    scored = [m for m in rows if not saturated(m)]
    meas, profiles = cal.measured(scored), profiles_for(scored, table)
    pred = {burst: cal.predict([dataclasses.replace(m, burst=burst) for m in scored], hardware, profiles)
            for burst in (False, True)}
    groups = defaultdict(list)
    for i, m in enumerate(scored):
        groups[(collection(m.campaign), m.model_name, m.system, m.engine)].append(i)
    lines = ["| collection / group | runs | TPOT MAPE %, closed loop | TPOT MAPE %, one burst | "
             "TTFT MAPE %, closed loop | TTFT MAPE %, one burst | predicted as |", "|---|---:|---:|---:|---:|---:|---|"]
    for key in sorted(groups):
        idx = np.array(groups[key])
        tpot = [cal.Errors.of(pred[b].tpot_s[idx], meas.tpot_s[idx]).mape for b in (False, True)]
        ttft = [cal.Errors.of(pred[b].ttft_s[idx], meas.ttft_s[idx]).mape for b in (False, True)]
        kinds = sorted({"one burst" if scored[i].burst else "closed loop" for i in idx})
        lines.append(f"| {key[0]}: {' / '.join(key[1:])} | {idx.size} | {_fmt(tpot[0])} | {_fmt(tpot[1])} | "
                     f"{_fmt(ttft[0])} | {_fmt(ttft[1])} | {', '.join(kinds)} |")
    return "\n".join(lines)


def decomposition_table(rows, pred: cal.Predictions) -> str:
    """``decompose.by_group`` of the rows as a markdown table."""
    groups = decompose.by_group(decompose.configurations(rows, pred.tpot_s, pred.ttft_s))
    lines = ["| group | configurations | decode step, predicted / measured | prompt token, predicted / measured | "
             "prompt token, measured GPU us | prompt token, predicted GPU us |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {g.label} | {g.configurations} | {g.decode_ratio:.2f} | {g.prompt_ratio:.2f} | "
              f"{g.measured_gpu_us:.1f} | {g.predicted_gpu_us:.1f} |" for g in groups]
    return "\n".join(lines)


def screens_table(cat: Catalogue) -> str:
    """Each group's rows over their measured-kernel floor (``screen.below_kernel_chain``), as a markdown table."""
    rows, hardware, _ = silicon(cat, measured_ceiling=False)
    ratios = defaultdict(list)
    for m in rows:
        chain = screen.kernel_chain_s(m, screen.model_spec(m.model), hardware[m.system])
        if chain is not None:
            ratios[(m.model_name, m.system, m.engine)].append(m.tpot_s / chain)
    lines = ["| group | rows | below the floor | TPOT / floor, below | TPOT / floor, kept |",
             "|---|---:|---:|---:|---:|"]

    def span(values):
        return f"{min(values):.3f}-{max(values):.3f}" if values else "-"
    for key in sorted(ratios):
        below = [r for r in ratios[key] if r < 1.0]
        kept = [r for r in ratios[key] if r >= 1.0]
        lines.append(f"| {' / '.join(key)} | {len(ratios[key])} | {len(below)} | {span(below)} | {span(kept)} |")
    return "\n".join(lines)


def campaigns_table(cat: Catalogue) -> str:
    """Every campaign (``Measurement.campaign``) with a run below a physical floor: its runs below one, the others,
    and whether ``screen.discredited_campaigns`` counts it out whole (markdown)."""
    mset = measurements.read(CALIBRATION / "silicon_calibration.csv")
    below, passed = Counter(), Counter()
    for m in mset.rows:
        try:
            spec, hw = screen.model_spec(m.model), cat.hardware(m.system)
        except (ModelError, CatalogueError):
            continue
        if screen.check(m, spec, hw) is None:
            (below if screen.floor_reason(m, spec, hw, chain=kernels.readable()) else passed)[m.campaign] += 1
    gone = screen.discredited_campaigns(below, passed)
    lines = ["| campaign (source, model, engine, system) | runs below a floor | runs above | counted out whole |",
             "|---|---:|---:|---|"]
    lines += [f"| {short_campaign(s)} | {below[s]} | {passed[s]} | {'yes' if s in gone else 'no'} |"
              for s in sorted(below, key=str)]
    return "\n".join(lines)


def short_campaign(campaign: str | None) -> str:
    """A campaign's name without the collector's home folder: ``.../h200_sxm/vllm/0.12.0/FILE.csv, ...``."""
    if campaign is None:
        return "(none recorded)"
    source, _, rest = campaign.partition(", ")
    folders = source.split("/")
    return (f"{folders[0].split('=')[0]}=.../{'/'.join(folders[-4:])}" if len(folders) > 4 else source) + f", {rest}"


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
    # As published: FP8; BF16, FP16 and "auto" (the model's activation dtype) as 16-bit; else the engine's default.
    kv = "fp8" if kq.startswith("FP8") else "bf16" if kq.startswith(("BF16", "FP16", "AUTO")) else \
        cal.kv_mode(prof, quant)
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
        # One instance of the published size: the best pinned plan on exactly `gpus` GPUs (several
        # smaller instances at the pinned concurrency would each run that concurrency).
        space = default_space(sc).pinned(**pins)
        table = candidate_table(sc, space, Limits())
        one = np.flatnonzero(table.ok & (table.scores.gpus_per_instance == gpus))
        note = ""
        if one.size:
            best = one[np.argmax(table.scores.instance_tps[one])]
            plan, tps = table.plans.plan(int(best)), float(table.scores.instance_tps[best])
        elif pins["batch"] and gpus == 1:
            # The stated concurrency does not fit in one GPU's KV cache: the engine admits what
            # fits and queues the rest (planner.serving.aggregated admission), which the evaluator scores.
            plan = Plan(batch=pins["batch"], quant=pins["quant"], kv_quant=pins["kv_quant"])
            tps, note = float(evaluate_plan(sc, plan).total_tps[0]), " (KV admits fewer; rest queued)"
        else:
            skipped.append((p["id"], f"no feasible plan on one instance of {gpus} GPUs"))
            continue
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
    if file_key(name) != name:  # an overhead, in microseconds
        value = us(value)
    return f"{file_key(name)} = {value:.4g}"


def training_rows(rows, left_out: str | None = None) -> list:
    """The unsaturated rows outside the family ``left_out`` (None: every family's)."""
    return [m for m in rows if family(m.model_name) != left_out and not saturated(m)]


def refit(rows, hardware, start_from=engine) -> None:
    """Jointly refit engine knobs and GPU efficiencies on the training rows; print the values. ``start_from``:
    each engine's profile the fit starts from (``planner.calibration.joint.joint_fit``)."""
    t0 = time.perf_counter()
    start = time.perf_counter()

    def progress(n, i, of, cost):  # stderr, one line an iteration: a fit takes minutes
        print(f"pass {n}: iteration {i}/{of}, cost {cost:.4g}, {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)

    fitted = joint.joint_fit(training_rows(rows), hardware, progress=progress, start_from=start_from)
    rep = cal.report(joint.score(fitted, fitted.kept), cal.measured(fitted.kept))
    print(f"training: TPOT MAPE {rep.tpot.mape:.1f} median {rep.tpot.median:.1f}; "
          f"TTFT MAPE {rep.ttft.mape:.1f} median {rep.ttft.median:.1f}")
    print(f"\n## Refit ({len(fitted.kept)} training rows, {len(fitted.params)} parameters, "
          f"{time.perf_counter() - t0:.0f} s)\n")
    prof = fitted.profiles
    gpu_of = {s: h.gpu.name for s, h in hardware.items()}
    for e in ENGINES:
        print(f"[{e}]")
        for kind, o, k in fitted.params:
            if kind == "engine" and o == e:
                print(knob_line(k.name, getattr(prof[e], k.name)))
        for field, span in measured_ranges([m for m in rows if m.engine == e and not saturated(m)], gpu_of).items():
            print(f"{field} = {list(span) if span else None}")
    for e in ENGINES:
        for g, values in sorted(prof[e].gpus.items()):
            print(f"[{e}: gpus.{g}]")
            for name, value in values.items():
                print(knob_line(name, value))
    for (kind, o, k), t in zip(fitted.params, fitted.theta):
        if kind == "gpu":
            print(f"[gpu {o}] {k.name.removesuffix('_fraction')} = {cal.from_theta(k, t):.3f}")
    print("\n## Identifiability of the fitted parameters (planner.calibration.identify)\n")
    print("| parameter | value | verdict | from data | ± 1σ (log) | most collinear with | correlation |")
    print("|---|---:|---|---:|---:|---|---:|")
    for i in fitted.identifiability():
        print(f"| {i.knob} | {i.value:.4g} | {i.verdict} | {i.data_share:.0%} | {i.std:.2f} | {i.partner} "
              f"| {i.correlation:+.2f} |")
    pooled = cal.fit(fitted.kept, hardware, engine("default"), knobs=POOLED_KNOBS)
    print(f"[default, pooled serving knobs] prompt_queue_scale = {pooled.prompt_queue_scale:.4g}, "
          f"ttft_overhead_us = {pooled.ttft_overhead_s * 1e6:.4g}")


def goal_line(label: str, value: float, goal: float) -> str:
    """``- label: value (goal <= goal: met)`` (or ``NOT met``)."""
    return f"- {label}: {value:.1f} (goal <= {goal:.0f}: {'met' if value <= goal else 'NOT met'})"


_FOLDS: tuple = ()  # (rows, hardware, start_from) of the running --lofo, read by the forked fold workers


def _fold(fam: str):
    """One fold of :func:`lofo`: the joint fit without family ``fam``, scored on its unsaturated rows, and the
    ``default`` profile with its pooled knobs fitted (from their neutral starts) on the same training rows ->
    (their indices among the unsaturated rows, predicted TPOT, TTFT, default's TPOT, TTFT, fit seconds)."""
    rows, hardware, start_from = _FOLDS
    scored = [m for m in rows if not saturated(m)]
    idx = np.array([i for i, m in enumerate(scored) if family(m.model_name) == fam], dtype=int)
    if idx.size == 0:
        return idx, *[np.array([])] * 4, 0.0
    t0 = time.perf_counter()
    fitted = joint.joint_fit(training_rows(rows, fam), hardware, log=lambda _line: None, start_from=start_from)
    left_out = [scored[i] for i in idx]
    p = joint.score(fitted, left_out)
    start = dataclasses.replace(engine("default"), **{k.name: k.start for k in POOLED_KNOBS})
    default = cal.fit(fitted.kept, fitted.hardware, start, knobs=POOLED_KNOBS)
    d = cal.predict(left_out, fitted.hardware, [default] * len(left_out))
    return idx, p.tpot_s, p.ttft_s, d.tpot_s, d.ttft_s, time.perf_counter() - t0


def lofo(rows, hardware, families, start_from=engine, jobs: int = 1) -> tuple[str, cal.Errors, cal.Errors]:
    """Leave-one-model-family-out cross-validation: fit without each family, score it (markdown).

    Each family's rows are predicted by a joint fit (``planner.calibration.joint``) that never saw
    them, the other families' rows all included; the pooled line
    scores every row out of fold: the figure for a model the fit has never seen. ``start_from``: each
    engine's profile the folds start from (``planner.calibration.joint.joint_fit``). ``jobs``: folds
    fitted at once, each in its own process. A second table scores the same out-of-fold predictions
    per engine, with the 90th percentile of the errors: the ``out_of_family_*`` lines of the shipped
    profiles (``planner.engine.profile.EngineProfile``), which the reports quote beside every plan; its
    ``default`` line scores the ``default`` profile on every left-out row, its pooled knobs fitted in each
    fold as ``--fit`` fits them (from their neutral starts, on the fold's training rows and fitted GPUs).
    """
    global _FOLDS
    scored = [m for m in rows if not saturated(m)]
    pred_tpot, pred_ttft = np.full(len(scored), np.nan), np.full(len(scored), np.nan)
    default_tpot, default_ttft = np.full(len(scored), np.nan), np.full(len(scored), np.nan)
    lines = ["| left-out family | n | TPOT MAPE % | TPOT median % | TTFT MAPE % | TTFT median % | fit s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    meas = cal.measured(scored)

    def errors(idx):
        return cal.Errors.of(pred_tpot[idx], meas.tpot_s[idx]), cal.Errors.of(pred_ttft[idx], meas.ttft_s[idx])

    def line(label, idx, seconds):
        t, f = errors(idx)
        return (f"| {label} | {t.n} | {_fmt(t.mape)} | {_fmt(t.median)} | {_fmt(f.mape)} | {_fmt(f.median)} | "
                f"{seconds} |")

    _FOLDS = (rows, hardware, start_from)
    try:
        if jobs > 1:  # forked workers inherit _FOLDS: nothing large is pickled
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
                folds = list(pool.map(_fold, families))
        else:
            folds = [_fold(fam) for fam in families]
    finally:
        _FOLDS = ()
    done = []
    for fam, (idx, tpot, ttft, d_tpot, d_ttft, seconds) in zip(families, folds):
        if idx.size == 0:
            continue
        pred_tpot[idx], pred_ttft[idx] = tpot, ttft
        default_tpot[idx], default_ttft[idx] = d_tpot, d_ttft
        lines.append(line(fam, idx, f"{seconds:.0f}"))
        done.extend(idx.tolist())
    pooled = np.array(sorted(done), dtype=int)
    lines.append(line("**pooled (every row out of fold)**", pooled, "-"))
    lines += ["", f"Out of fold by engine ({', '.join(families)} left out in turn; P90: nine rows in ten miss by "
                  "less):", "", "| engine | n | TPOT MAPE % | TPOT P90 % | TTFT MAPE % | TTFT P90 % | profile lines |",
              "|---|---:|---:|---:|---:|---:|---|"]

    def engine_line(label, t, f):
        toml = (f"out_of_family_tpot_mape_pct = {t.mape:.1f}, out_of_family_tpot_p90_pct = {t.p90:.0f}, "
                f"out_of_family_ttft_mape_pct = {f.mape:.1f}, out_of_family_ttft_p90_pct = {f.p90:.0f}")
        return (f"| {label} | {t.n} | {_fmt(t.mape)} | {_fmt(t.p90, 0)} | {_fmt(f.mape)} | {_fmt(f.p90, 0)} | "
                f"`{toml}` |")

    for e in ENGINES:
        idx = np.array([i for i in pooled if scored[i].engine == e], dtype=int)
        if idx.size:
            lines.append(engine_line(e, *errors(idx)))
    lines.append(engine_line("default (every row, as if its engine were unknown)",
                             cal.Errors.of(default_tpot[pooled], meas.tpot_s[pooled]),
                             cal.Errors.of(default_ttft[pooled], meas.ttft_s[pooled])))
    t, f = errors(pooled)
    lines.append(f"| **every engine, its own profile** | {t.n} | {_fmt(t.mape)} | {_fmt(t.p90, 0)} | {_fmt(f.mape)} | "
                 f"{_fmt(f.p90, 0)} | |")
    return "\n".join(lines), t, f


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit the defaults (minutes) and print them")
    parser.add_argument("--lofo", action="store_true",
                        help="leave-one-model-family-out cross-validation (one fit per family, minutes each)")
    parser.add_argument("--start", choices=("neutral", "shipped"),
                        help="where --fit and each --lofo fold start: sourced values no calibration row "
                             "informed (planner.calibration.joint.neutral; --lofo's default) or the shipped "
                             "profiles (--fit's default)")
    parser.add_argument("--no-measured-screen", action="store_true",
                        help="score the rows the screens on the kernel tables count out "
                             "(screen.below_measured_ceiling, screen.below_kernel_chain)")
    parser.add_argument("--decompose", action="store_true",
                        help="print only TPOT split into the decode step and the cost of a prompt token")
    parser.add_argument("--ttft-by-rate", action="store_true",
                        help="print only measured over predicted TTFT by collection, engine and the instance's "
                             "streamed output tokens/s")
    parser.add_argument("--arrivals", action="store_true",
                        help="print only each group's TPOT and TTFT errors predicted as a closed loop and as one "
                             "burst (Workload.arrivals; docs/accuracy.md, 'One burst, not a closed loop')")
    parser.add_argument("--screens", action="store_true",
                        help="print only each group's rows against the measured-kernel floor "
                             "(screen.below_kernel_chain)")
    parser.add_argument("--sent-lengths", action="store_true",
                        help="score (and --fit, --lofo) the aggregated InferenceX runs at the mean lengths their "
                             "benchmark sent, 922 of a stated 1,024 (measurements.sent_length; docs/accuracy.md, "
                             "'What the InferenceX recipes ran': measured, not the default)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="--lofo folds fitted at once, each in its own process (default 1)")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help=f"families --lofo leaves out in turn (comma-separated; default {','.join(FAMILIES)})")
    args = parser.parse_args(argv)
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        parser.error(f"--families: unknown family {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    cat = Catalogue()
    if args.screens:
        print("## Measured-kernel floor: each group's measured TPOT over its own kernels' time\n")
        print(screens_table(cat))
        print("\n## Campaigns with a run below a physical floor (screen.discredited_campaigns)\n")
        print(campaigns_table(cat))
        return 0
    rows, hardware, skipped = silicon(cat, measured_ceiling=not args.no_measured_screen,
                                      sent_lengths=args.sent_lengths)
    table = {name: engine(name) for name in ("default", *ENGINES)}
    t0 = time.perf_counter()
    pred = cal.predict(rows, hardware, profiles_for(rows, table))
    if args.decompose:
        print("## TPOT split: the decode step and the cost of a prompt token (shipped defaults)\n")
        print(decomposition_table(rows, pred))
        return 0
    if args.arrivals:
        print("## Closed loop or one burst: each group's runs predicted both ways (shipped defaults)\n")
        print(arrivals_table(rows, hardware, table))
        return 0
    if args.ttft_by_rate:
        print("## Measured / predicted TTFT by collection, engine and streamed output tokens/s (median, runs)\n")
        print(ttft_rate_table(rows, pred))
        return 0
    print(f"# rackplan accuracy ({len(rows)} silicon rows scored in {time.perf_counter() - t0:.1f} s)\n")
    print("## silicon_calibration.csv (aggregated serving)\n")
    print(silicon_table(rows, pred))
    print("\nRows not scored: " + "; ".join(f"{k}: {v}" for k, v in sorted(skipped.items())))
    pools, pools_skipped = decode_pool_table(cat, table)
    print("\n## silicon_calibration.csv (disaggregated runs: decode pools, TPOT, never fitted)\n")
    print(pools)
    print("\nPools not scored: " + "; ".join(f"{k}: {v}" for k, v in sorted(pools_skipped.items())))
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
        print(goal_line(label, value, goal))
    starts = {"neutral": joint.neutral, "shipped": engine}
    if args.fit:
        refit(rows, hardware, starts[args.start or "shipped"])
    if args.lofo:
        t0 = time.perf_counter()
        table_text, tpot, ttft = lofo(rows, hardware, families, starts[args.start or "neutral"], max(1, args.jobs))
        print(f"\n## Leave-one-family-out cross-validation, folds from the {args.start or 'neutral'} start "
              f"({time.perf_counter() - t0:.0f} s)\n")
        print(table_text + "\n")
        print(goal_line(f"pooled TPOT MAPE % ({', '.join(families)})", tpot.mape, GOALS["lofo_tpot_mape"]))
        print(goal_line(f"pooled TTFT MAPE % ({', '.join(families)})", ttft.mape, GOALS["lofo_ttft_mape"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
