"""The model catalogue: HF ``config.json`` copies shipped in ``models/data``.

Adding a model is adding its ``config.json`` to ``models/data`` and a ``[[model]]`` table to
``models/data/SOURCES.toml`` (name, HF id, provenance); no code changes.

:func:`model` resolves, in order: a catalogue name, an HF id or alias, or the repository part
of an HF id (all case-insensitive), then a path to any ``config.json`` or its folder.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import ModelError
from models.hf import load_hf_config
from models.hf_cache import cached_config
from models.spec import ModelSpec

if TYPE_CHECKING:  # the file's pydantic schema, imported when the file is parsed
    from models.sources_schema import CatalogueEntry, Sources

DATA_DIR = Path(__file__).resolve().parent / "data"
SOURCES_FILE = DATA_DIR / "SOURCES.toml"


@lru_cache(maxsize=1)
def sources() -> Sources:
    """Parse and check ``models/data/SOURCES.toml``.

    Raises:
        ModelError: malformed TOML, a schema violation, or a missing data file.
    """
    import tomllib  # pure Python, ~7 ms to import: a plan of a catalogue model takes its record instead

    from models.sources_schema import validate  # pydantic: only when the file is parsed

    try:
        raw = tomllib.loads(SOURCES_FILE.read_text(encoding="utf-8"))
        parsed = validate(raw, str(SOURCES_FILE))
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{SOURCES_FILE}: malformed TOML ({exc}); fix the syntax") from None
    for entry in parsed.model:
        if not (DATA_DIR / entry.file).is_file():
            raise ModelError(
                f"{SOURCES_FILE}: model '{entry.name}' names missing file '{entry.file}'"
            )
    return parsed


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    """Lower-cased lookup key -> catalogue name (names, HF ids, aliases, repo parts)."""
    index: dict[str, str] = {}
    for entry in sources().model:
        keys = {entry.name, entry.hf_id, *entry.hf_aliases}
        keys |= {k.split("/", 1)[1] for k in (entry.hf_id, *entry.hf_aliases)}
        for key in keys:
            key = key.lower()
            if index.get(key, entry.name) != entry.name:
                raise ModelError(
                    f"{SOURCES_FILE}: '{key}' names both '{index[key]}' and '{entry.name}'; "
                    "make names and HF ids unique"
                )
            index[key] = entry.name
    return index


def lookup_keys() -> dict[str, str]:
    """Each lower-cased key :func:`model` finds a catalogue model by (name, HF id, alias, repo part) -> its name."""
    return dict(_index())


def model_names() -> tuple[str, ...]:
    """Catalogue names, in ``SOURCES.toml`` order."""
    return tuple(entry.name for entry in sources().model)


def catalogue_entry(name: str) -> CatalogueEntry:
    """Provenance of a catalogue model, looked up like :func:`model` (no paths)."""
    key = _index().get(name.strip().lower())
    if key is None:
        raise _unknown(name)
    return next(entry for entry in sources().model if entry.name == key)


@cache
def _load_entry(name: str) -> ModelSpec:
    entry = next(e for e in sources().model if e.name == name)
    source = entry.source(sources().snapshot)
    return load_hf_config(DATA_DIR / entry.file, name=entry.name, source=source)


def model(name_or_path: str | Path) -> ModelSpec:
    """Look a model up by catalogue name, HF id (case-insensitive) or config path.

    Args:
        name_or_path: ``"qwen3-235b-a22b"``, ``"Qwen/Qwen3-235B-A22B"``,
            ``"meta-llama/Meta-Llama-3.1-8B"``, ``"./my-model/config.json"`` or its folder, or any HF id
            whose ``config.json`` is in the local Hugging Face cache (``models.hf_cache``).

    Returns:
        The frozen spec (catalogue specs are cached and shared).

    Raises:
        ModelError: unknown name (with the closest names), or a bad config file.
    """
    if isinstance(name_or_path, Path):
        return load_hf_config(name_or_path)
    text = name_or_path.strip()
    key = _index().get(text.lower())
    if key is not None:
        return _load_entry(key)
    path = Path(text).expanduser()
    looks_like_path = (
        text.endswith(".json") or text.startswith((".", "/", "~")) or text.count("/") > 1
    )
    if path.exists() or looks_like_path:
        return load_hf_config(path)
    cached = cached_config(text)
    if cached is not None:  # an HF id downloaded before: its config from the local hub cache, no network
        return load_hf_config(cached, name=text, source=f"local Hugging Face cache: {cached}")
    raise _unknown(text)


def _unknown(text: str) -> ModelError:
    import difflib  # only for the hint of an unknown name

    keys = sorted(set(_index()) | set(model_names()))
    close = difflib.get_close_matches(text.lower(), keys, n=3, cutoff=0.5)
    hint = f"closest: {', '.join(close)}" if close else f"catalogue: {', '.join(model_names())}"
    return ModelError(f"unknown model '{text}'; {hint}; or give a path to a HF config.json")
