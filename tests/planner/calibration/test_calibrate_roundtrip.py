"""``rackplan calibrate``: recover known factors from synthetic measurements; count unusable rows.

The synthetic runs are the evaluator's own predictions under a profile with known factors
(the default engine with 600 us per step, wait fraction 0.1 and 20 ms of TTFT overhead), so a fit
that works must find those factors again from the default engine's starting point. Only engine
behaviour is fitted (``planner.calibration.fit.KNOBS``): GEMMs, attention, MoE layers and
collectives run on kernel curves fitted to measured kernels, which no end-to-end row moves.
"""

import csv
import dataclasses
import itertools
import math
import tomllib

import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.calibration import measurements, screen
from planner.calibration.calibrate import calibrate_file
from planner.calibration.profile_file import profile_toml
from planner.cli.main import main
from planner.engine.profile import engine, load_profile
from planner.serving.evaluate import evaluate_plan
from planner.serving.plan import Plan
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

CAT = Catalogue()
TRUTH = dataclasses.replace(engine("default"), step_overhead_s=600e-6, prompt_queue_scale=0.5,
                            prefill_wait_fraction=0.05, ttft_overhead_s=0.020)
SIMPLE_HEADER = ["model", "system", "tp", "batch", "quant", "kv_quant", "isl", "osl", "tpot_ms", "ttft_ms"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """32 runs: Llama-3.1-8B and Qwen3-32B on one HGX H200, tp 1-2, batch 1-64, two isl/osl."""
    path = tmp_path_factory.mktemp("cal") / "synthetic.csv"
    hw = CAT.hardware("hgx-h200")
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(SIMPLE_HEADER)
        for name, tp, batch, (isl, osl) in itertools.product(
                ("llama-3.1-8b", "qwen3-32b"), (1, 2), (1, 8, 32, 64), ((1024, 256), (4096, 128))):
            s = evaluate_plan(Scenario(hw, model(name), Workload(isl=isl, osl=osl), TRUTH),
                              Plan(tp=tp, batch=batch, quant="fp8", kv_quant="bf16"))
            out.writerow([name, "hgx-h200", tp, batch, "fp8", "bf16", isl, osl,
                          f"{s.step_time_s[0] * 1e3:.9f}", f"{s.ttft_s[0] * 1e3:.9f}"])
    return path


def test_fit_recovers_known_factors(synthetic):
    cal = calibrate_file(str(synthetic), CAT)
    assert cal.rows_used == 32 and cal.skipped == {}
    # The default engine (no step overhead; its pooled TTFT queue 0.78 per root, no first wave, and 23 ms) is off by
    # 4.5 % (TPOT) and 7.6 % (TTFT) MAPE; the fit lands within 1 % (0.28 and 0.30 %).
    assert cal.before.tpot.mape > 4 and cal.before.ttft.mape > 5
    assert cal.after.tpot.mape < 1.0 and cal.after.ttft.mape < 1.0
    p = cal.profile
    assert p.step_overhead_s == pytest.approx(600e-6, rel=0.05)
    assert p.prompt_queue_scale == pytest.approx(0.5, rel=0.05)
    assert p.prefill_wait_fraction == pytest.approx(0.05, rel=0.05)
    assert p.ttft_overhead_s == pytest.approx(0.020, rel=0.05)
    # Efficiencies are the kernel curves', never the end-to-end fit's.
    assert not {"gemm_efficiency_scale", "hbm_efficiency_scale", "moe_efficiency_scale",
                "attention_efficiency_scale", "comm_latency_scale"} & set(cal.knobs)


def test_written_profile_round_trips(synthetic, tmp_path):
    cal = calibrate_file(str(synthetic), CAT, name="h200-fitted")
    out = tmp_path / "h200-fitted.toml"
    out.write_text(profile_toml(cal.profile))
    raw = tomllib.loads(out.read_text())
    assert raw["step_overhead_us"] == pytest.approx(cal.profile.step_overhead_s * 1e6, rel=1e-5)
    assert "fitted by rackplan calibrate" in raw["sources"]["step_overhead_us"]
    loaded = load_profile(out)
    for knob in cal.knobs:
        assert getattr(loaded, knob) == pytest.approx(getattr(cal.profile, knob), rel=1e-5)


def test_cli_writes_a_profile_every_command_accepts(synthetic, tmp_path, capsys):
    out = tmp_path / "mine.toml"
    with pytest.raises(SystemExit) as done:
        main(["calibrate", str(synthetic), "--output", str(out), "--format", "json"])
    assert done.value.code == 0
    assert '"rows_used": 32' in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--isl", "1024", "--osl", "256",
              "--batch", "8", "--quant", "fp8", "--profile", str(out), "--format", "json"])
    assert done.value.code == 0


