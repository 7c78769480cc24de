"""The serving fixed point iterates only the rows still moving: the figures are those of every row iterating."""

import numpy as np
import pytest

import planner.serving.aggregated as aggregated
import planner.serving.fixed_point as fixed_point
from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.serving.evaluate import evaluate, shape_of
from planner.serving.plan import PlanArrays, put_rows, take_rows
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def _rows(n, seed=0):
    rng = np.random.default_rng(seed)
    tp = rng.choice(np.array([1, 2, 4, 8]), n)
    dp = rng.choice(np.array([1, 2, 4]), n)
    return PlanArrays(tp=tp, pp=rng.choice(np.array([1, 2, 4]), n), ep=np.minimum(rng.choice(np.array([1, 2, 4, 8]), n),
                      tp * dp), dp=dp, batch=rng.integers(1, 1025, n), quant=rng.integers(0, 3, n),
                      kv_quant=rng.integers(0, 2, n), kv_offload_fraction=np.zeros(n), instances=np.ones(n, np.int64))


@pytest.mark.parametrize("workload", [Workload(isl=4096, osl=1024), Workload(isl=512, osl=64)])
def test_dropping_final_rows_changes_no_figure(workload, monkeypatch):
    sc = Scenario(hardware=Catalogue().hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"), workload=workload,
                  allow_span=True)
    plans = _rows(3000)
    monkeypatch.setattr(fixed_point, "COMPACT_ROWS", 1)  # drop final rows however few
    compacted = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(fixed_point, "COMPACT_FRACTION", 2.0)  # never drop a row: every row runs every round
    full = evaluate(sc, plans, shape_of(sc))
    for name in ("step_time_s", "ttft_s", "instance_tps", "fabric_bytes_per_s"):
        assert np.array_equal(getattr(compacted, name), getattr(full, name)), name


def test_put_rows_writes_back_what_take_rows_took():
    plans = _rows(10)
    target = take_rows(plans, np.arange(10))
    target.batch[:] = 0
    idx = np.array([1, 4, 7])
    put_rows(target, idx, take_rows(plans, idx))
    # rows 1, 4, 7 restored; the other seven stay 0
    assert np.array_equal(target.batch[idx], plans.batch[idx]) and np.count_nonzero(target.batch) == 3


def test_take_rows_by_position_by_mask_and_by_slice_agree_and_join_rows_rebuilds_the_whole():
    # take_rows gathers integer positions with np.take, a mask or a slice by indexing: the same rows, tier arrays
    # (shape (3, rows)) by column; join_rows writes consecutive parts back into one table of all the rows.
    from planner.serving.plan import join_rows

    sc = Scenario(hardware=Catalogue().hardware("hgx-h200"), model=model("llama-3.1-70b"),
                  workload=Workload(tokens_cached=8192))
    scores = evaluate(sc, _rows(12, seed=4), shape_of(sc))
    mask = np.zeros(12, dtype=bool)
    mask[[2, 3, 9]] = True
    by_position, by_mask = take_rows(scores, np.array([2, 3, 9])), take_rows(scores, mask)
    assert by_position.fabric_bytes_per_s.shape == (3, 3)
    assert np.array_equal(by_position.fabric_bytes_per_s, scores.fabric_bytes_per_s[:, [2, 3, 9]])
    for name in ("step_time_s", "fabric_bytes_per_s", "gpus_per_instance"):
        assert np.array_equal(getattr(by_position, name), getattr(by_mask, name)), name
    joined = join_rows((take_rows(scores, slice(a, b)) for a, b in ((0, 5), (5, 11), (11, 12))), 12)
    for name in ("step_time_s", "fabric_bytes_per_s", "layout_ok"):
        assert np.array_equal(getattr(joined, name), getattr(scores, name)), name
    assert np.array_equal(joined.memory.weights, scores.memory.weights) and joined.layout_ok.dtype == bool


@pytest.mark.parametrize("name,system,preset", [("qwen3-235b-a22b", "gb200-nvl72", None),
                                                ("llama-3.1-70b", "hgx-h200", None),
                                                ("qwen3-235b-a22b", "gb200-nvl72", "seed")])
