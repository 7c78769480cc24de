"""One catalogue file read and validated, cached by content: the loader under `hardware.catalogue`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError

from hardware.errors import CatalogueError, validation_error
from hardware.schema import FabricFile, GpuFile, PresetFile, SystemFile, known_keys
from hardware.toml_file import PACKAGE_ROOT, read_toml

DATA_DIR = Path(__file__).parent / "data"
"""Shipped catalogue data (package data)."""

SECTIONS: dict[str, type[BaseModel]] = {
    "gpus": GpuFile,
    "systems": SystemFile,
    "fabrics": FabricFile,
    "presets": PresetFile,
}
"""Catalogue subfolders and the schema of the files in each."""

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
    try:
        entry = schema.model_validate(raw)
    except ValidationError as exc:
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
