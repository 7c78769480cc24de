"""Scored tables kept as the pruning reads them (``planner.fleet.table._readable``): the same columns.

A scored table keeps, per (GPUs per instance, KV format), the row `best_per_group` picks, and the rows of
the highest per-GPU fabric load and rate (`_fabric_cannot_bind` reads their maxima); a kind whose fabric
can bind has its tables scored again, whole. The MILP's columns, bounds and the report's counts must be
those of the tables kept whole.
"""

from dataclasses import replace

import numpy as np

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.fleet import table
from planner.fleet.question import Fleet, FleetKind, FleetModel
from planner.fleet.spec import Overrides, load
from planner.milp.fleet_problem import AGG, DECODE
from planner.serving.candidates import Limits
from planner.serving.space import SearchSpace
from planner.serving.workload import Workload

CAT = Catalogue()
SPACE = SearchSpace(tp=(1, 2, 4, 8), pp=(1, 2), dp=(1, 2), ep=(1, 2, 4), batch=(1, 8, 32, 64, 128, 256, 512, 1024),
                    quant=("fp8", "fp4"), kv_quant=("fp8", "bf16"), kv_offload_fraction=(0.0, 0.5))


def _fleet(kinds, objective="min_cost"):
    models = (FleetModel(label="a", spec=model("llama-3.1-8b"), workload=Workload(isl=1024, osl=256),
                         target_tps=30_000.0, share=None, weight=1.0, limits=Limits(max_tpot_s=0.03),
                         serving="any"),
              FleetModel(label="b", spec=model("qwen3-30b-a3b"), workload=Workload(isl=2048, osl=512),
                         target_tps=20_000.0, share=None, weight=1.0, limits=Limits(max_tpot_s=0.05, max_ttft_s=2.0),
                         serving="any"))
    return Fleet(kinds=kinds, models=models, objective=objective, max_power_w=None, max_cost_per_hour=None,
                 profile=engine("default"), space=SPACE)


def _two_kinds():
    return (FleetKind("h200", CAT.hardware("hgx-h200"), 16, 700.0, 3.5),
            FleetKind("mi355x", CAT.hardware("mi355x-8"), 16, 1400.0, 3.0))


def _thin(kind):
    """``kind`` with inter-server and inter-rack links of 1 kB/s: its fabric binds."""
    hw = kind.hardware
    thin = {t: replace(hw.fabrics[t], bytes_per_s=1e3) for t in ("inter_server", "inter_rack")}
    return replace(kind, hardware=replace(hw, fabrics={**hw.fabrics, **thin}))


def _both_ways(fleet, monkeypatch):
    """(tables kept as cut, tables kept whole): the scored tables and the built problem of each."""
    cut = table.score(fleet)
    problem = table.build(fleet, scored=cut).problem
    with monkeypatch.context() as patch:
        patch.setattr(table, "_readable", lambda gpus, kv, rate, load: np.arange(rate.size))
        whole = table.score(fleet)
        whole_problem = table.build(fleet, scored=whole).problem
    return (cut, problem), (whole, whole_problem)


def _same_columns(a, b):
    assert a.names == b.names
    assert np.array_equal(a.rate, b.rate) and np.array_equal(a.fabric_load, b.fabric_load)
    assert np.array_equal(a.max_instances, b.max_instances) and np.array_equal(a.gpus, b.gpus)


def _maxima(scored):
    """Per table, the highest per-GPU load on each tier and the highest per-GPU rate (`_fabric_cannot_bind`)."""
    out = []
    for _, _, _, rows in scored.raw:
        gpus = rows.plans.tp * rows.plans.pp * rows.plans.dp
        out.append(((rows.fabric_load / gpus).max(axis=1).tolist(), float((rows.rate / gpus).max()))
                   if rows.rate.size else None)
    return out


