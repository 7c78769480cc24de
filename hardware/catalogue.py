"""The hardware catalogue: shipped TOML entries plus the user's own, looked up by name.

Layout (shipped under ``hardware/data/``, and the same in any extra directory)::

    gpus/<name>.toml      one GPU          (schema: `hardware.schema.GpuFile`)
    systems/<name>.toml   one server/rack  (`SystemFile`)
    fabrics/<name>.toml   one fabric       (`FabricFile`)
    presets/<name>.toml   named overrides  (`PresetFile`), e.g. ``seed``

Recipe for a user entry: make a directory with a ``gpus/`` (or ``systems/``, ``fabrics/``)
subfolder, copy a shipped file there under the new name, edit it, and pass the directory as
``Catalogue(extra_dirs=[path])``. Entries from extra directories are added to the shipped ones
and replace a shipped entry of the same name; later directories win. The file name (without
``.toml``) must equal the entry's ``name``. A user entry needs a ``source`` line; per-key
``[sources]`` are optional for users and required (by test) for shipped entries.

Names are matched case-insensitively. Everything is loaded and cross-checked when the catalogue
is built, so a bad file fails at once with a `CatalogueError` naming the file and the key.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from hardware.errors import CatalogueError, validation_error
from hardware.schema import FabricFile, GpuFile, PresetFile, SystemFile, known_keys
from hardware.specs import TIERS, FabricSpec, GpuSpec, Hardware, PresetSpec, SystemSpec
from hardware.toml_file import read_toml

DATA_DIR = Path(__file__).parent / "data"
"""Shipped catalogue data (package data)."""

SECTIONS: dict[str, type[BaseModel]] = {
    "gpus": GpuFile,
    "systems": SystemFile,
    "fabrics": FabricFile,
    "presets": PresetFile,
}
"""Catalogue subfolders and the schema of the files in each."""

_NOUNS = {"gpus": "GPU", "systems": "system", "fabrics": "fabric", "presets": "preset"}


@functools.cache
def _package_root() -> Path:
    """The folder holding ``hardware/`` (resolved once: every catalogue file's display path needs it)."""
    return DATA_DIR.parent.parent.resolve()


def display_path(path: Path) -> str:
    """``hardware/data/...`` for shipped files, the path as given for user files."""
    try:
        return path.resolve().relative_to(_package_root()).as_posix()
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


class Catalogue:
    """GPUs, systems, fabrics and presets, shipped plus any extra directories.

    Args:
        extra_dirs: Directories laid out like ``hardware/data`` (``gpus/``, ``systems/``,
            ``fabrics/``, ``presets/``), loaded after the shipped data; their entries add to
            or replace shipped ones by name.

    Raises:
        CatalogueError: A directory is missing or has stray files, or any entry is invalid or
            refers to an entry that does not exist.
    """

    def __init__(self, extra_dirs: Iterable[Path | str] | Path | str = ()) -> None:
        self._entries: dict[str, dict[str, tuple[BaseModel, str]]] = {s: {} for s in SECTIONS}
        self._shipped_systems: list[str] = []
        self._load_dir(DATA_DIR)
        self._shipped_systems = list(self._entries["systems"])
        if isinstance(extra_dirs, (str, Path)):  # one directory given bare
            extra_dirs = [extra_dirs]
        self.extra_dirs: tuple[Path, ...] = tuple(Path(d) for d in extra_dirs)
        for directory in self.extra_dirs:
            self._load_dir(directory)
        self._gpus = self._specs("gpus")
        self._systems = self._specs("systems")
        self._fabrics = self._specs("fabrics")
        self._presets = self._specs("presets")
        self._check_references()

    # -- loading -------------------------------------------------------------------------------

    def _specs(self, section: str) -> dict:
        """The section's entries converted to SI specs; a value the conversion refuses names its file."""
        out = {}
        for key, (entry, where) in self._entries[section].items():
            try:
                out[key] = to_spec(entry)
            except ValidationError as exc:
                raise validation_error(exc, where, known_keys(type(entry))) from None
        return out

    def _load_dir(self, directory: Path) -> None:
        if not directory.is_dir():
            raise CatalogueError(f"catalogue directory '{directory}' does not exist")
        for stray in sorted(directory.glob("*.toml")):
            raise CatalogueError(
                f"{display_path(stray)}: catalogue files go in a subfolder: "
                f"{', '.join(s + '/' for s in SECTIONS)}"
            )
        for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
            if folder.name not in SECTIONS and any(folder.glob("*.toml")):
                close = difflib.get_close_matches(folder.name, SECTIONS, n=1)
                hint = f"; did you mean '{close[0]}/'?" if close else ""
                raise CatalogueError(
                    f"{display_path(folder)}: '{folder.name}/' is not a catalogue folder "
                    f"(use {', '.join(s + '/' for s in SECTIONS)}){hint}"
                )
        for section, schema in SECTIONS.items():
            seen: dict[str, Path] = {}
            for path in sorted((directory / section).glob("*.toml")):
                entry = load_file(path, schema)
                key = entry.name.lower()
                if key in seen:
                    raise CatalogueError(
                        f"{display_path(path)}: {_NOUNS[section]} '{entry.name}' is also "
                        f"defined in {seen[key].name}; keep one"
                    )
                seen[key] = path
                self._entries[section][key] = (entry, display_path(path))

    def _check_references(self) -> None:
        for key, system in self._systems.items():
            where = self._entries["systems"][key][1]
            if system.gpu.lower() not in self._gpus:
                raise CatalogueError(
                    f"{where}: field 'gpu' names unknown GPU '{system.gpu}'; "
                    f"{_closest(system.gpu, self.gpu_names())}"
                )
            for tier in TIERS:
                field = f"{tier}_fabric"
                name = getattr(system, field)
                if name.lower() not in self._fabrics:
                    raise CatalogueError(
                        f"{where}: field '{field}' names unknown fabric '{name}'; "
                        f"{_closest(name, self.fabric_names())}"
                    )
        for key, preset in self._presets.items():
            where = self._entries["presets"][key][1]
            for gpu in preset.sustained_decode_flop_per_s:
                if gpu not in self._gpus:
                    raise CatalogueError(
                        f"{where}: field 'sustained_decode_tflops.{gpu}' names unknown GPU; "
                        f"{_closest(gpu, self.gpu_names())}"
                    )

    # -- lookups -------------------------------------------------------------------------------

    def gpu(self, name: str, preset: str | None = None) -> GpuSpec:
        """The GPU called ``name``, optionally with a preset applied.

        Args:
            name: GPU name, any case.
            preset: A preset name (e.g. ``"seed"``: the seed simulator's sustained decode
                FLOP/s) to set `GpuSpec.sustained_decode_flop_per_s`; ``None`` (the default)
                leaves it unset. A GPU the preset does not list comes back unchanged.

        Raises:
            CatalogueError: Unknown GPU or preset.
        """
        spec = _lookup(self._gpus, self._gpu_key(name), "GPU")
        if preset is None:
            return spec
        chosen = self.preset(preset)
        flop_per_s = chosen.sustained_decode_flop_per_s.get(spec.name.lower())
        if flop_per_s is None:
            return spec
        source = f"preset '{chosen.name}': {chosen.sources[spec.name.lower()]}"
        return spec.with_sustained_decode(flop_per_s, source=source)

    def _gpu_key(self, name: str) -> str:
        """A GPU's catalogue key; a short name (``h200``) stands for the one GPU whose name is it plus a
        form-factor suffix (``h200-sxm``) when exactly one GPU has that prefix."""
        key = name.strip().lower()
        if key in self._gpus:
            return key
        family = [k for k in self._gpus if k.split("-")[0] == key]
        return family[0] if len(family) == 1 else key

    def system(self, name: str) -> SystemSpec:
        """The system called ``name`` (any case). Raises `CatalogueError` if unknown."""
        return _lookup(self._systems, name, "system")

    def fabric(self, name: str) -> FabricSpec:
        """The fabric called ``name`` (any case). Raises `CatalogueError` if unknown."""
        return _lookup(self._fabrics, name, "fabric")

    def preset(self, name: str) -> PresetSpec:
        """The preset called ``name`` (any case). Raises `CatalogueError` if unknown."""
        return _lookup(self._presets, name, "preset")

    def hardware(self, name: str, *, preset: str | None = None, fabric: str = "default") -> Hardware:
        """Resolve a system, or a GPU's default system, into `Hardware`.

        Args:
            name: A system name, or a GPU name (or its short name, ``"h200"``) meaning the first shipped
                system built from it (``"h200-sxm"`` -> ``hgx-h200``, ``"gb200"`` -> ``gb200-nvl72``); for a GPU with
                no shipped system, the first system from the extra directories.
            preset: Passed to `gpu`.
            fabric: ``"default"`` keeps the system's fabrics; a fabric name puts every tier on
                that fabric (`with_fabric`).

        Raises:
            CatalogueError: Unknown name, preset or fabric, or a GPU with no system.
        """
        key = name.strip().lower()
        if key not in self._systems:
            key = self._gpu_key(key)
        if key in self._systems:
            system = self._systems[key]
        elif key in self._gpus:
            system = self._default_system(key)
        else:
            raise CatalogueError(
                f"unknown system or GPU '{name}'; "
                f"{_closest(name, [*self.system_names(), *self.gpu_names()])}"
            )
        hardware = Hardware(
            system=system,
            gpu=self.gpu(system.gpu, preset=preset),
            fabrics={tier: self.fabric(getattr(system, f"{tier}_fabric")) for tier in TIERS},
        )
        return self.with_fabric(hardware, fabric)

    def with_fabric(self, hardware: Hardware, fabric: str | FabricSpec) -> Hardware:
        """``hardware`` with every tier on one fabric: the "400 GbE everywhere" what-if.

        Args:
            hardware: A resolved system.
            fabric: A `FabricSpec`, or a fabric name looked up in this catalogue (shipped or
                extra directories); ``"default"`` returns ``hardware`` unchanged.

        Raises:
            CatalogueError: The name is not a known fabric.
        """
        if isinstance(fabric, str):
            if fabric.strip().lower() == "default":
                return hardware
            fabric = self.fabric(fabric)
        return hardware.with_fabric(fabric)

    def _default_system(self, gpu_key: str) -> SystemSpec:
        user_order = [k for k in self._systems if k not in self._shipped_systems]
        for key in [*self._shipped_systems, *user_order]:
            if self._systems[key].gpu.lower() == gpu_key:
                return self._systems[key]
        raise CatalogueError(
            f"GPU '{self._gpus[gpu_key].name}' has no system; add a systems/<name>.toml "
            f"with gpu = \"{self._gpus[gpu_key].name}\" or name a system"
        )

    def gpu_names(self) -> list[str]:
        """GPU names, shipped first, then user entries."""
        return [spec.name for spec in self._gpus.values()]

    def system_names(self) -> list[str]:
        """System names, shipped first, then user entries."""
        return [spec.name for spec in self._systems.values()]

    def fabric_names(self) -> list[str]:
        """Fabric names, shipped first, then user entries."""
        return [spec.name for spec in self._fabrics.values()]

    def preset_names(self) -> list[str]:
        """Preset names."""
        return [spec.name for spec in self._presets.values()]

    def source_file(self, kind: str, name: str) -> str:
        """The file an entry came from, for messages: ``kind`` is ``"gpus"``, ``"systems"``, ...

        Raises:
            CatalogueError: Unknown kind or name.
        """
        if kind not in SECTIONS:
            raise CatalogueError(f"unknown catalogue kind '{kind}'; use one of {', '.join(SECTIONS)}")
        entries = {key: where for key, (_, where) in self._entries[kind].items()}
        return _lookup(entries, name, _NOUNS[kind])


def _lookup(table: dict, name: str, noun: str):
    key = name.strip().lower()
    if key not in table:
        names = [getattr(value, "name", k) for k, value in table.items()]
        raise CatalogueError(f"unknown {noun} '{name}'; {_closest(name, names)}")
    return table[key]


def _closest(name: str, names: Sequence[str]) -> str:
    """``closest: a, b`` (substring matches first, then difflib), or ``known: ...``."""
    key = name.strip().lower()
    lowered = {n.lower(): n for n in names}
    picks = [n for k, n in lowered.items() if key and (key in k or k in key)]
    picks += [lowered[k] for k in difflib.get_close_matches(key, list(lowered), n=3, cutoff=0.5)]
    picks = list(dict.fromkeys(picks))[:3]
    if picks:
        return "closest: " + ", ".join(picks)
    return "known: " + (", ".join(names) if names else "none")


@functools.lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The shipped catalogue, built once per process."""
    return Catalogue()