def test_unusable_rows_are_counted(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join([
        ",".join(SIMPLE_HEADER),
        "llama-3.1-8b,hgx-h200,1,8,fp8,,1024,256,9.5,120",     # usable
        "no-such-model,hgx-h200,1,8,fp8,,1024,256,9.5,120",    # unknown model
        "llama-3.1-8b,hgx-h200,3,8,fp8,,1024,256,9.5,120",     # tp 3 does not divide 32 heads
        "llama-3.1-8b,hgx-h200,16,8,fp8,,1024,256,9.5,120",    # 16 GPUs on an 8-GPU server
        "llama-3.1-8b,hgx-h200,1,8,fp8,,1024,256,,",           # nothing measured
        "llama-3.1-8b,hgx-h200,one,8,fp8,,1024,256,9.5,120",   # not a number
        "llama-3.1-8b,hgx-h200,1,8,fp8,,1024,256,9.5,90000",   # saturated: 90 s queued > 255 x 9.5 ms
    ]) + "\n")
    mset = measurements.read(path)
    assert len(mset.rows) == 5
    assert mset.skipped == {"no measurement": 1, "unparsable value": 1}
    resolved, _ = screen.resolve(mset, CAT)
    assert len(resolved.rows) == 2
    assert resolved.skipped["model 'no-such-model' not in the catalogue"] == 1
    assert resolved.skipped["layout wider than the scale-up domain"] == 1
    assert sum(v for k, v in resolved.skipped.items() if k.startswith("invalid layout: tp 3")) == 1
    cal = calibrate_file(str(path), CAT)
    assert cal.rows_used == 1 and sum(cal.skipped.values()) == 6
    assert cal.skipped["saturated run (queued longer than it decoded)"] == 1


SILICON_HEAD = ("id,backend,model_path,system,mode,isl,osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,"
                "pp_size,attention_dp_size,moe_tp_size,moe_ep_size,silicon_ttft_ms,silicon_tpot_ms")


def _read_silicon(tmp_path, lines, provenance=False):
    """``lines`` under the silicon_sample.csv header (with a silicon_data_source column when asked)."""
    head = SILICON_HEAD.replace("id,", "id,silicon_data_source,", 1) if provenance else SILICON_HEAD
    path = tmp_path / "silicon.csv"
    path.write_text("\n".join([head, *lines]) + "\n")
    return measurements.read(path)


def test_silicon_format_is_read(tmp_path):
    # Two rows in the silicon_sample.csv layout: one aggregated, one disaggregated (counted).
    mset = _read_silicon(tmp_path, ["a,vllm,openai/gpt-oss-120b,h200_sxm,agg,1024,1024,nvfp4,nvfp4,16,1,1,4,2,2,90,8",
                                    "b,trtllm,deepseek-ai/DeepSeek-V3,gb200,disagg,1024,1024,fp8,fp8,,,,,,,600,20"])
    assert mset.kind == "silicon" and len(mset.rows) == 1
    assert mset.skipped == {"disaggregated run (prefill and decode pools measured together)": 1}
    row = mset.rows[0]
    # tp 1 x attention_dp 4 = moe_tp 2 x moe_ep 2: our tp 1, dp 4, ep 2; nvfp4 is our fp4.
    assert (row.tp, row.dp, row.ep, row.moe_tp, row.quant, row.engine) == (1, 4, 2, 2, "fp4", "vllm")
    assert (row.tpot_s, row.ttft_s, row.system) == (0.008, 0.090, "hgx-h200")
    # batch_size is per attention-DP rank: 16 x 4 ranks = 64 requests in flight on the instance.
    assert row.batch == 64


def test_silicon_concurrency_must_match_the_row(tmp_path):
    # The provenance's silicon_concurrency is the instance's requests in flight: 16 per rank x 4
    # attention-DP ranks = 64 agrees (kept, batch 64); a row recording 96 for batch_size 48 on
    # tp 2 without attention DP is ambiguous (counted out); a row without provenance is kept.
    mset = _read_silicon(tmp_path, [
        "a,run; silicon_concurrency=64,trtllm,openai/gpt-oss-120b,b200_sxm,agg,1024,1024,nvfp4,nvfp4,"
        "16,1,1,4,1,4,120,6",
        "b,run; silicon_concurrency=96,trtllm,Qwen/Qwen3-32B,gb200,agg,2000,500,,,48,2,1,,,,700,40",
        "c,,trtllm,Qwen/Qwen3-32B,gb200,agg,2000,500,,,48,2,1,,,,700,40"], provenance=True)
    assert [(m.label, m.batch) for m in mset.rows] == [("a", 64), ("c", 48)]
    assert mset.skipped == {measurements.AMBIGUOUS_CONCURRENCY: 1}