def test_round_invariant_terms_computed_once_change_no_figure(name, system, preset, monkeypatch):
    # The fixed point computes the chunk's routed bytes, the launch overhead, the chunk-free GEMMs and the
    # collectives' tiers, curve parameters and latency (comm.CurveCollectives) once
    # (planner.serving.fixed_point.steady_terms); recomputing them in every round gives the same bits.
    hw = Catalogue().hardware(system, preset=preset)
    sc = Scenario(hardware=hw, model=model(name), workload=Workload(isl=4096, osl=1024), allow_span=True)
    plans = _rows(2000, seed=1)
    once = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(aggregated, "steady_terms", lambda shape, lay, r, profile, decode, chunk, *tiers: decode)
    every_round = evaluate(sc, plans, shape_of(sc))
    for field in ("step_time_s", "ttft_s", "instance_tps", "gemm_s", "moe_s", "hbm_s", "stage_time_s", "comm_s",
                  "fabric_bytes_per_s"):
        assert np.array_equal(getattr(once, field), getattr(every_round, field)), field
    # the test is not vacuous: on the kernel curves the hoisted GEMM term is most of the step, and the
    # collectives take time on most rows (tp > 1 on three rows in four)
    assert preset == "seed" or np.median(once.gemm_s / once.stage_time_s) > 0.1
    assert np.mean(once.comm_s > 0) > 0.5


@pytest.mark.parametrize("preset", [None, "seed"])
def test_rows_on_three_tiers_score_as_they_do_alone(preset):
    # Collectives are charged on each row's tier in one scatter (planner.serving.comm._tier_of). HGX H200:
    # 8 GPUs a server, 32 a rack, so tp 4 runs inside a server (tier 0), tp 16 across servers (tier 1) and
    # tp 64 across racks (tier 2). Together they score as each alone, and their bytes land on their own tier.
    hw = Catalogue().hardware("hgx-h200", preset=preset)
    sc = Scenario(hardware=hw, model=model("llama-3.1-70b"), workload=Workload(isl=2048, osl=256), allow_span=True)
    tps = np.array([4, 16, hw.gpus_per_rack * 2])
    n = tps.size
    plans = PlanArrays(tp=tps, pp=np.ones(n, np.int64), ep=np.ones(n, np.int64), dp=np.ones(n, np.int64),
                       batch=np.full(n, 64), quant=np.zeros(n, np.int64), kv_quant=np.zeros(n, np.int64),
                       kv_offload_fraction=np.zeros(n), instances=np.ones(n, np.int64))
    together = evaluate(sc, plans, shape_of(sc))
    for i in range(n):
        alone = evaluate(sc, take_rows(plans, np.array([i])), shape_of(sc))
        assert np.array_equal(alone.fabric_bytes_per_s[:, 0], together.fabric_bytes_per_s[:, i])
        assert alone.step_time_s[0] == together.step_time_s[i]
        # tier i carries the tp all-reduce; the other tiers none (pp 1: no hand-off)
        assert together.fabric_bytes_per_s[i, i] > 0
        assert np.count_nonzero(together.fabric_bytes_per_s[:, i]) == 1


@pytest.mark.parametrize("workload", [Workload(isl=4096, osl=1024), Workload(tokens_cached=8192)])
def test_blocks_of_rows_change_no_figure(monkeypatch, workload):
    # A large table is scored in blocks (planner.serving.evaluate.row_blocks): 3,000 rows in blocks of 700 (the
    # last one 200 rows) score as in one piece, bit for bit, with prompts (the fixed point) and in steady decode.
    from dataclasses import fields

    import planner.serving.evaluate as evaluate_module

    sc = Scenario(hardware=Catalogue().hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"),
                  workload=workload, allow_span=True)
    plans = _rows(3000, seed=2)
    whole = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(evaluate_module, "BLOCK_ROWS", 700)
    assert [(b.start, b.stop) for b in evaluate_module.row_blocks(3000)][-1] == (2800, 3500)
    blocked = evaluate(sc, plans, shape_of(sc))
    assert blocked.plans is plans
    for f in fields(whole):
        if isinstance(getattr(whole, f.name), np.ndarray):
            assert np.array_equal(getattr(blocked, f.name), getattr(whole, f.name)), f.name
    for name in ("weights", "kv_hbm", "kv_offloaded", "activations", "total"):
        assert np.array_equal(getattr(blocked.memory, name), getattr(whole.memory, name)), name


