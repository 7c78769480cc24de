"""Reading a TOML file: the one reader of catalogue entries, engine profiles and sweep grids.

Every failure (unreadable, not UTF-8, bad syntax, nesting deep enough to exhaust the parser) becomes
one exception of the caller's class, naming the file and the fix, so no reader repeats the list.
"""

from __future__ import annotations

import tomllib
from pathlib import Path


def read_toml(path: Path, error: type[Exception], what: str, where: str | None = None,
              invalid: str = "malformed TOML") -> dict:
    """The top-level table of the TOML file at ``path``.

    ``error`` is raised with one line: ``where`` (default: the path) names the file, ``what`` its role
    in the fix ("the grid"), ``invalid`` the words for a syntax error.
    """
    where = str(path) if where is None else where
    try:
        return tomllib.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as exc:
        raise error(f"{where}: cannot read {what} ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text (byte {exc.start}); save {what} as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: {invalid} ({exc})") from None
    except RecursionError:
        raise error(f"{where}: {invalid} (nested too deeply)") from None
