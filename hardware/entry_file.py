"""One catalogue file read and validated, cached by content: the loader under `hardware.catalogue`.

A shipped file's converted spec is kept too, beside its parsed TOML (`hardware.toml_file`'s cache),
keyed by the file's bytes and by the code that validates and converts it (``schema.py``, ``specs.py``):
a later run builds the spec from that record (`cached_spec`) without validating it again, so a plan
that reads only shipped entries builds neither the file schemas (``hardware.schema``, imported on
first use) nor their validators, and loads no pydantic. The record holds the validated spec's fields, and
the spec is built from them with its declared checks (`specbase.checks`: tens of microseconds), so the
spec it gives is the one validation gave (``tests/hardware/test_hw_spec_cache.py``) and a record that
fails them is passed by. The user's files are validated every time.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from hardware import toml_file
from hardware.errors import CatalogueError, validation_error
from hardware.specs import FabricSpec, GpuSpec, PresetSpec, SystemSpec
from hardware.toml_file import PACKAGE_ROOT, read_toml
from specbase.checks import FieldError

if TYPE_CHECKING:  # the file schemas are pydantic models, imported when a file is validated
    from pydantic import BaseModel

DATA_DIR = Path(__file__).parent / "data"
"""Shipped catalogue data (package data)."""


class _Sections(Mapping):
    """Catalogue subfolder -> the schema of its files, imported on first use (``hardware.schema``)."""

    _NAMES = {"gpus": "GpuFile", "systems": "SystemFile", "fabrics": "FabricFile", "presets": "PresetFile"}

    def __getitem__(self, section: str) -> type[BaseModel]:
        from hardware import schema
        return getattr(schema, self._NAMES[section])

    def __iter__(self) -> Iterator[str]:
        return iter(self._NAMES)

    def __len__(self) -> int:
        return len(self._NAMES)


SECTIONS: Mapping[str, type[BaseModel]] = _Sections()
"""Catalogue subfolders and the schema of the files in each."""

SPECS: dict[str, type] = {"gpus": GpuSpec, "systems": SystemSpec, "fabrics": FabricSpec, "presets": PresetSpec}
"""The SI spec a file of each subfolder converts to."""

_FIELDS: dict[str, tuple[str, ...]] = {section: tuple(f.name for f in dataclasses.fields(kind))
                                       for section, kind in SPECS.items()}
"""Each section's spec fields, in order: a kept record must hold exactly these."""


def display_path(path: Path) -> str:
    """``hardware/data/...`` for shipped files, the path as given for user files."""
    try:
        return path.resolve().relative_to(PACKAGE_ROOT).as_posix()
    except ValueError:
        return str(path)


# One parse per file content: (schema, display path, bytes) -> the validated entry and, once converted,
# its spec. A compare or sweep builds a catalogue per scenario; each re-reads the files (an edit is
# seen at once) but validates only what changed. Only successes are kept: a bad file fails every time.
_PARSED: dict[tuple, list] = {}


def load_file(path: Path, schema: type[BaseModel]) -> BaseModel:
    """Parse and validate one catalogue file (no conversion, no cross-checks).

    Args:
        path: The TOML file.
        schema: One of the `SECTIONS` schemas.

    Raises:
        CatalogueError: Unreadable file, TOML syntax error (with line), schema violation, or a
            ``name`` that differs from the file name.
    """
    where = display_path(path)
    try:
        key = (schema, where, path.read_bytes())
    except OSError:  # read_toml below says why, in the catalogue's words
        key = None
    if key in _PARSED:
        return _PARSED[key][0]
    raw = read_toml(path, CatalogueError, "the file", where, invalid="invalid TOML")
    from pydantic import ValidationError  # loaded with the schema, which validates the file

    try:
        entry = schema.model_validate(raw)
    except ValidationError as exc:
        from hardware.schema import known_keys
        raise validation_error(exc, where, known_keys(schema)) from None
    if entry.name.lower() != path.stem.lower():
        raise CatalogueError(
            f"{where}: field 'name' is '{entry.name}' but the file is {path.name}; "
            f"rename the file to {entry.name}.toml or change the name"
        )
    if key is not None:
        _PARSED[key] = [entry, None]
        _CACHED[id(entry)] = _PARSED[key]
    return entry


# id of a cached entry -> its `_PARSED` record (the record holds the entry, so the id stays its own)
_CACHED: dict[int, list] = {}


def to_spec(entry: BaseModel):
    """``entry.to_spec()``, converted once per cached entry."""
    record = _CACHED.get(id(entry))
    if record is None or record[0] is not entry:
        return entry.to_spec()
    if record[1] is None:
        record[1] = entry.to_spec()
    return record[1]


def cached_spec(section: str, path: Path):
    """The spec of the shipped file ``path`` from its record, or ``None`` (no record for these bytes and this
    code, a file outside the package, or the cache off or unreadable)."""
    slot, content = _spec_slot(path)
    if (section, content) in _SPECS:
        return _SPECS[section, content]
    record = toml_file.cached(slot, content)
    fields = None if record is None else record.get("fields")
    if not isinstance(fields, dict) or tuple(fields) != _FIELDS[section]:  # not a record this code wrote
        return None
    try:
        spec = SPECS[section](**fields)
    except (FieldError, TypeError):  # a record the spec's checks refuse: validate the file instead
        return None
    _SPECS[section, content] = spec
    return spec


def keep_spec(section: str, path: Path, spec) -> None:
    """Record the validated ``spec`` of the shipped file ``path`` for `cached_spec` (nothing for other files)."""
    slot, content = _spec_slot(path)
    if slot is not None:
        _SPECS[section, content] = spec
        toml_file.store(slot, content, {"fields": dataclasses.asdict(spec)})


# (section, the bytes a record is keyed by) -> its spec: one spec object per shipped file per process, as a
# validated entry converts once (`to_spec`), whichever catalogue reads it
_SPECS: dict[tuple[str, bytes], object] = {}


def _spec_slot(path: Path) -> tuple[Path | None, bytes]:
    """The record's file and the bytes it is keyed by (the file's, then the converting code's)."""
    return toml_file.record_slot(path, ".spec.json", _code())


@functools.cache
def _code() -> bytes:
    """The source of the modules that validate a file and convert it to its spec."""
    here = Path(__file__).parent
    return b"".join((here / name).read_bytes() for name in ("schema.py", "specs.py"))
