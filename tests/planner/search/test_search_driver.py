"""The search driver on a toy mode: alternatives exclude chosen layouts, diagnoses replace a bare infeasible."""

from types import SimpleNamespace

import numpy as np
import pytest

from planner.errors import InfeasibleError
from planner.search import driver


def _mode(keys, value, log, explain=None, fail=False):
    """A mode whose 'MILP' picks the highest-value row of the pool and whose check records each pick."""

    def solve(model, solver, limit):
        if fail:
            raise InfeasibleError("the MILP is infeasible")
        return int(np.argmax(value[model.rows]))

    def accept(rows, sol):
        log.append(int(rows[sol]))
        return ("choice", int(rows[sol])), int(rows[sol])

    return driver.Mode(prune=lambda pool: pool, build=lambda rows: SimpleNamespace(rows=rows, problem=None),
                       solve=solve, accept=accept, keys=keys, explain=explain)


def test_alternatives_skip_every_row_of_a_chosen_layout():
    # Rows 0 and 1 share layout (1,); rows 2 and 3 are layouts (2,) and (3,).
    keys = np.array([[1], [1], [2], [3]])
    value = np.array([9.0, 8.0, 7.0, 1.0])
    log = []
    out = driver.run(_mode(keys, value, log), np.arange(4), top=5)
    # Layout (1,) at its best row 0, then (2,), then (3,); row 1 is never offered again. The pools hold
    # 4 rows, then 2 (rows 2, 3), then 1 (row 3), then none: three answers although five were asked.
    assert log == [0, 2, 3]
    assert out.columns == [4, 2, 1]


def test_a_mode_without_keys_answers_once_and_its_diagnosis_replaces_infeasible():
    log = []
    out = driver.run(_mode(None, np.array([1.0, 2.0]), log), np.arange(2), top=3)
    assert log == [1] and len(out.choices) == 1
    with pytest.raises(InfeasibleError, match="^model m: target 10 tok/s but the fleet reaches 4$"):
        driver.run(_mode(None, np.ones(2), [], explain=lambda: "model m: target 10 tok/s but the fleet reaches 4",
                         fail=True), np.arange(2))
    with pytest.raises(InfeasibleError, match="^the MILP is infeasible$"):
        driver.run(_mode(None, np.ones(2), [], fail=True), np.arange(2))


def test_shortlist_keeps_each_layout_at_its_best_row_or_explains():
    c = driver.Candidates(keys=np.array([[1], [1], [2]]), rate=np.array([5.0, 6.0, 1.0]), gpus=np.array([1, 1, 2]),
                          usable=np.array([True, True, False]), fabric_may_bind=np.zeros(3, bool))
    # Row 2 is not usable; of layout (1,) row 1 (6 tok/s) beats row 0.
    assert driver.shortlist(c, lambda: "unused").tolist() == [1]
    none = driver.Candidates(c.keys, c.rate, c.gpus, np.zeros(3, bool), c.fabric_may_bind)
    with pytest.raises(InfeasibleError, match="^budget: nothing fits$"):
        driver.shortlist(none, lambda: "budget: nothing fits")


def test_choosing_a_row_excludes_its_whole_family():
    # Rows 0, 1 are layouts (1,) and (2,) of one family (7,), e.g. one plan cut into 1 or 2 instances.
    keys = np.array([[1], [2], [3]])
    family = np.array([[7], [7], [3]])
    value = np.array([9.0, 8.0, 1.0])
    log = []
    mode = _mode(keys, value, log)
    out = driver.run(driver.Mode(**{**mode.__dict__, "family": family}), np.arange(3), top=3)
    # Row 1 (same family as row 0) is never offered: answers are rows 0 and 2 only.
    assert log == [0, 2] and out.columns == [3, 1]