def test_cut_tables_build_the_columns_of_whole_tables(monkeypatch):
    fleet = _fleet(_two_kinds())
    (cut, problem), (whole, whole_problem) = _both_ways(fleet, monkeypatch)
    assert cut.fabric_free == whole.fabric_free == (True, True)
    _same_columns(problem.columns, whole_problem.columns)
    assert cut.counts == whole.counts  # rows enumerated, scored, feasible; fastest TPOT and TTFT
    assert _maxima(cut) == _maxima(whole)
    for (_, _, role, rows), (_, _, _, full) in zip(cut.raw, whole.raw):
        gpus = rows.plans.tp * rows.plans.pp * rows.plans.dp
        groups = {(int(g), int(q) if role != AGG else 0) for g, q in zip(gpus, rows.plans.kv_quant)}
        # one row per (GPUs, KV format), plus at most 3 per-GPU load maxima and 1 rate maximum
        assert len(groups) <= rows.rate.size <= len(groups) + 4
        assert rows.rate.max() == full.rate.max()
    decode = [(r.rate.size, f.rate.size) for (_, _, role, r), (_, _, _, f) in zip(cut.raw, whole.raw) if role == DECODE]
    assert sum(c for c, _ in decode) * 20 < sum(f for _, f in decode)  # most rows dropped
    # and every objective plans the same with either
    for objective in ("min_cost", "min_gpus", "max_tps"):
        other = replace(fleet, objective=objective)
        _same_columns(table.build(other, scored=cut).problem.columns, table.build(other, scored=whole).problem.columns)


def test_a_kind_whose_fabric_can_bind_keeps_its_tables_whole(monkeypatch):
    h200, mi355x = _two_kinds()
    fleet = _fleet((_thin(h200), mi355x))
    (cut, problem), (whole, whole_problem) = _both_ways(fleet, monkeypatch)
    assert cut.fabric_free == whole.fabric_free == (False, True)
    _same_columns(problem.columns, whole_problem.columns)
    for (_, ki, _, rows), (_, _, _, full) in zip(cut.raw, whole.raw):
        if ki == 0:  # the thin kind: every row meeting the limits, as scored whole
            assert rows.rate.size == rows.num_feasible == full.rate.size
            assert np.array_equal(rows.rate, full.rate)


def test_example_fleet_columns_are_those_of_whole_tables(monkeypatch):
    fleet = load("examples/fleet.toml", CAT, Overrides())
    (cut, problem), (whole, whole_problem) = _both_ways(fleet, monkeypatch)
    _same_columns(problem.columns, whole_problem.columns)
    assert cut.counts == whole.counts
    # the three models' decode tables on the GB200 racks: 79,063, 20,350 and 95,422 rows meet the limits,
    # 7 sizes x 2 KV formats = 14 groups each
    gb200 = [rows for _, ki, role, rows in cut.raw if role == DECODE and ki == 0]
    assert [rows.num_feasible for rows in gb200] == [79_063, 20_350, 95_422]
    assert all(14 <= rows.rate.size <= 14 + 4 for rows in gb200)


def test_readable_numbers_the_groups_without_sorting_and_picks_the_rows_the_key_columns_pick():
    from planner.fleet.dominance import distinct
    from planner.search.prune import best_per_group

    rng = np.random.default_rng(11)
    rows = 5_000
    gpus = 2 ** rng.integers(0, 7, rows)  # 1..64 GPUs per instance
    kv = rng.integers(0, 4, rows)  # KV format indices
    rate = rng.integers(1, 50, rows).astype(float)  # few values: many ties, the first of each group wins
    load = rng.integers(0, 9, (3, rows)).astype(float)
    picked = table._readable(gpus, kv, rate, load)
    # the same rows as grouping by the (GPUs, KV format) key columns (a sort of the codes), then the maxima
    reference = distinct(np.concatenate([best_per_group(np.column_stack([gpus, kv]), rate),
                                         np.argmax(load / gpus, axis=1), [int(np.argmax(rate / gpus))]]))
    assert picked.tolist() == reference.tolist()
    # 7 sizes x 4 formats = 28 groups, one row each, plus at most 3 load maxima and 1 rate maximum
    assert 28 <= picked.size <= 32
    # The digit is the largest format + 1 = 4: (1 GPU, format 3) is group 1 x 4 + 3 = 7 and (2 GPUs, format 0)
    # group 8, two rows kept; a digit of 3 would give both 6 and keep only the faster.
    two = table._readable(np.array([1, 2]), np.array([3, 0]), np.array([1.0, 2.0]), np.zeros((3, 2)))
    assert two.tolist() == [0, 1]