@pytest.mark.parametrize("name,system", [("qwen3-235b-a22b", "gb200-nvl72"), ("llama-3.1-70b", "hgx-h200")])
def test_collectives_taken_once_time_any_tokens_as_charged_one_by_one(name, system):
    # comm.CurveCollectives sums each collective's latency part and seconds per token once per layout; at
    # other token counts (the fixed point's rounds) it gives curve_comm's time and bytes up to rounding
    # (the sums run in another order). Rows on all three tiers: tp up to 64 (HGX: 8 a server, 32 a rack).
    from planner.engine.rates import rates
    from planner.serving.comm import CurveCollectives, curve_comm
    from planner.serving.layout import layout

    hw = Catalogue().hardware(system)
    sc = Scenario(hardware=hw, model=model(name), workload=Workload(isl=4096, osl=1024), allow_span=True)
    plans = _rows(400, seed=3)
    plans = PlanArrays(**{**{f: getattr(plans, f) for f in ("pp", "ep", "dp", "batch", "quant", "kv_quant",
                                                            "kv_offload_fraction", "instances")},
                          "tp": plans.tp * np.resize(np.array([1, 4, 16]), 400)})
    shape, r = shape_of(sc), rates(hw, sc.engine_profile)
    lay = layout(shape, plans)
    once = CurveCollectives.of(shape, lay, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)
    for scale in (1.0, 3.7, 250.0):
        more = lay.with_batch(lay.batch * scale)
        direct = curve_comm(shape, more, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)
        folded = once.at(more.group_tokens, more.micro_tokens)
        np.testing.assert_allclose(folded.time_s, direct.time_s, rtol=1e-12, atol=0)
        np.testing.assert_allclose(folded.bytes_by_tier, direct.bytes_by_tier, rtol=1e-12, atol=0)
        # the time alone, the bytes left for later (the fixed point's rounds): bytes_at of the tokens kept gives
        # the same bits, and the time is the same
        later = once.at(more.group_tokens, more.micro_tokens, tier_bytes=False)
        assert later.bytes_by_tier is None and np.array_equal(later.time_s, folded.time_s)
        assert np.array_equal(once.bytes_at(later.group_tokens, later.micro_tokens), folded.bytes_by_tier)
    # not vacuous: every tier carries bytes on some row, and the latency is most of a small batch's time
    assert (direct.bytes_by_tier.sum(axis=1) > 0).all()
    assert np.median(once.latency_s / np.maximum(curve_comm(shape, lay, r.comm_curves, hw.gpus_per_server,
                                                            hw.gpus_per_rack).time_s, 1e-30)) > 0.1


@pytest.mark.parametrize("name,system", [("qwen3-235b-a22b", "gb200-nvl72"), ("llama-3.1-70b", "hgx-h200")])
def test_next_lifetimes_on_the_moving_rows_alone_are_those_of_every_row(name, system, monkeypatch):
    # fixed_point.lifetimes steps only the rows still moving once some are final (the line step's root on them
    # alone): bit for bit the lifetimes of stepping every row and keeping the moving rows' (elementwise arithmetic).
    sc = Scenario(hardware=Catalogue().hardware(system), model=model(name), workload=Workload(isl=4096, osl=1024),
                  allow_span=True)
    plans = _rows(3000, seed=3)
    subsets = []
    own = fixed_point._following

    def every_row(rows, *args):
        subsets.append(None if rows is None else rows.size)
        out = own(None, *args)
        return out if rows is None else out[rows]

    narrowed = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(fixed_point, "_following", every_row)
    full = evaluate(sc, plans, shape_of(sc))
    for field in ("step_time_s", "ttft_s", "instance_tps", "stage_time_s", "fabric_bytes_per_s", "gemm_s"):
        assert np.array_equal(getattr(narrowed, field), getattr(full, field)), field
    # not vacuous: the first round steps all 3,000 rows, later ones fewer (some rows final, 0 < moving < 3,000)
    assert subsets[0] is None and any(s is not None and 0 < s < 3000 for s in subsets)


