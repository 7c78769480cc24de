"""Oracle tests on real candidate tables: evaluator-scored pools on two small hardware kinds.

The same ``FleetProblem`` the planner builds from the catalogue (Llama-3.1-8B, disaggregated,
prefill and decode pools on H200 and MI355X servers) is solved by the MILP and enumerated by
brute force; and pruning is shown not to change the optimum against the unpruned table.
"""

from dataclasses import replace

import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.fleet.optimise import plan_fleet
from planner.fleet.question import Fleet, FleetKind, FleetModel
from planner.fleet.table import build
from planner.milp.fleet import build as build_milp
from planner.milp.fleet_solve import solve
from planner.serving.candidates import Limits
from planner.serving.space import SearchSpace
from planner.serving.workload import Workload
from planner.verify.fleet_bruteforce import brute_force

CAT = Catalogue()
SPACE = SearchSpace(tp=(1, 2), pp=(1,), dp=(1,), ep=(1,), batch=(16, 256), quant=("fp8",), kv_quant=("fp8",),
                    kv_offload_fraction=(0.0,))


def _fleet(objective, target=None, serving="disagg", gpus=4, max_kw=None):
    kinds = (FleetKind("h200", CAT.hardware("hgx-h200"), gpus, 700.0, 3.5),
             FleetKind("mi355x", CAT.hardware("mi355x-8"), gpus, 1400.0, 3.0))
    m = FleetModel(label="llama8", spec=model("llama-3.1-8b"), workload=Workload(isl=1024, osl=256),
                   target_tps=target, share=None, weight=1.0, limits=Limits(max_tpot_s=0.05), serving=serving)
    return Fleet(kinds=kinds, models=(m,), objective=objective, max_power_w=max_kw, max_cost_per_hour=None,
                 profile=engine("default"), space=SPACE)


@pytest.mark.parametrize("objective,target,max_kw", [
    ("min_cost", 40_000.0, None), ("min_gpus", 60_000.0, None), ("min_power", 30_000.0, None),
    ("max_tps", None, 6.0),
])
def test_real_tables_milp_equals_brute_force(objective, target, max_kw):
    table = build(_fleet(objective, target, max_kw=max_kw * 1e3 if max_kw else None))
    problem = table.problem
    # Two kinds x (prefill, decode) x GPUs per instance {1, 2}: 8 columns at most after pruning.
    assert len(problem.columns) <= 8
    oracle = brute_force(problem)
    sol = solve(build_milp(problem))
    assert oracle.value is not None
    assert sol.objective_value == pytest.approx(oracle.value, rel=1e-7)


def test_pruning_never_changes_the_optimum():
    fleet = _fleet("min_cost", 50_000.0, serving="any")
    pruned, full = build(fleet).problem, build(fleet, prune=False).problem
    assert len(full.columns) > len(pruned.columns)
    assert solve(build_milp(pruned)).objective_value == pytest.approx(solve(build_milp(full)).objective_value,
                                                                      rel=1e-7)


def test_planned_fleet_verifies_and_reports_its_flows():
    result = plan_fleet(_fleet("min_cost", 40_000.0))
    v = result.verified
    assert v.verdict.ok
    # Output = osl x requests/s routed prefill -> decode (disaggregated only).
    assert v.output_tps[0] == pytest.approx(256 * sum(f.requests_per_s for f in v.flows), rel=1e-12)
    assert v.output_tps[0] >= 40_000 * (1 - 1e-9)
    # Price = sum over pools of GPUs x price per GPU-hour of its kind.
    price = {0: 3.5, 1: 3.0}
    assert result.solution.objective_value == pytest.approx(
        sum(p.plan.gpus * price[p.kind] for p in v.pools), rel=1e-9)


def test_other_objectives_reuse_the_scored_tables_and_get_the_same_plans(monkeypatch):
    from dataclasses import replace

    from planner.errors import InputError
    from planner.fleet import table as fleet_table

    first = plan_fleet(_fleet("min_cost", 40_000.0, serving="any"))
    calls = []
    scoring = fleet_table.role_rows
    monkeypatch.setattr(fleet_table, "role_rows", lambda *a: calls.append(a) or scoring(*a))
    for objective in ("min_gpus", "min_power"):
        fleet = _fleet(objective, 40_000.0, serving="any")
        reused = plan_fleet(fleet, scored=first.scored)
        assert calls == []  # no (model, kind, role) table scored again
        fresh = plan_fleet(fleet)
        assert len(calls) == 6  # 1 model x 2 kinds x (agg, prefill, decode), scored by the fresh plan
        calls.clear()
        assert reused.solution.objective_value == fresh.solution.objective_value
        assert reused.solution.counts.tolist() == fresh.solution.counts.tolist()
        assert reused.problem.columns.names == fresh.problem.columns.names
        assert reused.counts == fresh.counts
    # a budget may differ too; another target (a model's data) may not
    capped = replace(_fleet("min_cost", 40_000.0, serving="any"), max_power_w=5e3)
    assert plan_fleet(capped, scored=first.scored).solution.objective_value == \
        plan_fleet(capped).solution.objective_value
    with pytest.raises(InputError, match="scored"):
        plan_fleet(_fleet("min_cost", 50_000.0, serving="any"), scored=first.scored)


def test_one_system_twice_and_one_model_twice_score_their_tables_once(monkeypatch):
    from planner.fleet import table as fleet_table

    owned, rented = (FleetKind(label, CAT.hardware("hgx-h200"), 8, 700.0, price)
                     for label, price in (("owned", 3.5), ("cloud", 5.0)))
    base = _fleet("min_cost", 40_000.0, serving="any")
    tenant = replace(base.models[0], label="tenant", target_tps=10_000.0)
    fleet = replace(base, kinds=(owned, rented), models=(base.models[0], tenant))
    calls = []
    scoring = fleet_table.role_rows
    monkeypatch.setattr(fleet_table, "role_rows", lambda *a, **k: calls.append(a) or scoring(*a, **k))
    result = plan_fleet(fleet)
    # 2 models x 2 kinds x (agg, prefill, decode) = 12 tables, all of one (scenario, space, limits): 3 scored
    assert len(result.counts) == 12 and len(calls) == 3
    c = result.problem.columns
    rates = {(int(m), int(k)): sorted(c.rate[(c.model == m) & (c.kind == k)].tolist()) for m in (0, 1) for k in (0, 1)}
    assert rates[0, 0] == rates[0, 1] == rates[1, 0] == rates[1, 1]  # the same rows behind every pair
    assert result.verified.verdict.ok
