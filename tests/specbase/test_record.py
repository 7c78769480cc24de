"""``@record`` behaves as ``@dataclass(frozen=True)``: each test builds the same class both ways and compares."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, asdict, dataclass, field, fields, is_dataclass, replace

import numpy as np
import pytest

from specbase.record import record


def _pair(kw_only: bool = False):
    """The same class made by ``dataclass(frozen=True)`` and by ``record``."""
    def body():
        class Point:
            """A point."""

            x: int
            y: int = 2
            tags: list = field(default_factory=list, compare=False, hash=False)
            note: str = field(default="n", repr=False)
            seen: int = field(default=0, init=False)

            def norm(self) -> int:
                return self.x + self.y
        return Point
    return dataclass(frozen=True, kw_only=kw_only)(body()), record(kw_only=kw_only)(body())


@record
class Sample:
    """Module level, so pickle finds it."""

    a: int
    b: tuple = ()


def test_construction_repr_eq_hash_match_dataclass():
    made, rec = _pair()
    for args, kwargs in [((1,), {}), ((1, 5), {}), ((), {"x": 3, "tags": [1]}), ((4,), {"note": "z", "y": 0})]:
        d, r = made(*args, **kwargs), rec(*args, **kwargs)
        assert repr(r) == repr(d)  # same text: "Point(x=1, y=2, tags=[], seen=0)", note hidden (repr=False)
        assert asdict(r) == asdict(d)
        assert r.norm() == d.norm()
        assert hash(r) == hash(d) == hash((r.x, r.y, r.note, 0))  # tags has hash=False; seen is compared
    a, b = rec(1, tags=[1]), rec(1, tags=[2])
    assert a == b and hash(a) == hash(b)  # tags has compare=False
    assert rec(1) != rec(2)
    assert rec(1) != made(1)  # another class: NotImplemented both ways, so unequal
    assert rec(1).tags is not rec(1).tags  # default_factory called per instance


def test_dataclass_tools_see_a_record():
    _, rec = _pair()
    r = rec(1, 2)
    assert is_dataclass(r)
    assert [f.name for f in fields(r)] == ["x", "y", "tags", "note", "seen"]
    moved = replace(r, y=7)
    assert (moved.x, moved.y, type(moved)) == (1, 7, rec)
    assert copy.deepcopy(r) == r
    s = Sample(1, (2, 3))
    assert pickle.loads(pickle.dumps(s)) == s


def test_frozen():
    _, rec = _pair()
    r = rec(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        r.x = 2
    with pytest.raises(FrozenInstanceError):
        del r.y
    assert r.x == 1


def test_bad_arguments_fail_as_dataclass_does():
    made, rec = _pair()
    for args, kwargs in [((), {}), ((1, 2, [], "n", 5), {}), ((1,), {"x": 2}), ((1,), {"z": 0}), ((1,), {"seen": 3})]:
        with pytest.raises(TypeError):
            made(*args, **kwargs)
        with pytest.raises(TypeError):
            rec(*args, **kwargs)


def test_keyword_only_and_inheritance():
    made, rec = _pair(kw_only=True)
    with pytest.raises(TypeError):
        rec(1)
    assert repr(rec(x=1)) == repr(made(x=1))

    @record
    class Base:
        a: int
        b: np.ndarray = None

    @record(kw_only=True)
    class Child(Base):
        c: int

    child = Child(1, c=3)  # base fields positional, the child's by keyword only
    assert (child.a, child.b, child.c) == (1, None, 3)
    assert repr(child).endswith(".Child(a=1, b=None, c=3)")  # the qualified name, as dataclass shows it
    assert Child(1, c=3) == child and Child(1, c=3) != Base(1)
    with pytest.raises(TypeError):
        Child(1, 2, 3)


def test_own_methods_and_post_init_kept():
    calls = []

    def body():
        class Own:
            a: int

            def __post_init__(self) -> None:
                calls.append(self.a)

            def __repr__(self) -> str:
                return "own"

            def __eq__(self, other) -> bool:
                return True
        return Own

    made, rec = dataclass(frozen=True)(body()), record(body())
    o = rec(5)
    assert calls == [5] and repr(o) == "own" and o == 3
    made(6)
    assert calls == [5, 6]
    # an own __eq__ leaves __hash__ None, which dataclass(frozen=True) replaces by the fields' hash: so does record
    assert hash(o) == hash(made(5)) == hash((5,))

    def hashed():
        class Keyed:
            a: int

            def __hash__(self) -> int:
                return 7
        return Keyed

    assert hash(record(hashed())(1)) == hash(dataclass(frozen=True)(hashed())(1)) == 7  # an own __hash__ is kept


def test_arrays_compare_as_in_a_dataclass():
    @record
    class Rows:
        v: np.ndarray

    @dataclass(frozen=True)
    class RowsDc:
        v: np.ndarray

    a = np.arange(3)
    assert Rows(a) == Rows(a)  # the same array: tuple comparison finds it identical
    for cls in (Rows, RowsDc):
        with pytest.raises(ValueError):  # two arrays: their truth is ambiguous, in both
            bool(cls(a) == cls(a.copy()))
