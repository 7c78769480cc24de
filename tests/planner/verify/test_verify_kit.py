"""The verification kit: checks, verdicts, space membership and the objective re-check."""

import pytest

from planner.errors import VerificationError
from planner.serving.plan import Plan
from planner.serving.space import SearchSpace
from planner.verify import kit

SPACE = SearchSpace(tp=(1, 2, 4), pp=(1,), dp=(1,), ep=(1,), batch=(8, 16), quant=("fp8",), kv_quant=("fp8",),
                    kv_offload_fraction=(0.0, 0.25))


def test_space_membership_reads_every_decision_and_rounds_fractions():
    plan = Plan(tp=4, pp=1, ep=1, dp=1, batch=16, quant="fp8", kv_quant="fp8", kv_offload_fraction=0.25)
    assert kit.in_space("search_space", plan, SPACE).slack == 0.0
    # 0.1 + 0.15 is 0.25 up to the last bit: still the declared level.
    near = Plan(**{**plan.__dict__, "kv_offload_fraction": 0.1 + 0.15})
    assert kit.in_space("search_space", near, SPACE).ok
    for change in ({"tp": 8}, {"batch": 12}, {"quant": "bf16"}, {"kv_offload_fraction": 0.5}):
        assert kit.in_space("search_space", Plan(**{**plan.__dict__, **change}), SPACE).slack == -1.0


def test_objective_match_is_relative_to_the_larger_of_one_and_the_scale():
    # |1000.0005 - 1000| / 1000 = 5e-7 < 1e-6: slack 1e-6 - 5e-7 = 5e-7.
    assert kit.objective_match(1000.0, 1000.0005).slack == pytest.approx(5e-7, rel=1e-6)
    # |0.5 - 0.4| / max(1, 0.4) = 0.1: far off.
    assert not kit.objective_match(0.4, 0.5).ok
    # A min-GPUs objective of 64 GPUs + eps x 1 rack reads as 64 GPUs.
    assert kit.gpus_of(64 + 1 / 3) == 64.0


def test_target_and_budget_checks_carry_slack_in_the_limits_unit():
    # 99.99999999 tok/s meets a 100 tok/s target within the 1e-9 relative rounding: 100 x (1 - 1e-9) = 99.9999999.
    assert kit.target_check("target_tps", 99.99999999, 100.0).ok
    assert not kit.target_check("target_tps", 99.9, 100.0).ok
    checks = kit.budget_checks(1000.0, 400.0, [0.0, 50.0, 10.0], [0.0, 20.0, 30.0])
    assert [(c.name, c.slack) for c in checks] == [("power_budget", 600.0), ("fabric_inter_server", 30.0),
                                                   ("fabric_inter_rack", -20.0)]
    assert [c.name for c in kit.budget_checks(None, 400.0, [0.0, 1.0, 1.0], [0.0, 0.0, 0.0])] == [
        "fabric_inter_server", "fabric_inter_rack"]


def test_conclude_raises_naming_every_failed_check():
    ok = [kit.Check("gpu_budget", 4.0), kit.rule("layout_rules", True)]
    verdict = kit.conclude(ok, "plan 1x1x1x1 x1")
    assert verdict.ok and verdict.as_dict() == {"ok": True, "checks": [{"name": "gpu_budget", "slack": 4.0},
                                                                       {"name": "layout_rules", "slack": 0.0}]}
    with pytest.raises(VerificationError) as err:
        kit.conclude(ok + [kit.Check("power_budget", -12.5), kit.rule("search_space", False)], "fleet plan")
    assert str(err.value) == ("the solver's fleet plan fails re-evaluation: power_budget (slack -12.5), search_space "
                              "(slack -1); this is a bug, please report it with the command line")
