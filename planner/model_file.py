"""A catalogue model's spec from a record of it, as the hardware catalogue keeps its entries' specs.

``models.catalogue.model`` parses ``models/data/SOURCES.toml`` (``tomllib``: ~7 ms to import), validates it with
pydantic (its file schema, ``models.sources_schema``: importing pydantic and building the validator, 0.03-0.06 s on
a 2-core EPYC) and reads the model's ``config.json`` into a checked spec, the same work on the same bytes in every
process. `model` asks it once per content and keeps what it found in the
package's cache folder (``hardware.toml_file``: ``$RACKPLAN_CACHE_DIR``, ``RACKPLAN_CACHE_DIR=`` turns it off):
the catalogue's lookup keys (one record, keyed by ``SOURCES.toml`` and the code that reads it) and each model's
validated spec (keyed by those and its ``config.json``), so an edit to any of them is validated again. A record is
kept only when the spec rebuilt from it is the validated one, field for field and type for type; anything not a
catalogue model (a path, a Hugging Face id in the local hub cache, an unknown name) takes
``models.catalogue.model`` every time, errors included.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

from hardware import toml_file
from models import catalogue
from models.errors import ModelError
from models.spec import MlaSpec, ModelSpec, MoeSpec

_NESTED = {"moe": MoeSpec, "mla": MlaSpec}


def model(name_or_path: str | Path) -> ModelSpec:
    """``models.catalogue.model(name_or_path)``; a catalogue model from its record when one holds it."""
    if isinstance(name_or_path, Path):
        return catalogue.model(name_or_path)
    key = name_or_path.strip().lower()
    index_slot, index_content = _slot(catalogue.SOURCES_FILE, ".index.json")
    names = toml_file.cached(index_slot, index_content)
    name = names["names"].get(key) if isinstance(names, dict) and isinstance(names.get("names"), dict) else None
    if name in _KEPT:
        return _KEPT[name]
    spec = None if name is None else _rebuild(name, names.get("files", {}).get(name), index_content)
    if spec is None:
        spec = catalogue.model(name_or_path)
        name = _keep(key, spec, index_slot, index_content)
    if name is not None:
        _KEPT[name] = spec
    return spec


_KEPT: dict[str, ModelSpec] = {}  # catalogue name -> spec: one object per catalogue model per process


def _keep(key: str, spec: ModelSpec, index_slot: Path | None, index_content: bytes) -> str | None:
    """Record the catalogue's lookup keys and ``spec``; the catalogue name ``key`` resolves to, or None when it is
    not a catalogue model's."""
    try:
        entry = catalogue.catalogue_entry(key)
    except ModelError:
        return None
    if entry.name != spec.name:
        return None
    files = {n: catalogue.catalogue_entry(n).file for n in catalogue.model_names()}
    toml_file.store(index_slot, index_content, {"names": catalogue.lookup_keys(), "files": files})
    rebuilt = _from_record(json.loads(json.dumps(_record(spec))))  # what a later process reads back
    if rebuilt is not None and _exact(rebuilt, spec):  # else: a spec JSON cannot give back, validated every time
        slot, content = _slot(catalogue.DATA_DIR / entry.file, ".spec.json")
        toml_file.store(slot, content + index_content, _record(spec))
    return entry.name


def _rebuild(name: str, file: str | None, index_content: bytes) -> ModelSpec | None:
    if not isinstance(file, str):
        return None
    slot, content = _slot(catalogue.DATA_DIR / file, ".spec.json")
    record = toml_file.cached(slot, content + index_content)
    spec = None if record is None else _from_record(record)
    return spec if spec is not None and spec.name == name else None


def _record(spec: ModelSpec) -> dict:
    """The spec as JSON can hold it: its fields, the nested specs' fields and the fields that are tuples."""
    out = {"fields": {}, "tuples": [], "nested": {}}
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if field.name in _NESTED and value is not None:
            out["nested"][field.name] = dataclasses.asdict(value)
        else:
            out["fields"][field.name] = value
            if isinstance(value, tuple):
                out["tuples"].append(field.name)
    return out


def _from_record(record: dict) -> ModelSpec | None:
    """The spec a record holds (its field checks run again: microseconds); None for another shape."""
    try:
        fields = dict(record["fields"])
        for field in record["tuples"]:
            fields[field] = tuple(fields[field])
        for field, nested in record["nested"].items():
            fields[field] = _NESTED[field](**nested)
        if set(fields) != {f.name for f in dataclasses.fields(ModelSpec)}:
            return None
        return ModelSpec(**fields)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _exact(rebuilt: ModelSpec, spec: ModelSpec) -> bool:
    """The same spec, and no value of another type (1 for 1.0, a list for a tuple)."""
    dump = json.dumps(dataclasses.asdict(spec), sort_keys=True, allow_nan=True)
    return rebuilt == spec and json.dumps(dataclasses.asdict(rebuilt), sort_keys=True, allow_nan=True) == dump \
        and all(type(getattr(rebuilt, f.name)) is type(getattr(spec, f.name)) for f in dataclasses.fields(spec))


def _slot(path: Path, suffix: str) -> tuple[Path | None, bytes]:
    """The record's file beside ``path``'s parsed copy and the bytes it is keyed by (the file's, then the code's)."""
    return toml_file.record_slot(path, suffix, _code())


@functools.cache
def _code() -> bytes:
    """The source of the modules that read the catalogue and validate a config (a change is validated again)."""
    here = Path(catalogue.__file__).parent
    return b"".join((here / name).read_bytes() for name in ("catalogue.py", "sources_schema.py", "hf.py", "spec.py"))