def test_contradicting_repeat_runs_are_counted_not_kept(tmp_path):
    # The same configuration three times: TPOT 8.0, 8.5 and 17.0 ms (17.0 / 8.0 = 2.125 > 2):
    # all three go; a second configuration run twice, 8.0 and 15.9 ms (1.99x), stays.
    path = tmp_path / "repeats.csv"
    path.write_text("\n".join([
        ",".join(SIMPLE_HEADER),
        "llama-3.1-8b,hgx-h200,1,8,fp8,,1024,256,8.0,120",
        "llama-3.1-8b,hgx-h200,1,8,fp8,,1024,256,8.5,120",
        "llama-3.1-8b,hgx-h200,1,8,fp8,,1024,256,17.0,120",
        "llama-3.1-8b,hgx-h200,1,16,fp8,,1024,256,8.0,120",
        "llama-3.1-8b,hgx-h200,1,16,fp8,,1024,256,15.9,120",
    ]) + "\n")
    mset = measurements.read(path)
    assert [(m.batch, m.tpot_s) for m in mset.rows] == [(16, 0.008), (16, 0.0159)]
    assert mset.skipped == {measurements.IRREPRODUCIBLE: 3}


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("model,system,tp,batch,isl,osl,tpot_ms\n", "no measurement rows"),
    ("a,b\n1,2\n", "not a measurements CSV"),
    ("model,tpot_ms\nllama-3.1-8b,5\n", "lacks column(s): tp, batch, isl, osl, system or gpu"),
])
def test_bad_csv_is_one_line_and_exit_1(tmp_path, capsys, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(SystemExit) as done:
        main(["calibrate", str(path), "--output", str(tmp_path / "x.toml")])
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x.toml").exists()


def test_calibrating_one_gpu_starts_from_that_gpus_values():
    from planner.calibration.fit import flattened

    # A base with an H200 table: the fit on H200 rows starts from (and writes at the top
    # level) the values H200 runs with; other GPUs' tables are kept as they were.
    base = dataclasses.replace(engine("default"), gpus={"h200-sxm": {"step_overhead_s": 250e-6},
                                                        "b200": {"step_overhead_s": 50e-6}})
    flat = flattened(base, {"h200-sxm"})
    assert flat.step_overhead_s == 250e-6 and flat.gpus == {"b200": {"step_overhead_s": 50e-6}}
    both = flattened(base, {"h200-sxm", "b200"})
    assert both.step_overhead_s == base.step_overhead_s and both.gpus == {}


def test_per_gpu_tables_round_trip(tmp_path):
    prof = engine("trtllm")
    assert prof.gpus  # the shipped TensorRT-LLM profile has fitted per-GPU tables
    out = tmp_path / "t.toml"
    out.write_text(profile_toml(prof))
    loaded = load_profile(out)
    for gpu, values in prof.gpus.items():
        for knob, value in values.items():
            assert getattr(loaded.on_gpu(gpu), knob) == pytest.approx(value, rel=1e-5)


def test_identifiability_names_what_the_rows_fix(synthetic):
    cal = calibrate_file(str(synthetic), CAT)
    verdict = {i.knob: i.verdict for i in cal.identifiability}
    assert set(verdict) == set(cal.knobs)
    # The three factors the synthetic rows were made with are pinned by them (>= 90 % of their
    # information from the rows, within +-25 %): the fit above recovers each within 5 %.
    for knob in ("step_overhead_s", "prompt_queue_scale", "ttft_overhead_s"):
        assert verdict[knob] == "identified", knob
    # What the rows barely inform: 32 rows of two dense models at batch 1-64 tell a microsecond per
    # sequence from none only weakly (about half its information from the rows), and the blend of
    # compute and communication barely exists at tp 1-2; the per-kernel cost sits at its 0.1 us
    # floor (the truth is zero), which the verdict says.
    for knob in ("sequence_overhead_s", "overlap_fraction"):
        assert verdict[knob] in ("weak", "held by prior"), knob
    assert verdict["per_kernel_overhead_s"] == "at bound"


def test_the_tpot_split_of_runs_the_fitted_profile_reproduces_is_one(tmp_path, capsys):
    # Llama-3.1-8B on one H200 at 32 and 64 requests of 2,048 in, 128 / 256 / 512 out: runs the evaluator itself
    # timed under TRUTH. The fit recovers TRUTH, so the fitted line through each configuration is the runs' own:
    # decode step and prompt token at 1.00 of the measured, both configurations split (P spans 1024 / 248 = 4x).
    path = tmp_path / "lengths.csv"
    hw = CAT.hardware("hgx-h200")
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(SIMPLE_HEADER)
        for batch, osl in itertools.product((32, 64), (128, 256, 512)):
            s = evaluate_plan(Scenario(hw, model("llama-3.1-8b"), Workload(isl=2048, osl=osl), TRUTH),
                              Plan(tp=1, batch=batch, quant="fp8", kv_quant="bf16"))
            out.writerow(["llama-3.1-8b", "hgx-h200", 1, batch, "fp8", "bf16", 2048, osl,
                          f"{s.step_time_s[0] * 1e3:.9f}", f"{s.ttft_s[0] * 1e3:.9f}"])
    cal = calibrate_file(str(path), CAT)
    (group,) = cal.tpot_split
    assert group.label == "llama-3.1-8b / hgx-h200 / unnamed" and group.configurations == 2
    assert group.decode_ratio == pytest.approx(1.0, abs=0.02) and group.prompt_ratio == pytest.approx(1.0, abs=0.02)
    with pytest.raises(SystemExit) as done:
        main(["calibrate", str(path), "--output", str(tmp_path / "lengths.toml")])
    assert done.value.code == 0
    assert "TPOT split: group" in capsys.readouterr().out


def test_calibrated_profile_records_the_range_of_its_own_rows(synthetic, tmp_path):
    # The 32 synthetic runs: batch 1-64, isl + osl 1,024 + 256 = 1,280 and 4,096 + 128 = 4,224; each run's
    # tokens per step batch + batch x isl / (osl - 1 + TTFT / TPOT) (Little's law) and streamed output tokens/s
    # batch / TPOT, recomputed here from the file: the fitted profile carries those, not the base profile's.
    with synthetic.open() as fh:
        runs = list(csv.DictReader(fh))
    tokens, streamed = [], []
    for r in runs:
        batch, isl, osl = int(r["batch"]), int(r["isl"]), int(r["osl"])
        tpot, ttft = float(r["tpot_ms"]), float(r["ttft_ms"])
        tokens.append(batch + batch * isl / (osl - 1 + ttft / tpot))
        streamed.append(batch / (tpot / 1e3))
    cal = calibrate_file(str(synthetic), CAT, name="h200-fitted")
    p = cal.profile
    assert p.measured_batch == (1, 64) and p.measured_context_tokens == (1280, 4224)
    assert p.measured_tokens_per_step == (math.floor(min(tokens)), math.ceil(max(tokens)))
    assert p.measured_streamed_tokens_per_s == (math.floor(min(streamed)), math.ceil(max(streamed)))
    assert engine("default").measured_batch is None  # the base it started from records none
    out = tmp_path / "h200-fitted.toml"
    out.write_text(profile_toml(p))
    loaded = load_profile(out)
    assert (loaded.measured_batch, loaded.measured_streamed_tokens_per_s) == (p.measured_batch,
                                                                               p.measured_streamed_tokens_per_s)
    assert "rackplan calibrate" in tomllib.loads(out.read_text())["sources"]["measured_batch"]
    # Every synthetic run is on hgx-h200: the profile records that GPU, and the file keeps it.
    assert p.measured_gpus == loaded.measured_gpus == ("h200-sxm",)
    assert tomllib.loads(out.read_text())["sources"]["measured_gpus"].startswith("the GPUs of the rows fitted by")
    # default.toml records how far its own fit missed on unseen model families; this profile is another fit,
    # so it carries none of those figures, nor their sources, and a plan on it says it records none.
    # The same for its decode-pool errors on disaggregated runs.
    assert engine("default").out_of_family_error() is not None and engine("default").disagg_decode_error() is not None
    assert p.out_of_family_error() is None and loaded.out_of_family_error() is None
    assert p.disagg_decode_error() is None and loaded.disagg_decode_error() is None
    assert not [k for k in tomllib.loads(out.read_text())["sources"] if k.startswith(("out_of_family", "disagg_"))]
