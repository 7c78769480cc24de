"""Declared field checks: a spec's fields say their type and bounds, and `spec` runs them at construction.

A spec is a `specbase.record.record` (frozen, compared and hashed by its fields, keyword-only by
default) whose fields are declared with the constructors below::

    @spec
    class FabricSpec:
        name: str = text()
        kind: str = choice(("scale-up", "scale-out"))
        bytes_per_s: float = number(gt=0)
        latency_s: float = number(gt=0)
        efficiency_fraction: float = number(gt=0, le=1)
        peer_to_peer_bytes_per_s: float | None = number(gt=0, default=None)
        sources: dict[str, str] = mapping()

Each check returns the value the field keeps: numbers become ``float`` (finite; ``bool`` refused),
integers ``int`` (an integral float is accepted, as pydantic's lax mode does), mappings a new ``dict``.
A wrong value raises `FieldError`, whose message is one line that names the field and the bound,
``field 'latency_s' must be > 0 (got -1.0)``; each package prefixes the file or object it came from.
Checks across fields go in the class's own ``__post_init__``, which runs after the field checks.
A field declared without a check constructor is stored as given. `from_table` builds a spec from a table
a user wrote (a fleet file's ``[[hardware]]``), refusing a key the spec does not declare, with a hint.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import MISSING

from specbase.record import record


class FieldError(ValueError):
    """One field of a spec holds a wrong value.

    Attributes:
        field: The field's name (dotted below a mapping: ``peak_flop_per_s.fp8``).
        problem: What is wrong and what to give instead, e.g. ``must be > 0 (got -1.0)``.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field '{field}' {problem}")
        self.field = field
        self.problem = problem


class _Check:
    """One field's check: called with the field's name and value, returns the value to keep."""

    __slots__ = ("optional",)

    def __init__(self, optional: bool) -> None:
        self.optional = optional

    def __call__(self, name: str, value):
        if value is None:
            if self.optional:
                return None
            raise FieldError(name, f"is required; give {self.wanted}")
        return self.check(name, value)

    wanted = "a value"

    def check(self, name: str, value):  # pragma: no cover - every subclass has its own
        raise NotImplementedError


class _Bounded(_Check):
    """A number, finite, inside its declared bounds."""

    __slots__ = ("bounds", "kind")

    def __init__(self, kind: type, optional: bool, gt, ge, lt, le) -> None:
        super().__init__(optional)
        self.kind = kind
        declared = ((">", operator.gt, gt), (">=", operator.ge, ge), ("<", operator.lt, lt), ("<=", operator.le, le))
        self.bounds = tuple(bound for bound in declared if bound[2] is not None)

    @property
    def wanted(self) -> str:
        return "an integer" if self.kind is int else "a number"

    def check(self, name: str, value):
        if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
            raise FieldError(name, f"must be {self.wanted} (got {value!r})")
        if not isinstance(value, (int, float)):  # numpy scalars and other real numbers
            value = int(value) if hasattr(value, "__index__") else float(value)
        given = value  # shown in a bound's message as written: 1e+300, not its 301 digits as an int
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise FieldError(name, f"must be an integer (got {value!r})")
            value = int(value)
        else:
            try:
                value = float(value)
            except OverflowError:  # an integer past the largest float (a TOML file may hold 10**400)
                raise FieldError(name, f"must be a finite number (got {value!r})") from None
            if not math.isfinite(value):
                raise FieldError(name, f"must be a finite number (got {value!r})")
            given = value
        for symbol, holds, bound in self.bounds:
            if not holds(value, bound):
                raise FieldError(name, f"must be {symbol} {bound:g} (got {given!r})")
        return value


class _Typed(_Check):
    """A value of one Python type (a string; a flag, ``True`` or ``False``)."""

    __slots__ = ("kind", "wanted")

    def __init__(self, kind: type, wanted: str, optional: bool) -> None:
        super().__init__(optional)
        self.kind, self.wanted = kind, wanted

    def check(self, name: str, value):
        if not isinstance(value, self.kind):
            raise FieldError(name, f"must be {self.wanted} (got {value!r})")
        return value


class _Choice(_Check):
    __slots__ = ("options",)

    def __init__(self, options: Iterable[str], optional: bool) -> None:
        super().__init__(optional)
        self.options = tuple(options)

    @property
    def wanted(self) -> str:
        if len(self.options) == 1:
            return repr(self.options[0])
        return "one of " + ", ".join(repr(option) for option in self.options)

    def check(self, name: str, value):
        if value not in self.options:
            raise FieldError(name, f"must be {self.wanted} (got {value!r})")
        return value


