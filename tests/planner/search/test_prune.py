"""Segmented-maximum pruning and the two-stage enumeration give what the direct definitions give."""

import itertools

import numpy as np
import pytest

from planner import quant
from planner.search import prune
from planner.serving import parallel
from planner.serving.candidates import enumerate_plans, layout_chunks
from planner.serving.space import default_space
from planner.studies.serving import scenario


def _reference_best(keys, tps):
    """Per distinct key row, the first row holding the group's highest tps (plain Python)."""
    best = {}
    for i, (key, value) in enumerate(zip(map(tuple, keys), tps)):
        if key not in best or value > tps[best[key]]:
            best[key] = i
    return sorted(best.values())


@pytest.mark.parametrize("seed", range(5))
def testbest_per_group_matches_the_definition_with_ties(seed):
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 4, size=(2000, 3))
    tps = rng.integers(0, 5, size=2000).astype(float)  # 5 values over ~32 rows per group: many ties
    assert prune.best_per_group(keys, tps).tolist() == _reference_best(keys, tps)


@pytest.mark.parametrize("seed", range(5))
def test_best_per_group_of_a_subset_takes_the_whole_tables_group_ids(seed):
    # the explanation's re-solves shortlist the rows another budget leaves usable with the ids numbered once
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 4, size=(2000, 3))
    tps = rng.integers(0, 5, size=2000).astype(float)
    subset = np.flatnonzero(rng.random(2000) < 0.3)
    whole = prune.group_ids(keys)  # not dense over the subset: some groups have no row in it
    kept = prune.best_per_group(keys[subset], tps[subset], whole[subset])
    assert kept.tolist() == _reference_best(keys[subset], tps[subset])
    may_bind = rng.random(subset.size) < 0.05
    assert np.array_equal(prune.distinct_best(keys[subset], tps[subset], may_bind, whole[subset]),
                          prune.distinct_best(keys[subset], tps[subset], may_bind))


def test_group_ids_survive_keys_whose_mixed_radix_code_would_overflow():
    # 7 columns of 1000 distinct values: 1000**7 = 1e21 > 2**63 ~ 9.2e18
    base = np.random.default_rng(0).permutation(np.repeat(np.arange(1000), 3))
    # each column a bijection of base (multipliers coprime to 1000): 1000 distinct key rows, 3 rows each
    keys = np.column_stack([base * c % 1000 for c in (1, 3, 7, 9, 11, 13, 17)])
    gid = prune.group_ids(keys)
    assert np.unique(gid).size == len({tuple(k) for k in keys.tolist()}) == 1000
    same = (keys[:, None, :] == keys[None, :, :]).all(axis=2)
    assert np.array_equal(same, gid[:, None] == gid[None, :])


@pytest.mark.parametrize("seed", range(3))
def test_group_ids_are_the_lexicographic_ranks_of_the_key_rows(seed):
    # small-range columns take the offset digit, a wide or negative one the sorted one: the same dense ranks
    rng = np.random.default_rng(seed)
    keys = np.column_stack([rng.choice([1, 2, 4, 8, 72], 3000), rng.integers(-3, 3, 3000),
                            rng.choice([0, 2**40, -(2**41)], 3000), rng.integers(0, 2, 3000)])
    ranks = np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)
    assert np.array_equal(prune.group_ids(keys), ranks)


@pytest.mark.parametrize("columns", [
    # ranked by a table over the range (tp-like), by a search among the values present (offload in millionths:
    # range 500,001 > RANK_TABLE) and by a search over a range of 5,000: 7 x 3 x ~3,000 codes, ranked from a table
    lambda rng, n: [rng.choice([1, 2, 4, 8, 16, 32, 64], n), rng.choice([0, 250_000, 500_000], n),
                    rng.integers(0, 5_000, n)],
    # 100**3 = 1,000,000 possible codes, more than 4 x rows and 2**16: the codes ranked by a sort instead
    lambda rng, n: [rng.integers(0, 100, n), rng.integers(0, 100, n), rng.integers(0, 100, n)],
])
def test_group_ids_rank_by_table_by_search_and_by_sort_alike(columns):
    rng = np.random.default_rng(7)
    keys = np.column_stack(columns(rng, 3000))
    ranks = np.unique(keys, axis=0, return_inverse=True)[1].reshape(-1)
    assert np.array_equal(prune.group_ids(keys), ranks)
    assert np.array_equal(prune.group_ids(np.asfortranarray(keys)), ranks)  # column-major keys (_layout_keys)