@pytest.mark.parametrize("preset", [None, "seed"])
def test_settled_rows_written_into_the_rounds_own_arrays_not_the_callers(preset, monkeypatch):
    # settle writes the rows settled in narrowed rounds into the last whole round's arrays: those it shares with its
    # inputs (the decode terms a step takes as they are: compute, offload, and the experts without the MoE curve)
    # are copied first, so the caller's arrays keep every value; the step's own arrays are written in place.
    from dataclasses import fields as fields_of

    from planner.engine.rates import rates
    from planner.serving.layout import layout

    hw = Catalogue().hardware("hgx-h200", preset=preset)
    sc = Scenario(hardware=hw, model=model("llama-3.1-70b"), workload=Workload(isl=4096, osl=1024), allow_span=True)
    shape, prof = shape_of(sc), sc.engine_profile
    plans = _rows(6000, seed=3)
    lay, r = layout(shape, plans), rates(hw, prof)
    decode = aggregated.DecodeTerms.of(shape, lay, r, plans.quant)
    before = {f.name: getattr(decode, f.name).copy() for f in fields_of(decode)
              if isinstance(getattr(decode, f.name), np.ndarray)}
    kept = {}
    original = fixed_point._unshared

    def unshared(obj, ids):
        out = original(obj, ids)
        if not isinstance(obj, np.ndarray):
            kept.update(step=obj, out=out)
        return out

    monkeypatch.setattr(fixed_point, "_unshared", unshared)
    sv = aggregated.serving(shape, lay, r, plans.quant, prof, decode, 4096, 1024, shape.prefill_attention_flop,
                            hw.gpus_per_server, hw.gpus_per_rack)
    for name, values in before.items():  # the caller's arrays untouched
        assert np.array_equal(getattr(decode, name), values), name
    step, out = kept["step"], kept["out"]
    assert sv.step.stage_time_s is out.stage_time_s and sv.step.compute_s is out.compute_s
    assert out.compute_s is not decode.compute_s and out.offload_s is not decode.offload_s  # shared: copied
    assert step.compute_s is decode.compute_s  # (the round took them as they are)
    assert out.stage_time_s is step.stage_time_s and out.hbm_s is step.hbm_s  # its own: written in place


def test_line_root_on_the_line_rows_alone_is_that_of_every_row():
    # fixed_point._following computes the line step's root on the rows on the line alone where they are at most
    # LINE_SHARE of the rows stepped: bit for bit np.where(line & (root >= osl), root, plain) over every row
    # (elementwise arithmetic), for every subset of rows and every share of rows on the line, none included.
    rng = np.random.default_rng(5)
    n, osl, waited = 2000, 1024, 1025.0
    x = 1.0 / rng.uniform(1024.0, 4000.0, n)
    tpot, last = rng.uniform(0.01, 0.05, n), (1.0 / rng.uniform(1024.0, 4000.0, n), rng.uniform(0.01, 0.05, n))
    plain, ttft = rng.uniform(1024.0, 4000.0, n), rng.uniform(0.1, 40.0, n)
    for share in (0.0, 0.01, 0.3, 0.5, 0.9, 1.0):
        line = rng.random(n) < share
        for rows in (None, np.flatnonzero(rng.random(n) < 0.4)):
            got = fixed_point._following(rows, x, tpot, last, plain, line, waited, ttft, osl)
            root = fixed_point._line_root(x, tpot, *last, waited, ttft)
            every = np.where(line & (root >= osl), root, plain)
            assert np.array_equal(got, every if rows is None else every[rows], equal_nan=True), (share, rows is None)
    # not vacuous: some roots are taken (at least osl) and some are not (below it, or NaN)
    assert 0 < np.count_nonzero(root >= osl) < n


@pytest.mark.parametrize("workload", [Workload(isl=4096, osl=1024), Workload(isl=1024, osl=256)])
def test_line_root_on_every_row_changes_no_figure(workload, monkeypatch):
    # the same end to end: the evaluator's figures with the root on every row (LINE_SHARE 0) are the same bits
    sc = Scenario(hardware=Catalogue().hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"), workload=workload,
                  allow_span=True)
    plans = _rows(3000, seed=4)
    narrowed = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(fixed_point, "LINE_SHARE", -1.0)
    every = evaluate(sc, plans, shape_of(sc))
    for field in ("step_time_s", "ttft_s", "instance_tps", "stage_time_s", "fabric_bytes_per_s", "gemm_s"):
        assert np.array_equal(getattr(narrowed, field), getattr(every, field)), field
