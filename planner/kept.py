"""Values computed from frozen specs, kept by the identity of those specs for the life of the process.

A table scored in blocks and rounds asks the same (hardware, engine) rates and the same model shape once per
block and round. Specs are frozen, so what is computed from one object stays right while that object lives:
`Kept` holds each value beside the objects it was computed from and gives it back only while the very same
objects are asked again (an ``id`` reused by a new object after the old one was freed is a miss, not a hit). It
forgets everything past ``limit`` entries, so a long sweep over many specs does not grow it without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Kept(Generic[T]):
    """Values kept by the identity of the objects they were computed from (module docstring)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._values: dict[tuple, tuple[tuple, T]] = {}

    def get(self, owners: tuple, make: Callable[[], T], extra: tuple = ()) -> T:
        """The value kept for ``owners`` (compared by identity) and ``extra`` (by value), made by ``make`` when
        there is none."""
        key = (*map(id, owners), *extra)
        hit = self._values.get(key)
        if hit is None or any(kept is not owner for kept, owner in zip(hit[0], owners)):
            if len(self._values) > self.limit:
                self._values.clear()
            hit = (owners, make())
            self._values[key] = hit
        return hit[1]
