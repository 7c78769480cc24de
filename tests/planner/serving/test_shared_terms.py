"""Work the isl/osl evaluator shares between its terms gives each row the figures it has computed on its own."""

from dataclasses import fields, is_dataclass

import numpy as np
import pytest

import planner.serving.distinct as distinct
import planner.serving.fixed_point as fixed_point
from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.rates import rates
from planner.serving.aggregated import DecodeTerms, PromptWork, iteration
from planner.serving.comm import CurveCollectives
from planner.serving.evaluate import shape_of
from planner.serving.layout import layout
from planner.serving.plan import PlanArrays
from planner.serving.roofline import moe_s, moe_s_at
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def _plans(n, seed=0, tps=(1, 2, 4, 8)):
    rng = np.random.default_rng(seed)
    tp = rng.choice(np.array(tps), n)
    dp = rng.choice(np.array([1, 2, 4]), n)
    return PlanArrays(tp=tp, pp=rng.choice(np.array([1, 2, 4]), n), dp=dp,
                      ep=np.minimum(rng.choice(np.array([1, 2, 4, 8]), n), tp * dp), batch=rng.integers(1, 2049, n),
                      quant=rng.integers(0, 5, n), kv_quant=rng.integers(0, 2, n), kv_offload_fraction=np.zeros(n),
                      instances=np.ones(n, np.int64))


def _setup(name, system, plans, preset=None):
    hw = Catalogue().hardware(system, preset=preset)
    sc = Scenario(hardware=hw, model=model(name), workload=Workload(isl=4096, osl=1024), allow_span=True)
    shape = shape_of(sc)
    return hw, sc, shape, rates(hw, sc.engine_profile), layout(shape, plans)


def _same_bits(a, b, where=""):
    """Every array of two dataclasses (nested ones too) equal bit for bit."""
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if is_dataclass(x):
            _same_bits(x, y, f"{where}{f.name}.")
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert np.array_equal(np.asarray(x), np.asarray(y)), where + f.name


@pytest.mark.parametrize("tps,most", [((1, 2, 4, 8), 4 * 3 * 3 * 4), ((1, 2, 4, 8, 16, 64), 216)])
def test_collectives_per_layout_with_small_and_large_keys(tps, most):
    # per_layout numbers each row's (tp, pp, dp, ep) as one integer when their product of (largest + 1) is at most
    # the block's rows (tp <= 8: 9 x 5 x 5 x 9 = 2,025 <= 6,000), else each part densely first (tp up to 64):
    # both give every row its own figures, computed once per distinct layout.
    plans = _plans(6000, seed=5, tps=tps)
    hw, _, shape, r, lay = _setup("qwen3-235b-a22b", "gb200-nvl72", plans)
    sizes = []

    def of(part):
        sizes.append(part.tp.shape[0])
        return CurveCollectives.of(shape, part, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)

    _same_bits(distinct.per_layout(of, lay), of(lay))
    layouts = len({(a, b, c, d) for a, b, c, d in zip(plans.tp, plans.pp, plans.dp, plans.ep)})
    assert sizes[0] == layouts <= most and sizes[1] == 6000


@pytest.mark.parametrize("name,system", [("qwen3-235b-a22b", "gb200-nvl72"), ("llama-3.1-70b", "hgx-h200")])
def test_chunk_gemms_taken_where_the_rows_are_known(name, system, monkeypatch):
    # fixed_point.BlockGemms keeps the blocks' GEMM time at the own prefill's rows (group tokens + chunk); gemm_s
    # takes it for rows whose GEMMs have those rows and computes the others (taking the curve's constants to
    # them): bit for bit gemm_s computing every row, whether none, a few or many rows are new.
    from planner.serving.roofline import gemm_s, gemm_setup

    plans = _plans(20000, seed=13)
    _, _, shape, r, lay = _setup(name, system, plans)
    setup = gemm_setup(shape, lay, r)
    known = fixed_point.block_gemms(shape, lay, lay.group_tokens + 4096.0, setup)
    head = lay.group_tokens + 0.25
    for new in (0, 600, 2400, 20000):  # new rows: none, 3 %, 12 % (both taken), all (computed anew)
        tokens = lay.group_tokens + 4096.0
        tokens[:new] += 1.5
        assert np.array_equal(gemm_s(shape, lay, r, tokens, head, setup, known), gemm_s(shape, lay, r, tokens, head,
                                                                                          setup)), new
    # not vacuous: 1.5 rows more than the known GEMMs' take at least as long, longer on many rows (more bytes;
    # on compute-bound rows whose tiles do not change, as long)
    more, same = (gemm_s(shape, lay, r, lay.group_tokens + m, head, setup) for m in (4097.5, 4096.0))
    assert (more >= same).all() and (more > same).mean() > 0.25
    # below REUSE_ROWS a block computes every row unless no row is new
    monkeypatch.setattr(fixed_point, "REUSE_ROWS", 10**6)
    tokens = lay.group_tokens + 4096.0
    tokens[:600] += 1.5
    assert np.array_equal(gemm_s(shape, lay, r, tokens, head, setup, known), gemm_s(shape, lay, r, tokens, head, setup))


