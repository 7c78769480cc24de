"""``@record``: a frozen dataclass whose methods are shared functions, not code generated per class.

``dataclasses.dataclass(frozen=True)`` writes the source of six methods per class (``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``) and compiles each: 0.5-0.9 ms a
class on a 2-core EPYC, 30-40 ms of a ``rackplan plan`` for the ~55 records it imports (timed around
``dataclasses._process_class`` while ``planner.cli.plan`` loads); a record takes ~0.05-0.09 ms.
``@record`` asks ``dataclass`` for the fields alone (``init``, ``repr`` and ``eq`` off: nothing
compiled) and sets shared methods that read them, so a record is a dataclass to ``fields``,
``replace``, ``asdict`` and ``is_dataclass``, and behaves as ``dataclass(frozen=True)`` makes it:
frozen (assignment raises ``FrozenInstanceError``), compared and hashed by its fields (those with
``compare``; ``hash`` as ``dataclass`` picks them), shown as ``Name(field=value, ...)``; a method the
class defines itself is kept. Arguments bind as ``dataclass``'s ``__init__`` binds them: the fields
that are not keyword-only by position in field order, every field by keyword, defaults and
``default_factory`` filled in, ``field(init=False)`` fields set from their default, then
``__post_init__`` when the class has one. ``InitVar`` and ``slots`` are not supported. Creating an
instance costs a few microseconds more than a generated ``__init__`` (a loop over the fields).
"""

from __future__ import annotations

import dataclasses
import reprlib
from dataclasses import MISSING, FrozenInstanceError


def record(cls=None, /, *, kw_only: bool = False):
    """Make ``cls`` a frozen record: ``@record`` or ``@record(kw_only=True)``, as ``@dataclass(frozen=True, ...)``."""
    def wrap(klass):
        return _make(klass, kw_only)
    return wrap if cls is None else wrap(cls)


class _Spec:
    """What the shared methods read of one record class."""
    __slots__ = ("name", "positional", "names", "required", "defaults", "unset", "compare", "hashed", "shown")

    def __init__(self, cls) -> None:
        fields = dataclasses.fields(cls)
        init = [f for f in fields if f.init]
        self.name = cls.__qualname__
        self.positional = tuple(f.name for f in init if not f.kw_only)
        self.names = frozenset(f.name for f in init)
        self.required = frozenset(f.name for f in init if _default(f) is MISSING)
        self.defaults = tuple((f.name, _default(f)) for f in init if _default(f) is not MISSING)
        self.unset = tuple((f.name, _default(f)) for f in fields if not f.init and _default(f) is not MISSING)
        self.compare = tuple(f.name for f in fields if f.compare)
        self.hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
        self.shown = tuple(f.name for f in fields if f.repr)


class _Factory:
    """A ``default_factory``, called for each instance."""
    __slots__ = ("make",)

    def __init__(self, make) -> None:
        self.make = make


def _default(f: dataclasses.Field):
    if f.default is not MISSING:
        return f.default
    return MISSING if f.default_factory is MISSING else _Factory(f.default_factory)


def _make(cls, kw_only: bool):
    dataclasses.dataclass(cls, init=False, repr=False, eq=False, kw_only=kw_only)
    own = cls.__dict__
    # dataclass's rule: a __hash__ of the class's own is kept (``__hash__ = None`` beside its own __eq__ is Python's)
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    cls.__record_spec__ = _Spec(cls)
    for name, method in (("__init__", _init), ("__repr__", _repr), ("__eq__", _eq)):
        if name not in own:
            setattr(cls, name, method)
    if not explicit_hash:
        cls.__hash__ = _hash
    cls.__setattr__ = _frozen_setattr
    cls.__delattr__ = _frozen_delattr
    return cls


def _init(self, *args, **kwargs) -> None:
    spec = type(self).__record_spec__
    state = self.__dict__
    if len(args) > len(spec.positional):
        raise TypeError(f"{spec.name}.__init__() takes {len(spec.positional) + 1} positional arguments but "
                        f"{len(args) + 1} were given")
    state.update(zip(spec.positional, args))
    for key in kwargs:
        if key not in spec.names:
            raise TypeError(f"{spec.name}.__init__() got an unexpected keyword argument '{key}'")
        if key in state:
            raise TypeError(f"{spec.name}.__init__() got multiple values for argument '{key}'")
    state.update(kwargs)
    if len(state) != len(spec.names):
        for key, default in spec.defaults:
            if key not in state:
                state[key] = default.make() if type(default) is _Factory else default
        missing = [key for key in spec.required if key not in state]
        if missing:
            raise TypeError(f"{spec.name}.__init__() missing {len(missing)} required argument(s): "
                            + ", ".join(f"'{key}'" for key in sorted(missing)))
    for key, default in spec.unset:
        state[key] = default.make() if type(default) is _Factory else default
    post = getattr(self, "__post_init__", None)
    if post is not None:
        post()


@reprlib.recursive_repr()
def _repr(self) -> str:
    shown = type(self).__record_spec__.shown
    return f"{type(self).__qualname__}({', '.join(f'{key}={getattr(self, key)!r}' for key in shown)})"


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    keys = type(self).__record_spec__.compare
    return tuple(getattr(self, key) for key in keys) == tuple(getattr(other, key) for key in keys)


def _hash(self) -> int:
    return hash(tuple(getattr(self, key) for key in type(self).__record_spec__.hashed))


def _frozen_setattr(self, name: str, value) -> None:
    raise FrozenInstanceError(f"cannot assign to field '{name}'")


def _frozen_delattr(self, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field '{name}'")
