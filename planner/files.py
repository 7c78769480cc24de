"""Output files: checked before the work starts, written atomically when it ends.

Every file the planner writes (reports, MPS/LP exports, plots, sweep results, profiles) goes
through here. `check_output` refuses a path that cannot be written (empty, a directory, a missing
or read-only parent) before any planning is done; `atomic_path` hands a writer a temporary file
in the target's own directory and renames it over the target only when the writer finished, so a
failed or interrupted write leaves the previous file as it was and no truncated one. A target that
exists and is not a regular file (``/dev/null``, ``/dev/stdout``) is written in place: renaming
over a device would replace it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from planner.errors import InputError


def _special(path: Path) -> bool:
    """An existing target that is not a regular file (a device or a pipe)."""
    return path.exists() and not path.is_file() and not path.is_dir()


def check_output(path: str | Path | None, option: str) -> None:
    """Raise a one-line ``InputError`` naming ``option`` when ``path`` cannot be written."""
    if path is None:
        return
    text = str(path)
    if not text.strip():
        raise InputError(f"{option}: the file name is empty (give a file name, or leave the option out)")
    p = Path(text)
    if p.is_dir():
        raise InputError(f"{option}: {text} is a directory (give a file name inside it)")
    if _special(p):
        return
    parent = p.parent
    if not parent.is_dir():
        raise InputError(f"{option}: directory {parent} does not exist (create it first, or write elsewhere)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{option}: directory {parent} is not writable (write elsewhere)")
    if p.exists() and not os.access(p, os.W_OK):
        raise InputError(f"{option}: {text} is read-only (write elsewhere)")


@contextmanager
def atomic_path(path: str | Path, what: str = "file") -> Iterator[str]:
    """A temporary path next to ``path``; renamed over ``path`` when the block ends without error.

    An ``OSError`` inside the block or on the rename becomes one-line ``InputError`` naming ``path``;
    the temporary file is removed and ``path`` keeps its previous content.
    """
    target = Path(path)
    if _special(target):
        try:
            yield str(target)
        except OSError as exc:
            raise InputError(f"{target}: cannot write the {what} ({exc.strerror or exc})") from None
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix,
                                   dir=target.parent if str(target.parent) else ".")
        os.close(fd)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the {what} ({exc.strerror or exc}); nothing was changed") from None
    try:
        yield tmp
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the {what} ({exc.strerror or exc}); nothing was changed") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_with(path: str | Path, writer: Callable[[str], object], what: str = "file") -> None:
    """Call ``writer(temporary_path)`` and move the result to ``path`` atomically."""
    with atomic_path(path, what) as tmp:
        writer(tmp)


def write_text(path: str | Path, text: str, what: str = "file") -> None:
    """Write ``text`` to ``path`` atomically (UTF-8), flushed to disk before the rename."""
    def writer(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if os.path.isfile(tmp):
                os.fsync(fh.fileno())
    write_with(path, writer, what)