@pytest.mark.parametrize("name,system", [("qwen3-235b-a22b", "gb200-nvl72"), ("llama-3.1-70b", "hgx-h200")])
def test_collectives_per_layout_are_each_rows_own(name, system, monkeypatch):
    # distinct.per_layout computes the collectives on one row of each distinct (tp, pp, dp, ep) and takes
    # them to every row: bit for bit what every row computes itself. tp up to 64 puts rows on all three tiers
    # (HGX H200: 8 GPUs a server, 32 a rack; GB200 NVL72: 4 a tray, 72 a rack).
    plans = _plans(6000, seed=5, tps=(1, 2, 4, 8, 16, 64))
    hw, _, shape, r, lay = _setup(name, system, plans)
    sizes = []

    def of(part):
        sizes.append(part.tp.shape[0])
        return CurveCollectives.of(shape, part, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)

    shared = distinct.per_layout(of, lay)
    every = CurveCollectives.of(shape, lay, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)
    _same_bits(shared, every)
    # not vacuous: it computed one row per layout, 6 x 3 x 3 x 4 = 216 at most (here fewer: ep <= tp dp), and
    # the rows' bytes land on every tier
    assert sizes[0] <= 216 and len(sizes) == 1
    assert (every.bytes_per_group_token.sum(axis=1) > 0).all()
    # a block below PER_LAYOUT_ROWS computes every row itself
    monkeypatch.setattr(distinct, "PER_LAYOUT_ROWS", 10_000)
    distinct.per_layout(of, lay)
    assert sizes[1] == 6000


@pytest.mark.parametrize("name,system,folded", [("qwen3-235b-a22b", "gb200-nvl72", True),
                                                 ("llama-3.1-70b", "hgx-h200", False)])
def test_decode_collectives_of_an_moe_table_folded_once_per_layout(name, system, folded, monkeypatch):
    # comm.comm times an MoE model's collectives folded (CurveCollectives) on one row of each distinct layout, a
    # dense model's one by one (curve_comm): both the figures of charging every collective of every row, up to
    # rounding (the folded sums run in another order).
    import planner.serving.comm as comm_module

    plans = _plans(6000, seed=5, tps=(1, 2, 4, 8, 16, 64))
    hw, _, shape, r, lay = _setup(name, system, plans)
    sizes = []
    real = CurveCollectives.of.__func__

    def counted(cls, shape, part, *rest):
        sizes.append(part.tp.shape[0])
        return real(cls, shape, part, *rest)

    monkeypatch.setattr(CurveCollectives, "of", classmethod(counted))
    got = comm_module.comm(shape, lay, r, hw.gpus_per_server, hw.gpus_per_rack)
    monkeypatch.undo()
    direct = comm_module.curve_comm(shape, lay, r.comm_curves, hw.gpus_per_server, hw.gpus_per_rack)
    np.testing.assert_allclose(got.time_s, direct.time_s, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.bytes_by_tier, direct.bytes_by_tier, rtol=1e-12, atol=0)
    # folded on one row of each layout (6 x 3 x 3 x 4 = 216 at most, fewer: ep <= tp dp), or not at all
    assert (len(sizes) == 1 and sizes[0] <= 216) if folded else not sizes
    assert (direct.time_s > 0).mean() > 0.9  # not vacuous: most rows' collectives take time


