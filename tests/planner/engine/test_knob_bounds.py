"""No knob of a shipped engine profile or GPU is outside its physical bound.

Bounds (``planner.calibration.fit`` KNOBS, docs/accuracy.md "Physical bounds"):

* GEMMs: the GPU catalogue's efficiencies are the best measured (MAMF, H200 microbench), so an
  engine's ``gemm_efficiency_scale``, ``moe_efficiency_scale`` and ``weight_only_efficiency_scale``
  are at most 1 and every efficiency times its scale at most 1 of the dense peak.
* Attention runs at the BF16 peak times the GPU's decode or prefill efficiency times the engine's
  ``attention_efficiency_scale``: at most 1 of the peak on every catalogue GPU, per-GPU tables
  included.
* HBM: a GPU's ``hbm_efficiency_fraction`` is at most 0.92 (the 0.877 copy rate measured on H200
  plus a read-only margin: the bound the joint fit used while it fitted these fractions) and an
  engine's ``hbm_efficiency_scale`` at most 1, so no engine streams faster than the GPU's
  achievable fraction.

And ``planner.engine.rates`` clamps any profile (a user's, read from a file) to the same bounds.
"""

import dataclasses

import pytest

from hardware.catalogue import Catalogue
from planner.engine.profile import engine, engine_names
from planner.engine.rates import rates

CAT = Catalogue()
GPUS = CAT.gpu_names()
HBM_BOUND = 0.92  # h200_microbench.json copy rate 0.877 plus a read-only margin


def _views():
    """Every (engine, GPU, profile as it applies on that GPU)."""
    for name in engine_names():
        for gpu in GPUS:
            yield name, gpu, engine(name).on_gpu(gpu)


def test_every_engine_and_gpu_is_named():
    assert {"default", "trtllm", "vllm", "sglang"} <= set(engine_names())
    assert len(GPUS) >= 9  # H100, H200, B200, B300, GB200, GB300, MI300X, MI325X, MI355X


@pytest.mark.parametrize("name,gpu,prof", list(_views()), ids=lambda v: v if isinstance(v, str) else "")
def test_shipped_knobs_within_physical_bounds(name, gpu, prof):
    spec = CAT.gpu(gpu)
    for knob in ("gemm_efficiency_scale", "moe_efficiency_scale", "weight_only_efficiency_scale",
                 "hbm_efficiency_scale"):
        assert getattr(prof, knob) <= 1.0, f"{name} on {gpu}: {knob} {getattr(prof, knob)} > 1"
    for fraction in (spec.decode_compute_efficiency_fraction, spec.prefill_compute_efficiency_fraction):
        assert fraction * prof.gemm_efficiency_scale <= 1.0
        assert fraction * prof.attention_efficiency_scale <= 1.0, (
            f"{name} on {gpu}: attention at {fraction * prof.attention_efficiency_scale:.2f} of the dense peak")
    assert spec.hbm_efficiency_fraction <= HBM_BOUND
    assert 0.0 <= prof.overlap_fraction <= 1.0
    assert 0.0 <= prof.prompt_queue_scale <= 4.0  # prompts queued per root of the others in flight (fit.KNOBS bounds)
    assert 0.0 <= prof.prefill_wait_fraction <= 0.5  # the first wave's share: at most one synchronised wave
    assert 0.0 <= prof.prompts_ahead <= 2.0  # prompts queued ahead of a spread-out arrival (fit.KNOBS bounds)


def test_rates_clamp_any_profile_to_the_bounds():
    hw = CAT.hardware("hgx-h200")
    wild = dataclasses.replace(engine("default"), gemm_efficiency_scale=2.0, attention_efficiency_scale=2.0,
                               hbm_efficiency_scale=1.2)
    r = rates(hw, wild)
    bf16 = hw.gpu.peak_flop_per_s["bf16"]
    # 0.76 (H200 prefill) x 2 = 1.52 and 0.63 (decode) x 2 = 1.26: both clamped to the 989 TFLOP/s peak
    assert r.prefill_attention_flop_per_s == pytest.approx(bf16) and r.attention_flop_per_s == pytest.approx(bf16)
    assert r.prefill_flop_per_s[0] == pytest.approx(bf16) and r.decode_flop_per_s[0] == pytest.approx(bf16)
    # HBM at the measured 0.877 of 4.8 TB/s = 4.21 TB/s, not 1.2 x that
    assert r.hbm_bytes_per_s == pytest.approx(4.8e12 * 0.877)
