"""Anchored: the shipped defaults' accuracy on calibration/ (bench/accuracy.py), as measured.

Measured with the shipped defaults (bench/accuracy.py, docs/accuracy.md) on the kernel-curve cost model
(GEMMs, attention, MoE layers and collectives timed by curves fitted to measured kernels; the end-to-end fit
keeps only engine behaviour: overlap, step/kernel/sequence overheads, eager prompt iterations, TTFT wait and
fixed cost), on the 1,132 rows the screens keep, every model family fitted: TPOT MAPE 9.1 % overall, TTFT MAPE
19.0 % (median 12.2 %; the 212 TTFTs that include their server's cold start scored apart,
measurements.INFERENCEX_WARMUP_FROM), published median 7.7 %. The issue's goals (TPOT <= 10 %, TTFT <= 20 %,
published <= 12 %) are met; these tests pin today's levels with a little headroom, so that a change that loses
accuracy fails. The data ship in the repository (calibration/, see its
README), so these tests run on a bare clone.
"""

import importlib.util
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "accuracy.py"


def _bench():
    spec = importlib.util.spec_from_file_location("rackplan_bench_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that --lofo's forked fold workers find its functions by name
    spec.loader.exec_module(module)
    return module


acc = _bench()


@pytest.fixture(scope="module")
def silicon():
    from hardware.catalogue import Catalogue
    from planner.calibration import fit as cal
    from planner.engine.profile import engine

    rows, hardware, skipped = acc.silicon(Catalogue())
    pred = cal.predict(rows, hardware, acc.profiles_for(rows, {n: engine(n) for n in ("default", *acc.ENGINES)}))
    return rows, pred, skipped, cal


def _errors(silicon, keep):
    rows, pred, _, cal = silicon
    idx = np.array([i for i, m in enumerate(rows) if keep(m)])
    meas = cal.measured(rows)
    return cal.Errors.of(pred.tpot_s[idx], meas.tpot_s[idx]), cal.Errors.of(pred.ttft_s[idx], meas.ttft_s[idx])


def test_rows_scored_and_skipped(silicon):
    rows, _, skipped, _ = silicon
    # 1,607 rows: 293 disaggregated, 132 wider than one server, 23 whose provenance records a
    # concurrency other than batch_size x attention_dp_size (13 Qwen3-32B / GB200, 5 gpt-oss-120b /
    # H100 / TensorRT-LLM, 3 Qwen3-32B NVFP4, 2 DeepSeek-V3.1 NVFP4; they include the two
    # Qwen3-32B / GB200 repeat pairs that also contradict each other, 8.1 vs 41.9 ms) and 1 faster
    # than physics allows (gpt-oss-120b, H100 x 4, vLLM, concurrency 512 at 8192/1024: TPOT
    # 5.46 ms, but reading its weight share and the KV cache of 512 sequences of 8,192 tokens takes
    # 6.22 ms at the 3.35 TB/s peak, planner.calibration.screen.physical_floor), 1 that needs more
    # FLOP/s than any GEMM measured on its GPU (Llama-3.1-8B FP8 / H200 / vLLM, 64 x 2,000/100 at TTFT
    # 121.73 ms, TPOT 9.74 ms: 17.65 TFLOP a step, 10.52 ms at the 1,677.6 TFLOP/s the kernel tables
    # measured, screen.below_measured_ceiling) and 15 whose TPOT is shorter than their own kernels took
    # (screen.below_kernel_chain: 11 more Llama-3.1-8B FP8 / H200 / vLLM runs, 2 Qwen3-32B FP8 / H100 / vLLM,
    # 2 Qwen3-32B FP8 / H100 / TensorRT-LLM; python bench/accuracy.py --screens) are counted out, and with them
    # the 10 other runs of the two campaigns most of whose runs these floors count out (screen.discredited_campaigns:
    # the Llama file's 9 others of 21, the Qwen3-32B / H100 / vLLM qwen3_32b.csv file's 1 other of 3); 1,132
    # scored, of which 17 saturated runs are reported apart.
    assert skipped == {"disaggregated run (prefill and decode pools measured together)": 293,
                       "layout wider than the scale-up domain": 132,
                       "recorded silicon_concurrency differs from batch_size x attention_dp_size": 23,
                       "TPOT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)": 1,
                       acc.screen.MEASURED_CEILING_REASON: 1, acc.screen.KERNEL_CHAIN_REASON: 15,
                       acc.screen.CAMPAIGN_REASON: 10}
    assert len(rows) == 1132 and sum(acc.saturated(m) for m in rows) == 17
    groups = {}
    for m in rows:
        groups[(m.model_name, m.system, m.engine)] = groups.get((m.model_name, m.system, m.engine), 0) + 1
    assert ("llama-3.1-8b", "hgx-h200", "vllm") not in groups  # all 21 measured: 12 below a floor, then their campaign


# n, TPOT MAPE and median, TTFT MAPE and median of each family's rows (bench/accuracy.py's "family" lines; every
# family is fitted, so these are in-sample: --lofo scores each family out of fold)
FAMILY_MEASURED = {"deepseek": (144, 13.9, 11.1, 29.8, 25.7), "gpt": (400, 8.4, 6.3, 10.1, 7.0),
                   "llama": (223, 7.3, 5.4, 33.4, 26.4), "qwen3": (348, 9.1, 7.3, 14.4, 10.9)}


@pytest.mark.parametrize("fam", sorted(FAMILY_MEASURED))
def test_each_family(silicon, fam):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m) and acc.family(m.model_name) == fam)
    n, tpot_mape, tpot_median, ttft_mape, ttft_median = FAMILY_MEASURED[fam]
    assert tpot.n == n
    assert tpot.mape <= tpot_mape + 1.0 and tpot.median <= tpot_median + 1.0  # a point of headroom
    assert ttft.mape <= ttft_mape + 2.0 and ttft.median <= ttft_median + 2.0  # two points of headroom


