"""`Workload` is a frozen record (`specbase.checks.spec`): each length inside its bound, exactly one of its two
views, checked when built in code, by ``dataclasses.replace``, and inside the pydantic schema of a sweep grid
that holds a list of them."""

import dataclasses

import pytest

from planner.errors import InputError
from planner.serving.workload import MAX_TOKENS, Workload
from planner.studies.sweep import load_grid
from specbase.checks import FieldError


@pytest.mark.parametrize("fields, message", [
    ({"tokens_cached": -1}, "field 'tokens_cached' must be >= 0 (got -1)"),
    ({"tokens_cached": MAX_TOKENS + 1}, "field 'tokens_cached' must be <= 1e+08 (got 100000001)"),
    ({"isl": 0, "osl": 10}, "field 'isl' must be >= 1 (got 0)"),
    ({"isl": MAX_TOKENS + 1, "osl": 10}, "field 'isl' must be <= 1e+08 (got 100000001)"),
    ({"isl": 10, "osl": 0}, "field 'osl' must be >= 1 (got 0)"),
    ({"isl": 10, "osl": MAX_TOKENS + 1}, "field 'osl' must be <= 1e+08 (got 100000001)"),
    ({"isl": 10.5, "osl": 10}, "field 'isl' must be an integer (got 10.5)"),
    ({"tokens_cached": "8k"}, "field 'tokens_cached' must be an integer (got '8k')"),
    ({"tokens_cached": 8, "isl": 10, "osl": 10}, "give either tokens_cached or isl/osl, not both"),
    ({"isl": 10}, "isl and osl go together: give both"),
    ({"osl": 10}, "isl and osl go together: give both"),
    ({}, "give tokens_cached, or isl and osl"),
    ({"isl": 10, "osl": 10, "arrivals": "poisson"},
     "field 'arrivals' must be one of 'steady', 'burst' (got 'poisson')"),
    ({"tokens_cached": 8, "arrivals": "burst"},
     "arrivals = 'burst' needs isl and osl (a steady-state decode has no arrivals)"),
])
def test_bounds_and_one_view(fields, message):
    with pytest.raises(ValueError) as caught:
        Workload(**fields)
    assert str(caught.value) == message


def test_views_and_records():
    steady = Workload(tokens_cached=8192.0)  # an integral float is kept as an int, as pydantic's lax mode did
    assert type(steady.tokens_cached) is int and steady.label() == "ctx 8192" and not steady.has_prefill
    io = Workload(isl=1024, osl=256)
    # decode attends to 1024 + 256 / 2 = 1152 tokens on average; the KV cache holds 1024 + 256 = 1280
    assert (io.decode_context_tokens, io.kv_context_tokens, io.label()) == (1152.0, 1280.0, "1024/256")
    assert io == Workload(isl=1024, osl=256) and hash(io) == hash(Workload(isl=1024, osl=256))
    assert dataclasses.asdict(io) == {"tokens_cached": None, "isl": 1024, "osl": 256, "arrivals": "steady"}
    burst = dataclasses.replace(io, arrivals="burst")  # the same lengths, sent at once
    assert burst.burst and not io.burst and burst != io and burst.label() == "1024/256, one burst"
    with pytest.raises(FieldError, match=r"^field 'osl' must be >= 1 \(got -5\)$"):
        dataclasses.replace(io, osl=-5)
    with pytest.raises(ValueError, match="not both"):
        dataclasses.replace(io, tokens_cached=10)


GRID = 'models = ["llama-3.1-8b"]\nsystems = ["hgx-h100"]\n'


def test_a_sweep_grid_builds_checked_workloads(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text(GRID + "workloads = [{isl = 1024, osl = 256}, {tokens_cached = 4096}]\n")
    scenarios, _ = load_grid(path)
    # the grid's pydantic schema holds the records: built through their own checks, equal to ones built in code
    assert {(s.isl, s.osl, s.tokens_cached) for s in scenarios} == {(1024, 256, None), (None, None, 4096)}


@pytest.mark.parametrize("workloads, message", [
    ("[{isl = -10, osl = 3}]", "key 'workloads.0': field 'isl' must be >= 1 (got -10)"),
    ("[{isl = 10}]", "key 'workloads.0': isl and osl go together: give both"),
    ("[{isl = 10, osl = 3, os = 1}]", "unknown key 'workloads.0.os'; did you mean 'osl'?"),
])
def test_a_bad_grid_workload_gives_one_line(tmp_path, workloads, message):
    path = tmp_path / "g.toml"
    path.write_text(GRID + f"workloads = {workloads}\n")
    with pytest.raises(InputError) as caught:
        load_grid(path)
    assert str(caught.value) == f"{path}: {message}"
