"""Decode pools of measured disaggregated runs, scored by the evaluator's decode-only instance.

A disaggregated run's decode pool steps its running sequences with no prompt work interleaved: its TPOT
is the evaluator's steady decode step at the pool's layout (``planner.serving.disagg.decode_scores``, the
step the planner's ``--disagg`` decode pool is sized by), a check of the decode physics the aggregated
rows can only see mixed with prefill. No knob is fitted on these rows (``bench/accuracy.py`` scores
them apart).

The measured concurrency ``B`` of one decode worker (``Measurement.batch``, read by
``planner.calibration.measurements.read(..., decode_pools=True)``) is not all decoding: in a closed loop
each request spends its TTFT in the prefill pool (and its queue) and ``(osl - 1) x TPOT`` in the decode
pool, so by Little's law the worker runs ``B x (osl - 1) TPOT / (TTFT + (osl - 1) TPOT)`` sequences
(:func:`running`), from the run's own measured TTFT and TPOT.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from hardware.catalogue import Catalogue
from hardware.errors import CatalogueError
from hardware.specs import Hardware
from models.errors import ModelError
from planner.calibration import screen
from planner.calibration.fit import scenario_groups
from planner.calibration.measurements import Measurement, MeasurementSet
from planner.engine.profile import EngineProfile
from planner.serving.disagg import decode_scores


def running(m: Measurement) -> int:
    """Sequences one decode worker of run ``m`` steps at once (module docstring), at least 1; the whole
    concurrency where the run has no TTFT. E.g. 2,048 in flight, 8,192 in / 1,024 out, TTFT 13.23 s, TPOT
    25.31 ms: ``2048 x 25.89 / (13.23 + 25.89) = 1,355``."""
    if m.ttft_s is None or m.tpot_s is None:
        return m.batch
    decoding = (m.osl - 1) * m.tpot_s
    return max(1, round(m.batch * decoding / (m.ttft_s + decoding)))


def resolve(mset: MeasurementSet, cat: Catalogue) -> tuple[MeasurementSet, dict[str, Hardware]]:
    """Keep the decode pools with a TPOT whose model, system and layout the catalogue accepts
    (``planner.calibration.screen.check``, the aggregated rows' layout checks); count the others. Returns the
    kept rows (``model_name`` filled in, ``ep`` 1 on dense models) and the hardware of each system used."""
    hardware: dict[str, Hardware] = {}
    kept, skipped = [], Counter()
    for m in mset.rows:
        if m.tpot_s is None:
            skipped["no TPOT measured"] += 1
            continue
        try:
            spec = screen.model_spec(m.model)
        except ModelError:
            skipped[f"model '{m.model}' not in the catalogue"] += 1
            continue
        try:
            hardware.setdefault(m.system, cat.hardware(m.system))
        except CatalogueError:
            skipped[f"system '{m.system}' not in the catalogue"] += 1
            continue
        reason = screen.check(m, spec, hardware[m.system])
        if reason:
            skipped[reason] += 1
            continue
        kept.append(replace(m, model_name=spec.name, ep=m.ep if spec.moe is not None else 1))
    return mset.with_rows(kept, skipped), hardware


def predict_tpot(rows: list[Measurement], hardware: dict[str, Hardware],
                 profiles: list[EngineProfile]) -> np.ndarray:
    """Predicted TPOT (seconds) of each resolved decode pool at its :func:`running` sequences under its
    profile; one evaluator call per scenario (``planner.calibration.fit.scenario_groups``)."""
    out = np.full(len(rows), np.nan)
    for sc, idx, plans in scenario_groups(rows, hardware, profiles, running):
        out[idx] = decode_scores(sc, plans).step_time_s
    return out
