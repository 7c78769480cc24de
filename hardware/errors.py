"""Errors raised by the hardware catalogue."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydantic is loaded by the file schemas, when a file is validated
    from pydantic import ValidationError


class CatalogueError(Exception):
    """A catalogue entry or a lookup is wrong.

    Raised for every bad input: an unknown name, a malformed TOML file, an unknown or misspelt
    key, a zero or negative size, a dangling reference between entries. The message is one line
    that names the file and the field and says what to change, e.g.
    ``hardware/data/gpus/foo.toml: field 'hbm_capacity_gb' must be > 0 (got -1)``.
    """


def validation_error(exc: ValidationError, where: str, known_keys: Iterable[str]) -> CatalogueError:
    """Turn a pydantic error into one line: ``<where>: field '<key>' <what is wrong>``.

    A misspelt key is reported once, with the key it probably meant; the "missing" error for
    that meant key is dropped. Several problems are joined with ``'; '``.

    Args:
        exc: The pydantic error.
        where: The file, as it should appear to the user.
        known_keys: Every key the schema accepts, to suggest the key a misspelling meant.
    """
    import difflib  # only for the hint of an error

    errors = exc.errors()
    meant: set[str] = set()
    parts = []
    for error in errors:  # misspellings first: they explain the "missing" errors
        if error["type"] == "extra_forbidden":
            *parent, key = [str(part) for part in error["loc"]]
            close = difflib.get_close_matches(key, list(known_keys), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; remove it"
            meant |= {".".join([*parent, close[0]])} if close else set()
            parts.append(f"field '{'.'.join([*parent, key])}' is not a known key{hint}")
    for error in errors:
        loc = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        kind = error["type"]
        got = f" (got {error['input']!r})"
        if kind == "extra_forbidden" or (kind == "missing" and loc in meant):
            continue
        if kind == "missing":
            parts.append(f"field '{loc}' is required; add it")
        elif kind == "greater_than":
            parts.append(f"field '{loc}' must be > {error['ctx']['gt']:g}{got}")
        elif kind == "less_than_equal":
            parts.append(f"field '{loc}' must be <= {error['ctx']['le']:g}{got}")
        elif kind == "literal_error":
            parts.append(f"field '{loc}' must be one of {error['ctx']['expected']}{got}")
        elif not loc:
            parts.append(message)
        elif kind == "value_error":  # our validators' messages carry their own numbers
            parts.append(f"field '{loc}' {_lower_first(message)}")
        else:
            parts.append(f"field '{loc}' {_lower_first(message)}{got}")
    return CatalogueError(f"{where}: " + "; ".join(parts))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
