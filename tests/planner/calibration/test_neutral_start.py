"""The joint fit's leak-free start (``planner.calibration.joint.neutral``) and its ``start_from`` argument."""

import dataclasses

import pytest

from hardware.catalogue import Catalogue
from planner.calibration import joint
from planner.calibration.measurements import Measurement
from planner.engine.profile import engine


@pytest.mark.parametrize("name", joint.ENGINES)
def test_neutral_start_holds_no_fitted_value(name):
    start = joint.neutral(name)
    # planner/engine/data/default.toml: overlap_fraction 0.5, step_overhead_us 1000 (sourced, not fitted)
    assert start.overlap_fraction == 0.5 and start.step_overhead_s == pytest.approx(1e-3)
    # each untimed kernel at aiconfigurator's 3 us constant latency (joint.NEUTRAL_KERNEL_S); the default profile
    # has no per-sequence or eager cost: the KNOBS starts, 1 and 0.2 us
    assert (start.per_kernel_overhead_s, start.sequence_overhead_s, start.eager_kernel_overhead_s) == \
        pytest.approx((3e-6, 1e-6, 2e-7))
    # arrivals wait out the scheduler's depth: every engine's default scheduler overlaps (scheduler_overlap), 2
    assert start.arrival_wait_steps == 2.0
    # the other TTFT knobs at their KNOBS starts (0.3 prompts per root of the others in flight, a first wave of 0.05
    # of them, 1 ms, 0.05 prompts), not the default profile's pooled fit (planner/engine/data/default.toml:
    # prompt_queue_scale 0.745, ttft_overhead_us 23,810)
    assert (start.prompt_queue_scale, start.prefill_wait_fraction, start.ttft_overhead_s, start.prompts_ahead) == \
        pytest.approx((0.3, 0.05, 1e-3, 0.05))
    assert (engine("default").prompt_queue_scale, engine("default").ttft_overhead_s) == pytest.approx((0.745, 0.02381))
    assert start.gpus == {}  # no per-GPU table: every one is fitted
    shipped = engine(name)
    assert start.prefill_chunk_tokens == shipped.prefill_chunk_tokens  # sourced fields stay
    assert start.hbm_usable_fraction == shipped.hbm_usable_fraction


def _row(label: str, batch: int) -> Measurement:
    # Llama-3.1-8B on one H200 under vLLM, 1,024 in / 256 out: TPOT 8 ms, TTFT 60 ms (made-up figures: the fit
    # below takes no step, so they only need to be scoreable)
    return Measurement(line=2, label=label, model="llama-3.1-8b", system="hgx-h200", gpu=None, engine="vllm", tp=1,
                       pp=1, ep=1, dp=1, batch=batch, quant="bf16", kv_quant=None, isl=1024, osl=256,
                       tpot_s=8e-3, ttft_s=60e-3, tok_per_gpu=None, model_name="llama-3.1-8b")


@pytest.mark.parametrize("start_from, overlap", [(joint.neutral, 0.5), (engine, engine("vllm").overlap_fraction)])
def test_fit_starts_where_it_is_told(start_from, overlap):
    # No iteration: the fit returns its start, so the profile it hands back is start_from's (two rows: no
    # (engine, GPU) pair reaches MIN_PAIR_ROWS, 15, so no per-GPU table either)
    rows = [_row("a", 8), _row("b", 32)]
    fitted = joint.joint_fit(rows, {"hgx-h200": Catalogue().hardware("hgx-h200")}, log=lambda _line: None,
                             iterations=0, start_from=start_from)
    assert fitted.profile("vllm").overlap_fraction == pytest.approx(overlap, rel=1e-6)
    assert fitted.profile("vllm").gpus == {}


def test_the_steady_step_costs_are_pulled_ten_times_harder_than_the_other_knobs():
    # joint.STEADY_KNOBS take STEADY_PRIOR_WEIGHT 0.5 engine-wide and as a pair's offset; the eager (prompt-iteration)
    # kernel cost and the TTFT knobs keep PRIOR_WEIGHT 0.05 (docs/accuracy.md, 'A firmer pull on the step costs')
    knobs = {k.name: k for k in joint.cal.KNOBS}
    params = [("engine", "vllm", knobs["step_overhead_s"]),
              ("pair", ("trtllm", "h200-sxm"), knobs["per_kernel_overhead_s"]),
              ("engine", "sglang", knobs["overlap_fraction"]), ("engine", "sglang", knobs["sequence_overhead_s"]),
              ("engine", "vllm", knobs["eager_kernel_overhead_s"]),
              ("pair", ("sglang", "b200"), knobs["prompts_ahead"])]
    assert joint.prior_weights(params).tolist() == [0.5, 0.5, 0.5, 0.5, 0.05, 0.05]
    assert joint.STEADY_PRIOR_WEIGHT == 10 * joint.PRIOR_WEIGHT


def test_a_pair_gets_a_table_only_where_two_families_measured_it():
    # joint._parameters: an (engine, GPU) pair gets a [gpus.NAME] table (the 5 latency and 3 speed knobs as offsets)
    # only with MIN_PAIR_ROWS (15) rows and two families of MIN_FAMILY_ROWS (5) rows each: 15 Llama rows alone are
    # one campaign's and give none; 10 Llama and 5 Qwen3 rows give all eight
    hardware = {"hgx-h200": Catalogue().hardware("hgx-h200")}
    llama = [_row(f"l{i}", 8) for i in range(15)]
    qwen = [dataclasses.replace(_row(f"q{i}", 8), model="qwen3-32b", model_name="qwen3-32b") for i in range(5)]

    def table(rows):
        return [(owner, k.name) for kind, owner, k in joint._parameters(rows, hardware) if kind == "pair"]

    assert (joint.MIN_PAIR_ROWS, joint.MIN_FAMILY_ROWS) == (15, 5)
    assert table(llama) == []
    assert table(llama[:10] + qwen) == [(("vllm", "h200-sxm"), name)
                                        for name in joint.PAIR_LATENCY_KNOBS + joint.PAIR_SPEED_KNOBS]
    assert len(table(llama[:10] + qwen)) == 8
    assert table(llama[:11] + qwen[:4]) == []  # 4 Qwen3 rows: below MIN_FAMILY_ROWS, one family again