def test_overall(silicon):
    tpot, ttft = _errors(silicon, lambda m: not acc.saturated(m))
    assert tpot.mape <= 10.0  # measured 9.1: the goal
    assert ttft.median <= 13.0  # measured 12.2
    assert ttft.mape <= 20.0  # measured 19.0 over the 903 warm TTFTs: the goal
    assert ttft.n == 1115 - 212  # the cold-start TTFTs scored apart


def test_published_max_throughput_goal():
    from hardware.catalogue import Catalogue

    _, median, skipped = acc.published(Catalogue())
    assert median <= 12.0  # the goal; measured 7.7 over 22 comparable points
    assert len(skipped) == 13  # speculative decoding, disaggregation, variable-length datasets


def test_llama_8b_h200_vllm_runs_below_their_own_kernels_take_their_campaign(silicon):
    # The group the model missed most (+111 % TPOT when scored whole): e.g. Llama-3.1-8B FP8, tp 1, 112 sequences
    # of 1,000 + 100 tokens, measured TPOT 11.25 ms. By Little's law its steps carry 112 / (99 + 71.91 / 11.25)
    # = 1.063 prompts, 112 + 1,063 = 1,175 tokens; their GEMMs alone took 10.4 ms in the kernel tables, with
    # the KV read and the prompts' attention 12.1 ms (planner.calibration.kernel_chain): more than the step
    # measured, so the run did not do the work it describes and is counted out. The group's SGLang runs (the
    # same collection, model, GPU and lengths) all measure at least 1.49x their floor.
    # The floors alone keep 9 of the file's 21 runs: one GPU's 8,000 / 100 at 16 requests (1.40x its floor) and
    # the runs of 500-2,000 out but one. 12 below, 9 above: the campaign is counted out whole
    # (screen.discredited_campaigns), so none is scored.
    from hardware.catalogue import Catalogue
    from planner.calibration import measurements, screen

    file = measurements.read(Path(BENCH).parents[1] / "calibration" / "silicon_calibration.csv")
    runs = [m for m in file.rows if "Llama-3.1-8B" in m.model and m.system == "hgx-h200" and m.engine == "vllm"]
    assert len(runs) == 21 and len({m.campaign for m in runs}) == 1
    alone = screen.resolve(file.with_rows([replace(m, campaign=None) for m in runs]), Catalogue())[0].rows
    kept = {(m.tp, m.batch, m.isl, m.osl) for m in alone}
    assert (1, 112, 1000, 100) not in kept
    assert sorted(osl for *_, osl in kept) == [100, 500, 500, 500, 1000, 1000, 1000, 2000, 2000]
    assert (1, 16, 8000, 100) in kept and (4, 128, 8000, 500) not in kept
    whole = screen.resolve(file.with_rows(runs), Catalogue())[0]
    assert whole.rows == () and whole.skipped[screen.CAMPAIGN_REASON] == 9
    rows, _, _, _ = silicon
    assert not [m for m in rows if (m.model_name, m.system, m.engine) == ("llama-3.1-8b", "hgx-h200", "vllm")]


