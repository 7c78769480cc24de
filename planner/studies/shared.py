"""One scored candidate table for the scenarios of a study that differ only in latency limits or budget.

A frontier line plans one scenario at a dozen latency floors, and a compare often the same scenario on
several budgets: the candidates, their scores and the search space are the same at each (a floor only
marks which rows meet it, ``limited``; a budget only bounds the instances the MILP may take), so inside
`sharing_tables` the table is scored once and each solve re-marks it. One table is kept at a time (the
points of a line follow each other; `compare` plans its scenarios in `same_table_order`), and none once
the block ends, so a study holds no more memory than one plan does. A space too large to score whole
(``FULL_TABLE_ROWS``) is not shared: the optimiser scores it in slices as it would alone.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import replace

from planner.search.serving import FULL_TABLE_ROWS
from planner.serving.candidates import CandidateTable, Limits, candidate_table, enumerate_plans, limited, scored_table
from planner.serving.scenario import Scenario
from planner.serving.space import SearchSpace

_LOCAL = threading.local()  # .tables: {(id(scenario), space): (scenario, table)} while sharing


@contextlib.contextmanager
def sharing_tables():
    """Within the block, `shared_table` scores each (scenario, space) once (nested blocks share one store)."""
    outer = getattr(_LOCAL, "tables", None)
    _LOCAL.tables = {} if outer is None else outer
    try:
        yield
    finally:
        _LOCAL.tables = outer


def shared_table(scenario: Scenario, space: SearchSpace) -> CandidateTable | None:
    """The scored candidates of ``space`` (no limits applied: ``limited`` marks them), scored once within
    `sharing_tables`; ``None`` outside it or for a space too large to hold whole."""
    tables = getattr(_LOCAL, "tables", None)
    if tables is None:
        return None
    key = (id(scenario), space)
    found = tables.get(key)
    if found is not None and found[0] is scenario:
        return found[1]
    plans = enumerate_plans(scenario, space)
    table = scored_table(scenario, plans, Limits(), space.size()) if len(plans) <= FULL_TABLE_ROWS else None
    tables.clear()  # one table at a time
    tables[key] = (scenario, table)
    return table


def limited_table(scenario: Scenario, space: SearchSpace, limits: Limits) -> CandidateTable:
    """The candidate table of ``space`` marked under ``limits``: the shared one within `sharing_tables`."""
    shared = shared_table(scenario, space)
    return candidate_table(scenario, space, limits) if shared is None else limited(shared, limits)


def same_table_order(specs: list) -> list[int]:
    """Indices of ``specs`` (``ScenarioSpec``) with those that differ only in budget or latency floor (one
    scored table) next to each other, in order of first appearance: a compare's rows are planned so."""
    groups: dict = {}
    for i, spec in enumerate(specs):
        groups.setdefault(replace(spec, racks=None, gpus=None, min_tok_per_user=None), []).append(i)
    return [i for members in groups.values() for i in members]
