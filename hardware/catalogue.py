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

Names are matched case-insensitively. The user's entries (extra directories) are loaded and
cross-checked when the catalogue is built, so a bad file fails at once with a `CatalogueError`
naming the file and the key. A shipped entry is read when it is first used (a plan reads its one
system, GPU and fabrics, not the ~30 files of the catalogue), with the same checks and the same
message; `Catalogue.load_all` reads every entry (the listings and ``show`` do), and
``tests/hardware/test_hw_catalogue_data.py`` checks the shipped files.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path

from hardware.entry_file import DATA_DIR, SECTIONS, cached_spec, display_path, keep_spec, load_file, to_spec
from hardware.errors import CatalogueError
from hardware.specs import TIERS, FabricSpec, GpuSpec, Hardware, PresetSpec, SystemSpec
from specbase.checks import FieldError

_NOUNS = {"gpus": "GPU", "systems": "system", "fabrics": "fabric", "presets": "preset"}


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
        # section -> key -> (validated file entry, or None for a shipped file not read yet; its path)
        self._entries: dict[str, dict[str, tuple[object | None, Path]]] = {
            section: {key: (None, path) for key, path in files} for section, files in _shipped_files().items()}
        self._shipped_systems: list[str] = list(self._entries["systems"])
        self._specs: dict[str, dict] = {s: {} for s in SECTIONS}  # section -> key -> converted, checked spec
        if isinstance(extra_dirs, (str, Path)):  # one directory given bare
            extra_dirs = [extra_dirs]
        self.extra_dirs: tuple[Path, ...] = tuple(Path(d) for d in extra_dirs)
        for directory in self.extra_dirs:
            self._load_dir(directory)
        for section in SECTIONS:  # the user's entries: converted now, then cross-checked (the order of checks)
            for key, (entry, _) in self._entries[section].items():
                if entry is not None:
                    self._convert(section, key)
        for section in ("systems", "presets"):
            for key, (entry, _) in self._entries[section].items():
                if entry is not None:
                    self._check_references(section, key)

    # -- loading -------------------------------------------------------------------------------

    def _convert(self, section: str, key: str):
        """The entry's SI spec (read first if it is a shipped file not read yet); a value the conversion
        refuses names its file."""
        spec = self._specs[section].get(key)
        if spec is not None:
            return spec
        entry, path = self._entries[section][key]
        shipped = entry is None
        if shipped:  # a shipped file converted by an earlier run comes back as it was, unvalidated
            spec = cached_spec(section, path)
            if spec is not None:
                self._specs[section][key] = spec
                return spec
            entry = load_file(path, SECTIONS[section])
            self._entries[section][key] = (entry, path)
        try:
            spec = to_spec(entry)
        except FieldError as exc:  # a converted value the spec refuses (the file's checks let it by)
            raise CatalogueError(f"{display_path(path)}: {exc}") from None
        if shipped:
            keep_spec(section, path, spec)
        self._specs[section][key] = spec
        return spec

    def _get(self, section: str, key: str):
        """The spec of an existing ``key``, read, converted and cross-checked on first use."""
        if key in self._specs[section]:
            return self._specs[section][key]
        self._convert(section, key)
        self._check_references(section, key)
        return self._specs[section][key]

    def _all(self, section: str) -> dict:
        """Every entry of ``section``, key -> spec, in catalogue order."""
        return {key: self._get(section, key) for key in self._entries[section]}

    def load_all(self) -> Catalogue:
        """Read, convert and cross-check every entry (shipped ones included); returns the catalogue."""
        for section in SECTIONS:
            self._all(section)
        return self

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
                import difflib  # only for the hint of an error

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
                _refuse_duplicate(section, entry.name, path, seen.get(key))
                seen[key] = path
                self._entries[section][key] = (entry, path)
                self._specs[section].pop(key, None)

    def _check_references(self, section: str, key: str) -> None:
        """A system's GPU and fabrics, a preset's GPUs, must be catalogue entries."""
        where = display_path(self._entries[section][key][1])
        if section == "systems":
            system = self._specs[section][key]
            if system.gpu.lower() not in self._entries["gpus"]:
                raise CatalogueError(
                    f"{where}: field 'gpu' names unknown GPU '{system.gpu}'; "
                    f"{_closest(system.gpu, self.gpu_names())}"
                )
            for tier in TIERS:
                field = f"{tier}_fabric"
                name = getattr(system, field)
                if name.lower() not in self._entries["fabrics"]:
                    raise CatalogueError(
                        f"{where}: field '{field}' names unknown fabric '{name}'; "
                        f"{_closest(name, self.fabric_names())}"
                    )
        elif section == "presets":
            for gpu in self._specs[section][key].sustained_decode_flop_per_s:
                if gpu not in self._entries["gpus"]:
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
        spec = self._lookup("gpus", self._gpu_key(name))
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
        if key in self._entries["gpus"]:
            return key
        family = [k for k in self._entries["gpus"] if k.split("-")[0] == key]
        return family[0] if len(family) == 1 else key

    def system(self, name: str) -> SystemSpec:
        """The system called ``name`` (any case). Raises `CatalogueError` if unknown."""
        return self._lookup("systems", name)

    def fabric(self, name: str) -> FabricSpec:
        """The fabric called ``name`` (any case). Raises `CatalogueError` if unknown."""
        return self._lookup("fabrics", name)

    def preset(self, name: str) -> PresetSpec:
        """The preset called ``name`` (any case). Raises `CatalogueError` if unknown."""
        return self._lookup("presets", name)

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
        if key not in self._entries["systems"]:
            key = self._gpu_key(key)
        if key in self._entries["systems"]:
            system = self._get("systems", key)
        elif key in self._entries["gpus"]:
            system = self._default_system(key)
        else:
            raise CatalogueError(
                f"unknown system or GPU '{name}'; "
                f"{_closest(name, [*self.system_names(), *self.gpu_names()])}"
            )
        hardware = Hardware.of(
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
        user_order = [k for k in self._entries["systems"] if k not in self._shipped_systems]
        for key in [*self._shipped_systems, *user_order]:  # read in this order until one matches
            if self._get("systems", key).gpu.lower() == gpu_key:
                return self._get("systems", key)
        gpu = self._get("gpus", gpu_key).name
        raise CatalogueError(
            f"GPU '{gpu}' has no system; add a systems/<name>.toml "
            f"with gpu = \"{gpu}\" or name a system"
        )

    def gpu_names(self) -> list[str]:
        """GPU names, shipped first, then user entries."""
        return [spec.name for spec in self._all("gpus").values()]

    def system_names(self) -> list[str]:
        """System names, shipped first, then user entries."""
        return [spec.name for spec in self._all("systems").values()]

    def fabric_names(self) -> list[str]:
        """Fabric names, shipped first, then user entries."""
        return [spec.name for spec in self._all("fabrics").values()]

    def preset_names(self) -> list[str]:
        """Preset names."""
        return [spec.name for spec in self._all("presets").values()]

    def source_file(self, kind: str, name: str) -> str:
        """The file an entry came from, for messages: ``kind`` is ``"gpus"``, ``"systems"``, ...

        Raises:
            CatalogueError: Unknown kind or name.
        """
        if kind not in SECTIONS:
            raise CatalogueError(f"unknown catalogue kind '{kind}'; use one of {', '.join(SECTIONS)}")
        key = name.strip().lower()
        if key not in self._entries[kind]:
            raise CatalogueError(f"unknown {_NOUNS[kind]} '{name}'; {_closest(name, list(self._entries[kind]))}")
        return display_path(self._entries[kind][key][1])

    def _lookup(self, section: str, name: str):
        """The spec called ``name`` (any case) in ``section``; unknown: the closest names (every entry read)."""
        key = name.strip().lower()
        if key not in self._entries[section]:
            names = [spec.name for spec in self._all(section).values()]
            raise CatalogueError(f"unknown {_NOUNS[section]} '{name}'; {_closest(name, names)}")
        return self._get(section, key)


def _refuse_duplicate(section: str, name: str, path: Path, seen: Path | None) -> None:
    """Two files of one directory defining one entry (names differing only in case)."""
    if seen is not None:
        raise CatalogueError(f"{display_path(path)}: {_NOUNS[section]} '{name}' is also defined in {seen.name}; "
                             "keep one")


@functools.cache
def _shipped_files() -> dict[str, list[tuple[str, Path]]]:
    """The shipped entries, section -> [(key, file)] in name order, found by file name (read on first use);
    two files of one name (in different case) are read to report it as the user's would be."""
    out = {}
    for section in SECTIONS:
        seen: dict[str, Path] = {}
        for path in sorted((DATA_DIR / section).glob("*.toml")):
            key = path.stem.lower()
            if key in seen:
                _refuse_duplicate(section, load_file(path, SECTIONS[section]).name, path, seen[key])
            seen[key] = path
        out[section] = list(seen.items())
    return out


def _closest(name: str, names: Sequence[str]) -> str:
    """``closest: a, b`` (substring matches first, then difflib), or ``known: ...``."""
    key = name.strip().lower()
    lowered = {n.lower(): n for n in names}
    picks = [n for k, n in lowered.items() if key and (key in k or k in key)]
    import difflib  # only for the hint of an error

    picks += [lowered[k] for k in difflib.get_close_matches(key, list(lowered), n=3, cutoff=0.5)]
    picks = list(dict.fromkeys(picks))[:3]
    if picks:
        return "closest: " + ", ".join(picks)
    return "known: " + (", ".join(names) if names else "none")


@functools.lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The shipped catalogue, built once per process."""
    return Catalogue()
