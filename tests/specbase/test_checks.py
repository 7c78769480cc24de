"""`specbase.checks`: declared field checks run at construction, with one-line messages naming the field."""

import dataclasses

import numpy as np
import pytest

from specbase.checks import (
    FieldError,
    choice,
    flag,
    from_table,
    integer,
    mapping,
    number,
    refuse_unknown,
    spec,
    text,
)


@spec
class Link:
    name: str = text()
    kind: str = choice(("scale-up", "scale-out"))
    bytes_per_s: float = number(gt=0)
    efficiency_fraction: float = number(gt=0, le=1)
    lanes: int = integer(ge=1, default=1)
    p2p_bytes_per_s: float | None = number(gt=0, default=None)
    switched: bool = flag(default=True)
    sources: dict = mapping(default_factory=dict)
    peaks: dict = mapping(number(gt=0, default=None), default_factory=dict)

    def __post_init__(self):
        if self.p2p_bytes_per_s is not None and self.p2p_bytes_per_s > self.bytes_per_s:
            raise FieldError("p2p_bytes_per_s", f"must be <= bytes_per_s ({self.bytes_per_s:g})")


def _link(**changes):
    values = dict(name="nvlink", kind="scale-up", bytes_per_s=900e9, efficiency_fraction=0.8)
    return Link(**{**values, **changes})


def test_values_kept_in_their_declared_types():
    link = _link(bytes_per_s=900, lanes=np.int64(18), peaks={"fp8": np.float64(2.0)})
    # an int number becomes float, a numpy integer int, a numpy float float: what pydantic's lax mode keeps
    assert type(link.bytes_per_s) is float and link.bytes_per_s == 900.0
    assert type(link.lanes) is int and link.lanes == 18
    assert type(link.peaks["fp8"]) is float
    assert link.p2p_bytes_per_s is None and link.switched is True and link.sources == {}


@pytest.mark.parametrize("changes, message", [
    ({"bytes_per_s": -1}, "field 'bytes_per_s' must be > 0 (got -1.0)"),
    ({"bytes_per_s": 0}, "field 'bytes_per_s' must be > 0 (got 0.0)"),
    ({"efficiency_fraction": 1.5}, "field 'efficiency_fraction' must be <= 1 (got 1.5)"),
    ({"bytes_per_s": float("inf")}, "field 'bytes_per_s' must be a finite number (got inf)"),
    ({"bytes_per_s": float("nan")}, "field 'bytes_per_s' must be a finite number (got nan)"),
    ({"bytes_per_s": "fast"}, "field 'bytes_per_s' must be a number (got 'fast')"),
    ({"bytes_per_s": True}, "field 'bytes_per_s' must be a number (got True)"),
    ({"bytes_per_s": None}, "field 'bytes_per_s' is required; give a number"),
    ({"lanes": 2.5}, "field 'lanes' must be an integer (got 2.5)"),
    ({"lanes": 0}, "field 'lanes' must be >= 1 (got 0)"),
    ({"kind": "mesh"}, "field 'kind' must be one of 'scale-up', 'scale-out' (got 'mesh')"),
    ({"name": 7}, "field 'name' must be a string (got 7)"),
    ({"switched": "yes"}, "field 'switched' must be true or false (got 'yes')"),
    ({"sources": ["a"]}, "field 'sources' must be a table of names to values (got ['a'])"),
    ({"peaks": {"fp8": -2}}, "field 'peaks.fp8' must be > 0 (got -2.0)"),
    # the class's own check runs after the field checks
    ({"p2p_bytes_per_s": 1e12}, "field 'p2p_bytes_per_s' must be <= bytes_per_s (9e+11)"),
])
def test_a_wrong_value_names_its_field_and_bound(changes, message):
    with pytest.raises(FieldError) as caught:
        _link(**changes)
    assert str(caught.value) == message
    assert caught.value.field == message.split("'")[1]


def test_lax_integral_float_is_an_integer():
    assert _link(lanes=4.0).lanes == 4 and type(_link(lanes=4.0).lanes) is int


def test_frozen_and_replace_runs_the_checks_again():
    link = _link()
    with pytest.raises(dataclasses.FrozenInstanceError):
        link.bytes_per_s = 1.0
    assert dataclasses.replace(link, bytes_per_s=400e9).bytes_per_s == 400e9
    with pytest.raises(FieldError, match="field 'bytes_per_s' must be > 0"):
        dataclasses.replace(link, bytes_per_s=-5)


def test_equal_specs_hash_alike_whatever_the_order_of_their_tables():
    a = _link(sources={"a": "x", "b": "y"}, peaks={"fp8": 1.0, "bf16": None})
    b = _link(sources={"b": "y", "a": "x"}, peaks={"bf16": None, "fp8": 1.0})
    assert a == b and hash(a) == hash(b)
    assert hash(a) != hash(_link(sources={"a": "x"}))  # another value: another hash (not a constant)
    assert {a: 1}[b] == 1


def test_keyword_only_by_default():
    with pytest.raises(TypeError):
        Link("nvlink", "scale-up", 1.0, 0.5)


def test_a_bound_shows_the_value_as_given():
    # an integral float is an integer, but its bound's message shows it as written: -1e+300, not 301 digits
    with pytest.raises(FieldError) as caught:
        _link(lanes=-1e300)
    assert str(caught.value) == "field 'lanes' must be >= 1 (got -1e+300)"
    with pytest.raises(FieldError) as caught:
        _link(bytes_per_s=-(10 ** 400))  # an integer past the largest float (TOML integers are unbounded)
    assert str(caught.value) == f"field 'bytes_per_s' must be a finite number (got {-(10 ** 400)})"


def test_one_choice_is_named_alone():
    @spec
    class Question:
        maximise: str = choice(("tps",))

    with pytest.raises(FieldError) as caught:
        Question(maximise="cost")
    assert str(caught.value) == "field 'maximise' must be 'tps' (got 'cost')"


def test_from_table_refuses_unknown_and_missing_keys():
    table = dict(name="nvlink", kind="scale-up", bytes_per_s=900e9, efficiency_fraction=0.8)
    assert from_table(Link, table) == _link()
    with pytest.raises(FieldError) as caught:
        from_table(Link, {**table, "lane": 2})
    assert (caught.value.field, caught.value.problem) == ("lane", "is not a known key; did you mean 'lanes'?")
    with pytest.raises(FieldError) as caught:
        from_table(Link, {**table, "colour": 2})
    assert str(caught.value) == ("field 'colour' is not a known key; known: name, kind, bytes_per_s, "
                                 "efficiency_fraction, lanes, p2p_bytes_per_s, switched, sources, peaks")
    # the first required key missing, in field order, with what to give (not the TypeError of a record's __init__)
    with pytest.raises(FieldError) as caught:
        from_table(Link, {"name": "nvlink", "efficiency_fraction": 0.8})
    assert str(caught.value) == "field 'kind' is required; give one of 'scale-up', 'scale-out'"
    with pytest.raises(FieldError) as caught:
        from_table(Link, {**table, "bytes_per_s": 0})
    assert str(caught.value) == "field 'bytes_per_s' must be > 0 (got 0.0)"


def test_refuse_unknown_takes_any_names():
    refuse_unknown({"plan": 1}, ("plan", "model"))
    with pytest.raises(FieldError, match="field 'models' is not a known key; did you mean 'model'"):
        refuse_unknown({"plan": 1, "models": 2}, ("plan", "model"))