def test_moe_curve_at_stacked_tokens_is_one_call_each():
    # roofline.moe_s_at runs the MoE curve once over the decode step's, the one-chunk step's and the full
    # budget's tokens stacked (the per-layout parts once): each the bits of its own moe_s call, every mode mixed.
    plans = _plans(3000, seed=7)
    _, _, shape, r, lay = _setup("qwen3-235b-a22b", "gb200-nvl72", plans)
    tokens = [lay.micro_tokens, lay.micro_tokens + 4096.0, lay.micro_tokens + 8192.0]
    stacked = moe_s_at(shape, lay, r, plans.quant, tokens)
    for one, t in zip(stacked, tokens):
        assert np.array_equal(one, moe_s(shape, lay, r, plans.quant, t))
    # not vacuous: the curve times every row, and a chunk of 4,096 tokens adds to each
    assert (stacked[0] > 0).all() and (stacked[1] > stacked[0]).all()
    # the seed preset has no MoE curve: zeros, one array per token count
    _, _, shape, r, lay = _setup("qwen3-235b-a22b", "gb200-nvl72", plans, preset="seed")
    seed = moe_s_at(shape, lay, r, plans.quant, tokens)
    assert len(seed) == 3 and all(np.array_equal(z, np.zeros(3000)) for z in seed) and seed[0] is not seed[1]


@pytest.mark.parametrize("name,system,preset", [("qwen3-235b-a22b", "gb200-nvl72", None),
                                                ("llama-3.1-70b", "hgx-h200", None),
                                                ("qwen3-235b-a22b", "gb200-nvl72", "seed")])
def test_prompt_work_the_same_on_every_row_as_scalars_scores_as_arrays(name, system, preset):
    # serving passes the own prefill's chunk and a full budget as scalars: an iteration gives the bits it gives
    # with arrays holding that value on every row, its bytes per tier apart (tier_bytes=False leaves them out).
    plans = _plans(2000, seed=9)
    hw, sc, shape, r, lay = _setup(name, system, plans, preset)
    decode = DecodeTerms.of(shape, lay, r, plans.quant)
    ones = np.ones(2000)
    scalar = PromptWork(group_tokens=4096.0, stage_tokens=4096.0, prompts_per_group=1.0,
                        attention_flop=3.5e12, chunk_tokens=4096.0)
    arrays = PromptWork(**{f.name: getattr(scalar, f.name) * ones for f in fields(PromptWork)})
    a = iteration(shape, lay, r, plans.quant, sc.engine_profile, decode, scalar, hw.gpus_per_server,
                  hw.gpus_per_rack, preset is not None)
    b = iteration(shape, lay, r, plans.quant, sc.engine_profile, decode, arrays, hw.gpus_per_server,
                  hw.gpus_per_rack)
    for f in ("compute_s", "hbm_s", "offload_s", "stage_time_s", "gemm_s", "moe_s", "attention_s"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert np.array_equal(a.comm.time_s, b.comm.time_s)
    # the seed preset's collectives (comm.comm) always carry their bytes; the curves' only when asked
    assert (a.comm.bytes_by_tier is None) == (preset is None) and b.comm.bytes_by_tier.shape == (3, 2000)
    assert (a.stage_time_s > 0).all()


@pytest.mark.parametrize("workload", [Workload(isl=4096, osl=1024), Workload(isl=512, osl=64)])
def test_rows_stopped_at_the_round_cap_score_as_without_dropping_rows(workload, monkeypatch):
    # fixed_point.settle gives each row the figures of the round that ran it at its final lifetime; rows stopped
    # at the round cap (their last lifetime never run) run once more. With 4 rounds many rows stop there: dropping
    # final rows after every round (COMPACT_ROWS 1) scores every row as never dropping any (COMPACT_FRACTION 2).
    from planner.serving.evaluate import evaluate

    sc = Scenario(hardware=Catalogue().hardware("gb200-nvl72"), model=model("qwen3-235b-a22b"), workload=workload,
                  allow_span=True)
    plans = _plans(3000, seed=11)
    converged = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(fixed_point, "FIXED_POINT_ROUNDS", 5)
    monkeypatch.setattr(fixed_point, "COMPACT_ROWS", 1)
    dropped = evaluate(sc, plans, shape_of(sc))
    monkeypatch.setattr(fixed_point, "COMPACT_FRACTION", 2.0)
    kept = evaluate(sc, plans, shape_of(sc))
    for name in ("step_time_s", "ttft_s", "instance_tps", "gemm_s", "moe_s", "comm_s", "fabric_bytes_per_s"):
        assert np.array_equal(getattr(dropped, name), getattr(kept, name)), name
    # not vacuous: some rows stopped at the cap (their TPOT is not the converged one), some did not
    stopped = np.mean(dropped.step_time_s != converged.step_time_s)
    assert 0.0 < stopped < 1.0
