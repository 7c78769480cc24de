"""Headroom under the latency limits for the cost model's error (``--latency-margin``).

A plan is held to ``limit / (1 + margin / 100)`` (``planner.serving.candidates.Limits.with_margin``), so that its
predictions, raised by the margin, still meet the limits asked. The margin is a percentage, or ``p90``: the engine
profile's own 90th-percentile error on model families its fit never saw (``EngineProfile.out_of_family_error``);
for disaggregated serving, whose TPOT is its decode pool's, TPOT's is the profile's 90th-percentile error on the
decode pools of measured disaggregated runs (``EngineProfile.disagg_decode_error``) where it records one.
Light on purpose: the command line checks ``--latency-margin`` against it before anything heavy loads.
"""

from __future__ import annotations

import math

from planner.engine.profile import MAX_ERROR_PCT
from planner.errors import InputError
from specbase.record import record

MARGIN_P90 = "p90"  # --latency-margin's word for the profile's own measured error
# Where a p90 margin's figures come from (each with the engine's name).
OUT_OF_FAMILY_BASIS = "the 90th percentile of {}'s error on model families its fit never saw"
DECODE_POOL_BASIS = "the 90th percentile of {}'s error on the decode pools of measured disaggregated runs"
MAX_MARGIN_PCT = MAX_ERROR_PCT  # the largest error a profile may record


@record
class Margin:
    """Headroom a plan keeps under each latency limit for the cost model's error, percent of the prediction;
    ``basis`` says where the figures come from."""

    tpot_pct: float
    ttft_pct: float
    basis: str

    @classmethod
    def of(cls, asked: float | str | None, profile, disagg: bool = False) -> Margin | None:
        """``--latency-margin``: a percentage for both limits, or ``"p90"``, the engine profile's 90th-percentile
        error on model families its fit never saw (TPOT's for TPOT, TTFT's for TTFT); None: no margin. ``disagg``:
        the plan serves disaggregated, so ``"p90"`` holds TPOT by the profile's decode-pool error where it records one
        (module docstring).

        Raises:
            InputError: ``"p90"`` where the profile records no such error, or a percentage outside [0, 1000].
        """
        if asked is None:
            return None
        if asked == MARGIN_P90:
            err = profile.out_of_family_error() or {}
            missing = [name.removesuffix("_p90").upper() for name in ("tpot_p90", "ttft_p90") if name not in err]
            if missing:
                raise InputError(f"--latency-margin p90: engine {profile.name} records no {' or '.join(missing)} "
                                 "error measured on model families its fit never saw; give a percentage instead "
                                 "(e.g. --latency-margin 25)")
            decode = (profile.disagg_decode_error() or {}).get("tpot_p90") if disagg else None
            if decode is not None:
                return cls(tpot_pct=decode, ttft_pct=err["ttft_p90"],
                           basis=f"{DECODE_POOL_BASIS.format(profile.name)} (TPOT) and on model families its fit "
                                 "never saw (TTFT)")
            return cls(tpot_pct=err["tpot_p90"], ttft_pct=err["ttft_p90"],
                       basis=OUT_OF_FAMILY_BASIS.format(profile.name))
        if not (isinstance(asked, (int, float)) and math.isfinite(asked) and 0 <= asked <= MAX_MARGIN_PCT):
            raise InputError(f"--latency-margin: {asked!r} is not a percentage from 0 to {MAX_MARGIN_PCT} or 'p90'")
        return cls(tpot_pct=float(asked), ttft_pct=float(asked), basis="asked")
