"""A question asked again on an answer's scored table: the same answer as asked afresh, with less work.

The explanation's "one more rack" re-solve (``planner.search.explain``) keeps the first answer's limits,
so it reuses the rows that answer found meeting them (``Result.rows``) instead of selecting and keying
them again; a re-solve under other limits selects its own.
"""

import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.budget import Budget
from planner.engine.profile import engine
from planner.search.serving import optimise
from planner.serving.candidates import Limits
from planner.serving.scenario import Scenario
from planner.serving.space import default_space
from planner.serving.workload import Workload

CAT = Catalogue()
SC = Scenario(hardware=CAT.hardware("gb200-nvl72"), model=model("llama-3.1-70b"),
              workload=Workload(tokens_cached=8192), profile=engine("default"))
SPACE = default_space(SC)
LIMITS = Limits(max_tpot_s=0.05)


@pytest.fixture(scope="module")
def first():
    return optimise(SC, Budget(gpus=72, racks=1), SPACE, LIMITS, top=1)


def _same(a, b):
    assert a.best.plan == b.best.plan
    assert float(a.best.scores.total_tps[0]) == float(b.best.scores.total_tps[0])
    assert a.counts == b.counts


def test_one_more_rack_on_the_reused_rows_is_the_answer_asked_afresh(first):
    two_racks = Budget(gpus=144, racks=2)
    fresh = optimise(SC, two_racks, SPACE, LIMITS, top=1)
    again = optimise(SC, two_racks, SPACE, LIMITS, top=1, scored=first.table, rows=first.rows)
    _same(again, fresh)
    # The rows meeting the limits were not selected again: the first answer's array is the one used.
    assert again.rows.picked is first.rows.picked and again.rows.keys is first.rows.keys
    # A dense model's best plan on two racks is the one-rack plan twice (72 -> 144 GPUs, same layout).
    assert again.best.plan.instances == 2 * first.best.plan.instances
    assert float(again.best.scores.total_tps[0]) == pytest.approx(2 * float(first.best.scores.total_tps[0]),
                                                                  rel=1e-12)


def test_rows_of_other_limits_are_not_reused(first):
    relaxed = Limits(max_tpot_s=0.055)
    fresh = optimise(SC, Budget(gpus=72, racks=1), SPACE, relaxed, top=1)
    again = optimise(SC, Budget(gpus=72, racks=1), SPACE, relaxed, top=1, scored=first.table, rows=first.rows)
    _same(again, fresh)
    assert again.rows.picked is not first.rows.picked
    # 10 % more TPOT admits rows the first answer's limit refused: more rows meet it.
    assert again.counts["feasible"] > first.counts["feasible"]