def test_ttft_by_rate_bins_every_scored_run(silicon):
    # Each unsaturated run with both measurements lands in one cell: the cells' counts add up to the 1,115 scored
    # runs (every silicon run measures both) less the 212 whose TTFT includes their server's cold start
    # (measurements.INFERENCEX_WARMUP_FROM), and the collection is read off the campaign's provenance.
    rows, pred, _, _ = silicon
    table = acc.ttft_rate_table(rows, pred)
    counts = [int(c) for c in re.findall(r"\((\d+)\)", table)]
    assert sum(counts) == 1115 - 212
    assert acc.collection("config_id=88, deepseek-ai/DeepSeek-V3, sglang, b200_sxm") == "database configurations"
    assert acc.collection("source_file=/d/h100_sxm/trtllm/1.0.0rc3/llama.csv, m, trtllm, h100_sxm") == \
        "per-file collection"
    assert acc.collection("source_file=2026-04-06.csv, openai/gpt-oss-120b, vllm, h200_sxm") == "dated CSVs"
    assert acc.collection(None) == "none recorded"


def test_lofo_scores_each_engine_out_of_fold_and_pools_the_folds(silicon, monkeypatch):
    # The cross-validation's plumbing, with each fold's joint fit (minutes) replaced by the shipped profiles:
    # the folds run in two forked workers, and the per-engine table must then score exactly the shipped
    # predictions of the left-out families' rows, engine by engine, with their 90th percentiles.
    from types import SimpleNamespace

    from hardware.catalogue import Catalogue
    from planner.engine.profile import engine

    rows, pred, _, cal = silicon

    def shipped(train, hardware, **_):
        return SimpleNamespace(kept=train[:4], hardware=hardware,
                               profile=lambda name: engine(name or "default"))

    monkeypatch.setattr(acc.joint, "joint_fit", shipped)
    text, tpot, _ = acc.lofo(rows, acc.silicon(Catalogue())[1], ("gpt", "qwen3"), jobs=2)
    meas = cal.measured(rows)
    left = [i for i, m in enumerate(rows) if not acc.saturated(m) and acc.family(m.model_name) in ("gpt", "qwen3")]
    assert (tpot.n, tpot.mape) == (len(left), pytest.approx(cal.Errors.of(pred.tpot_s[left], meas.tpot_s[left]).mape))
    for e in acc.ENGINES:
        idx = [i for i in left if rows[i].engine == e]
        t = cal.Errors.of(pred.tpot_s[idx], meas.tpot_s[idx])
        f = cal.Errors.of(pred.ttft_s[idx], meas.ttft_s[idx])
        assert (f"| {e} | {t.n} | {t.mape:.1f} | {t.p90:.0f} | {f.mape:.1f} | {f.p90:.0f} | "
                f"`out_of_family_tpot_mape_pct = {t.mape:.1f}") in text
    assert "| default (every row, as if its engine were unknown) | " + str(len(left)) + " | " in text