class _Mapping(_Check):
    """A dict with string keys; each value checked by ``values`` where given (named ``field.key``)."""

    __slots__ = ("values",)

    def __init__(self, values: _Check | None, optional: bool) -> None:
        super().__init__(optional)
        self.values = values

    wanted = "a table"

    def check(self, name: str, value):
        if not isinstance(value, dict):
            raise FieldError(name, f"must be a table of names to values (got {value!r})")
        for key in value:
            if not isinstance(key, str):
                raise FieldError(name, f"keys must be strings (got {key!r})")
        if self.values is None:
            return dict(value)
        return {key: self.values(f"{name}.{key}", item) for key, item in value.items()}


def _field(check: _Check, default=MISSING, default_factory=MISSING):
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"check": check})


def number(*, gt: float | None = None, ge: float | None = None, lt: float | None = None,
           le: float | None = None, default=MISSING):
    """A finite real number, kept as ``float``; ``default=None`` makes ``None`` a valid value."""
    return _field(_Bounded(float, default is None, gt, ge, lt, le), default)


def integer(*, gt: int | None = None, ge: int | None = None, lt: int | None = None, le: int | None = None,
            default=MISSING):
    """An integer, kept as ``int``; ``default=None`` makes ``None`` a valid value."""
    return _field(_Bounded(int, default is None, gt, ge, lt, le), default)


def text(*, default=MISSING):
    """A string; ``default=None`` makes ``None`` a valid value."""
    return _field(_Typed(str, "a string", default is None), default)


def flag(*, default=MISSING):
    """``True`` or ``False``."""
    return _field(_Typed(bool, "true or false", False), default)


def choice(options: Iterable[str], *, default=MISSING):
    """One of ``options``; ``default=None`` makes ``None`` a valid value."""
    return _field(_Choice(options, default is None), default)


def mapping(values: dataclasses.Field | None = None, *, default_factory: Callable[[], dict] | None = None,
            optional: bool = False):
    """A dict with string keys, copied; ``values`` (a field declared with the constructors above, its
    default ignored) checks each value. Required unless ``default_factory`` is given; ``optional`` lets
    it be ``None``.
    """
    check = None if values is None else values.metadata["check"]
    return _field(_Mapping(check, optional), default_factory=MISSING if default_factory is None else default_factory)


def refuse_unknown(table: dict, names: Iterable[str]) -> None:
    """Raise `FieldError` on the first key of ``table`` not in ``names``, naming the closest of ``names``
    (``is not a known key; did you mean 'racks'?``) or, when none is close, all of them."""
    names = list(names)
    for key in table:
        if key not in names:
            import difflib  # only for the hint of an error

            close = difflib.get_close_matches(str(key), names, n=1)
            raise FieldError(str(key), "is not a known key; "
                             + (f"did you mean '{close[0]}'?" if close else f"known: {', '.join(names)}"))


def from_table(cls, table: dict):
    """``cls(**table)`` for a table a user wrote (a TOML table), ``cls`` a `spec`: a key ``cls`` does not
    declare, or a required one left out, raises `FieldError` naming it, as a wrong value does.

    An unknown key's message names the closest declared key (``is not a known key; did you mean
    'racks'?``) or, when none is close, every declared key; a missing one says what to give
    (``is required; give a string``). The caller prefixes the file and the table.
    """
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    refuse_unknown(table, names)
    required = cls.__record_spec__.required
    for name in names:
        if name in required and name not in table:
            check = dict(cls.__spec_checks__).get(name)
            raise FieldError(name, "is required" + (f"; give {check.wanted}" if check is not None else ""))
    return cls(**table)


def spec(cls=None, /, *, kw_only: bool = True):
    """Make ``cls`` a frozen `record` whose declared field checks run at construction.

    ``@spec`` or ``@spec(kw_only=False)``. The checks run in field order, before the class's own
    ``__post_init__`` (for checks across fields). A class without its own ``__hash__`` is hashed by its
    fields with mappings and lists frozen, so specs with dict fields can key caches.
    """
    def wrap(klass):
        own = klass.__dict__
        own_post = own.get("__post_init__")
        own_hash = own.get("__hash__") is not None
        made = record(klass, kw_only=kw_only)
        checks = tuple((f.name, f.metadata["check"]) for f in dataclasses.fields(made) if "check" in f.metadata)

        def __post_init__(self) -> None:
            state = self.__dict__
            for name, check in checks:
                state[name] = check(name, state[name])
            if own_post is not None:
                own_post(self)

        made.__post_init__ = __post_init__
        made.__spec_checks__ = checks
        if not own_hash:
            made.__hash__ = _frozen_hash
        return made
    return wrap if cls is None else wrap(cls)


def _frozen_hash(self) -> int:
    keys = type(self).__record_spec__.hashed
    return hash((type(self).__qualname__, *(_freeze(getattr(self, key)) for key in keys)))


def _freeze(value):
    if isinstance(value, dict):  # equal dicts hash alike whatever their order
        return frozenset((key, _freeze(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item) for item in value)
    return value
