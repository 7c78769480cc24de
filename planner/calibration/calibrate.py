"""``rackplan calibrate``: read a measurements file, screen it, fit a profile, report the errors.

The steps are `planner.calibration.measurements` (read), `planner.calibration.screen` (keep
the rows the catalogue and physics accept), `planner.calibration.fit` (score and fit) and
`planner.calibration.profile_file` (write the profile, done by the caller).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from hardware.catalogue import Catalogue
from hardware.specs import Hardware
from planner.calibration import decompose, measurements, screen
from planner.calibration.fit import Report, fit_knobs, flattened, informed_knobs, measured, predict, report
from planner.calibration.identify import Identifiability, identifiability
from planner.calibration.measurements import MeasurementSet
from planner.engine.profile import DISAGG_DECODE, OUT_OF_FAMILY, EngineProfile, engine, engine_names, file_key
from planner.errors import InputError
from planner.serving.coverage import tokens_per_step
from planner.serving.workload import Workload


@dataclass(frozen=True)
class Calibration:
    """What ``rackplan calibrate`` produced."""

    base: EngineProfile
    profile: EngineProfile
    before: Report
    after: Report
    rows_used: int
    skipped: dict[str, int]
    systems: tuple[str, ...]
    engines: tuple[str, ...]
    knobs: tuple[str, ...]
    identifiability: tuple[Identifiability, ...] = ()
    tpot_split: tuple[decompose.GroupSplit, ...] = ()  # the fitted profile's decode step and prompt token, per group
    cold_ttfts: int = 0  # rows whose TTFT includes their server's cold start: neither fitted nor scored


def calibrate(mset: MeasurementSet, hardware: dict[str, Hardware], base: EngineProfile, name: str,
              source: str, progress=None) -> Calibration:
    """Fit ``base`` to the resolved rows of ``mset``; the fitted profile is named ``name``.
    ``progress(iteration, iterations, cost)`` is called after each fit iteration (None: silent).

    Raises:
        InputError: no usable row.
    """
    rows = list(mset.rows)
    if not rows:
        reasons = "; ".join(f"{k}: {v}" for k, v in sorted(mset.skipped.items())) or "none read"
        raise InputError(f"{mset.path}: no usable measurement rows ({reasons})")
    meas = measured(rows)
    before = report(predict(rows, hardware, [base] * len(rows)), meas)
    knobs = informed_knobs(rows, hardware)
    result = fit_knobs(rows, hardware, flattened(base, {hardware[m.system].gpu.name for m in rows}), knobs,
                       progress=progress)
    fitted = result.profile
    predicted = predict(rows, hardware, [fitted] * len(rows))
    after = report(predicted, meas)
    systems = tuple(sorted({m.system for m in rows}))
    engines = tuple(sorted({m.engine or "unnamed" for m in rows}))
    note = (f"fitted by rackplan calibrate on {source} ({len(rows)} rows; systems {', '.join(systems)}; "
            f"engines {', '.join(engines)}), starting from '{base.name}'")
    sources = dict(base.sources)
    for k in knobs:
        sources[file_key(k.name)] = note
    ranges = measured_ranges(rows, {m.system: hardware[m.system].gpu.name for m in rows})
    for field in ranges:
        what = "GPUs of" if field == "measured_gpus" else "smallest and largest among"
        sources[field] = f"the {what} the rows {note}"
    # the base's out-of-family and decode-pool errors scored the base's fit, not this one: not carried over
    unmeasured = {f"out_of_family_{figure}_pct": None for figure in OUT_OF_FAMILY} \
        | {f"disagg_decode_{figure}_pct": None for figure in DISAGG_DECODE}
    for field in unmeasured:
        sources.pop(file_key(field), None)
    profile = dataclasses.replace(
        fitted, name=name, source=note, sources=sources,
        description=f"Calibrated from '{base.name}' on {len(rows)} measured runs.", **ranges, **unmeasured,
    )
    return Calibration(base=base, profile=profile, before=before, after=after, rows_used=len(rows),
                       skipped=dict(mset.skipped), systems=systems, engines=engines,
                       knobs=tuple(k.name for k in knobs), identifiability=identifiability(result),
                       tpot_split=tuple(decompose.by_group(decompose.configurations(rows, predicted.tpot_s,
                                                                                    predicted.ttft_s))),
                       cold_ttfts=sum(1 for m in rows if m.cold_ttft and m.ttft_s is not None))


def measured_ranges(rows, gpu_of: dict[str, str]) -> dict[str, tuple | None]:
    """The measured range of a profile fitted on ``rows`` (screened, unsaturated: ``planner.serving.coverage``):
    concurrency per instance and ``isl + osl`` over every row; tokens per step over the rows with TTFT and TPOT and
    streamed output tokens/s (concurrency / TPOT) over the rows with TPOT, floored and ceiled to whole tokens (None
    where no row has them); the GPUs the rows ran on (``gpu_of``: each row's system to its catalogue GPU). A profile
    keeps the range of the runs it was fitted on, not its base's."""
    tokens = [tokens_per_step(Workload(isl=m.isl, osl=m.osl), m.batch, m.ttft_s, m.tpot_s)
              for m in rows if m.ttft_s is not None and m.tpot_s is not None]
    streamed = [m.batch / m.tpot_s for m in rows if m.tpot_s is not None]

    def span(values):
        return (math.floor(min(values)), math.ceil(max(values))) if values else None
    return {"measured_batch": span([m.batch for m in rows]),
            "measured_context_tokens": span([m.isl + m.osl for m in rows]),
            "measured_tokens_per_step": span(tokens), "measured_streamed_tokens_per_s": span(streamed),
            "measured_gpus": tuple(sorted({gpu_of[m.system] for m in rows})) or None}


def calibrate_file(path: str, cat: Catalogue, *, system: str | None = None, gpu: str | None = None,
                   engine_name: str | None = None, name: str | None = None, progress=None) -> Calibration:
    """Read ``path``, keep the rows of one GPU/engine pair, and fit a profile to them (``progress`` as in
    `calibrate`).

    Rows of other engines (when ``engine_name`` is given and the rows name engines) or of
    other systems/GPUs (when ``system``/``gpu`` is given) are counted as skipped.

    Raises:
        InputError: a bad file, rows naming several engines without ``engine_name``, or no
            usable row.
    """
    mset = measurements.read(path)
    named = sorted({m.engine for m in mset.rows if m.engine})
    if engine_name is None and len(named) > 1:
        raise InputError(f"{path}: the rows name several engines ({', '.join(named)}); pick one with --engine")
    base_name = engine_name or (named[0] if named and named[0] in engine_names() else "default")
    base = engine(base_name)
    skipped: dict[str, int] = {}
    rows = list(mset.rows)
    if engine_name is not None:
        keep = [m for m in rows if m.engine in (None, base_name)]
        if len(keep) < len(rows):
            skipped[f"engine other than {base_name}"] = len(rows) - len(keep)
        rows = keep
    mset, hardware = screen.resolve(mset.with_rows(rows, skipped), cat)
    unsaturated = [m for m in mset.rows if not screen.saturated(m)]
    if len(unsaturated) < len(mset.rows):
        dropped = {"saturated run (queued longer than it decoded)": len(mset.rows) - len(unsaturated)}
        mset = mset.with_rows(unsaturated, dropped)
    if system or gpu:
        want_system = cat.hardware(system).system.name if system else None
        want_gpu = cat.gpu(gpu).name if gpu else None
        keep = [m for m in mset.rows if (want_system is None or m.system == want_system)
                and (want_gpu is None or hardware[m.system].gpu.name == want_gpu)]
        label = want_system or want_gpu
        mset = mset.with_rows(keep, {f"system or GPU other than {label}": len(mset.rows) - len(keep)}
                              if len(keep) < len(mset.rows) else None)
    return calibrate(mset, hardware, base, name or f"{base_name}-calibrated", source=str(path), progress=progress)


def calibration_document(c: Calibration) -> dict:
    """The calibration as a JSON-ready document (errors in %, overheads in seconds)."""
    def errors(rep: Report) -> dict:
        return {m: {"n": e.n, "mape_pct": e.mape, "median_pct": e.median, "within_20_pct": e.within_20}
                for m, e in (("tpot", rep.tpot), ("ttft", rep.ttft), ("tok_per_gpu", rep.tok_per_gpu))}
    return {
        "profile": c.profile.name, "base": c.base.name, "rows_used": c.rows_used, "skipped": c.skipped,
        "systems": list(c.systems), "engines": list(c.engines),
        "before": errors(c.before), "after": errors(c.after),
        "knobs": {k: {"before": getattr(c.base, k), "after": getattr(c.profile, k)} for k in c.knobs},
        "identifiability": {i.knob: {"verdict": i.verdict, "data_share": i.data_share, "std": i.std,
                                     "partner": i.partner, "correlation": i.correlation}
                            for i in c.identifiability},
        "tpot_split": [dataclasses.asdict(g) for g in c.tpot_split],
        "cold_ttfts": c.cold_ttfts,
    }