def test_distinct_best_keeps_fabric_bound_rows_too():
    keys = np.array([[1, 1], [1, 1], [2, 1], [2, 1]])
    tps = np.array([5.0, 7.0, 3.0, 3.0])
    may_bind = np.array([True, False, False, False])
    # key (1,1): row 1 (7 > 5); key (2,1): the tie goes to row 2; row 0 kept because its fabric may bind
    assert prune.distinct_best(keys, tps, may_bind).tolist() == [0, 1, 2]


@pytest.mark.parametrize("names", [dict(), dict(model="llama-3.1-70b"), dict(system="hgx-h200", allow_span=True)])
def test_two_stage_enumeration_is_the_masked_full_product_in_order(names):
    sc = scenario(**names)
    space = default_space(sc, max_batch=64)
    rows = list(itertools.product(space.tp, space.pp, space.ep, space.dp, space.batch, space.quant,
                                  space.kv_quant, space.kv_offload_fraction))
    tp, pp, ep, dp, batch = (np.array([r[j] for r in rows]) for j in range(5))
    ok = parallel.layout_mask(sc.model, tp, pp, ep, dp, batch)
    if not sc.allow_span:
        ok &= tp * pp * dp <= sc.hardware.scale_up_domain_gpus
    want = [r for r, keep in zip(rows, ok) if keep]
    got = enumerate_plans(sc, space)
    assert got.tp.size == len(want) > 0
    assert list(zip(got.tp.tolist(), got.pp.tolist(), got.ep.tolist(), got.dp.tolist(), got.batch.tolist(),
                    [quant.MODE_NAMES[q] for q in got.quant], [quant.MODE_NAMES[q] for q in got.kv_quant],
                    got.kv_offload_fraction.tolist())) == want


def test_layout_chunks_keep_each_layout_whole():
    sc = scenario()
    plans = enumerate_plans(sc, default_space(sc, max_batch=64))
    parts = layout_chunks(plans, 1000)
    assert parts[0].start == 0 and parts[-1].stop == len(plans) and len(parts) > 5
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    assert all(p.stop - p.start >= 1000 for p in parts[:-1])
    # no (tp, pp, ep, dp) layout has rows in two slices
    owner = {}
    for n, part in enumerate(parts):
        for row in zip(*(getattr(plans, k)[part].tolist() for k in ("tp", "pp", "ep", "dp"))):
            assert owner.setdefault(row, n) == n


@pytest.mark.parametrize("names", [dict(), dict(model="llama-3.1-70b", max_tpot_ms=30.0, top=6)])
def test_plans_scored_in_slices_are_the_plans_scored_whole(names, monkeypatch):
    import planner
    from planner.search import serving
    whole = planner.plan(**names)
    monkeypatch.setattr(serving, "FULL_TABLE_ROWS", 0)  # every space counts as too large to score whole
    monkeypatch.setattr(serving, "SCORE_CHUNK_ROWS", 997)  # dozens of slices instead of one or two
    sliced = planner.plan(**names)
    for doc in (whole, sliced):
        doc.pop("solve_time_s", None)
        doc.pop("wall_time_s", None)
    # Sliced, the whole table is not kept, so there are no "what would move it" re-solves.
    assert whole["explanation"]["what_would_move_it"] and not sliced["explanation"]["what_would_move_it"]
    assert sliced["search_space"] == whole["search_space"]
    assert [a["plan"] for a in sliced["alternatives"]] == [a["plan"] for a in whole["alternatives"]]
    assert (sliced["plan"], sliced["total_tps"]) == (whole["plan"], whole["total_tps"])
