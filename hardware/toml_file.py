"""Reading a TOML file: the one reader of catalogue entries, engine profiles and sweep grids.

Every failure (unreadable, not UTF-8, bad syntax, nesting deep enough to exhaust the parser) becomes
one exception of the caller's class, naming the file and the fix, so no reader repeats the list.

The package's own data files (the catalogue, engine profiles, kernel-curve tables: everything under
the folder holding ``hardware/``) are parsed once per content, not once per process: their parsed
tables are kept as JSON in ``$RACKPLAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/rackplan/toml``, else
``~/.cache/rackplan/toml`` (one file per data file, with the hash of the bytes it was parsed from, so
an edit is parsed again). ``tomllib`` is pure Python: the kernel tables alone take ~10-16 ms of a plan
on a 2-core EPYC, their JSON under 1 ms. ``RACKPLAN_CACHE_DIR=`` (empty) turns the cache off; a cache
that cannot be read or written is passed by. The user's files (grids, profiles, catalogue directories)
are always parsed.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

try:  # hashlib's own BLAKE2, as ``random`` takes its SHA-512: ``import hashlib`` also loads OpenSSL (~2.5 ms)
    from _blake2 import blake2b
except ImportError:  # an interpreter built without it
    from hashlib import blake2b

CACHE_ENV = "RACKPLAN_CACHE_DIR"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The folder holding ``hardware/`` (and ``planner/``, ``models/``): files under it are the package's."""


def read_toml(path: Path, error: type[Exception], what: str, where: str | None = None,
              invalid: str = "malformed TOML") -> dict:
    """The top-level table of the TOML file at ``path``.

    ``error`` is raised with one line: ``where`` (default: the path) names the file, ``what`` its role
    in the fix ("the grid"), ``invalid`` the words for a syntax error.
    """
    where = str(path) if where is None else where
    try:
        content = Path(path).read_bytes()
        slot = cache_slot(Path(path))
        kept = cached(slot, content)
        if kept is not None:
            return kept
    except OSError as exc:
        raise error(f"{where}: cannot read {what} ({exc.strerror})") from None
    import tomllib  # pure Python, ~7 ms to import: only when a file is parsed, not when its tables are kept
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text (byte {exc.start}); save {what} as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: {invalid} ({exc})") from None
    except RecursionError:
        raise error(f"{where}: {invalid} (nested too deeply)") from None
    store(slot, content, data)
    return data


def cache_dir() -> Path | None:
    """Where parsed package files are kept; ``None`` when the cache is off or there is no home to put it in."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:  # no home directory to find
            return None
    return Path(base) / "rackplan" / "toml"


def cache_slot(path: Path) -> Path | None:
    """The cache file of a package data file (named by the file's place in the package); ``None`` for others."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        relative = path.resolve().relative_to(PACKAGE_ROOT).as_posix()
    except (OSError, ValueError):  # not the package's: the user's files are parsed every time
        return None
    return folder / (blake2b(f"{PACKAGE_ROOT}/{relative}".encode(), digest_size=16).hexdigest() + ".json")


def _digest(content: bytes) -> str:
    return blake2b(content, digest_size=32).hexdigest()


def cached(slot: Path | None, content: bytes) -> dict | None:
    """The tables parsed from ``content`` when ``slot`` holds them (parsed from these very bytes), else None."""
    if slot is None:
        return None
    try:
        record = json.loads(slot.read_bytes())
    except (OSError, ValueError, RecursionError):  # absent, unreadable or damaged: parse the file
        return None
    if not isinstance(record, dict) or record.get("sha") != _digest(content) or not isinstance(record.get("data"),
                                                                                                  dict):
        return None
    return record["data"]


def store(slot: Path | None, content: bytes, data: dict) -> None:
    """Keep ``data`` in ``slot`` (written whole, then renamed over it); tables JSON cannot hold (dates) are not
    kept, and a cache that cannot be written is passed by."""
    if slot is None:
        return
    try:
        text = json.dumps({"sha": _digest(content), "data": data})
    except (TypeError, ValueError):
        return
    temporary = slot.with_name(f".{slot.name}.{os.getpid()}.tmp")  # one writer per process: a reader sees
    try:  # the old record or the new one, whole
        slot.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, slot)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def record_slot(path: Path, suffix: str, code: bytes) -> tuple[Path | None, bytes]:
    """Where a record derived from the package file ``path`` is kept (beside its parsed copy, ``suffix`` ending
    its name) and the bytes it is keyed by: the file's, then ``code``'s (the source of what derived it);
    ``(None, b"")`` for a file that cannot be read, no slot when the cache is off or the file not the package's."""
    slot = cache_slot(path)
    try:
        content = path.read_bytes() + code
    except OSError:
        return None, b""
    return (None if slot is None else slot.with_name(f"{slot.stem}{suffix}")), content
