"""Tables that fit a terminal: the columns a reader needs first, as many as fit in 120 characters.

A wide table (``compare``: scenario axes, layout, throughput, bounds, fabric load, ratios, reasons)
keeps the columns that name its rows and adds the others in the order a reader needs them while
the table stays within `WIDTH`; a long text column (the reason a row has no plan) moves under the
table as notes, wrapped to the same width. ``--wide`` prints every column instead.
"""

from __future__ import annotations

import textwrap

from planner.report.tables import BOUND_COLUMNS, FABRIC_COLUMNS, Column, format_rows

WIDTH = 120
# The plan columns a narrow table adds after the ones naming its rows, most needed first: what each
# row delivers, whether measured runs back it (``range``), the layout that delivers it, then the detail
# (``--wide``).
PRIORITY = ["tok/s", "tok/s/GPU", "tok/s/user", "range", "TPxPPxEPxDP", "GPUs", "quant/kv", "x base tok/s", "batch",
            "Limit", "inst", "x base tok/s/GPU", "offload", "inst tok/s",
            *(c.header for c in BOUND_COLUMNS[1:] + FABRIC_COLUMNS)]


def table_width(rows: list[dict], columns: list[Column], fmt: str) -> int:
    """Characters of the widest line of the table (no title)."""
    return max(len(line) for line in format_rows(rows, columns, fmt).splitlines())


def fitted(rows: list[dict], columns: list[Column], fmt: str, priority: list[str], width: int = WIDTH) -> list[Column]:
    """``columns`` less the lowest-priority ones until the table fits ``width``: a column whose header is
    not in ``priority`` is always kept; the others are kept in ``priority`` order (first: most needed)."""
    ranked = sorted((c for c in columns if c.header in priority), key=lambda c: priority.index(c.header))
    while True:
        shown = [c for c in columns if c.header not in priority or c in ranked]
        if not ranked or table_width(rows, shown, fmt) <= width:
            return shown
        ranked.pop()


def narrow_table(rows: list[dict], columns: list[Column], fmt: str, title: str, priority: list[str],
                 note: Column, width: int = WIDTH, wide: bool = False) -> str:
    """The table of the columns that fit (`fitted`), ``note``'s text of each row under it as
    ``#N text`` lines wrapped to ``width``, and how many columns ``--wide`` adds; ``wide`` or CSV: every
    column (CSV without the title)."""
    if wide or fmt == "csv":
        return format_rows(rows, columns, fmt, title=None if fmt == "csv" else title)
    shown = fitted(rows, [c for c in columns if c is not note], fmt, priority, width)
    bullet = "- " if fmt == "markdown" else ""
    lines = [textwrap.fill(f"{bullet}#{r['index']} {note.header}: {note.text(r)}", width, subsequent_indent="    ")
             for r in rows if note.value(r) is not None]
    hidden = len(columns) - len(shown) - 1
    if hidden:
        lines.append(f"{bullet}{hidden} more column{'s' if hidden != 1 else ''}: --wide shows every column")
    # A markdown list right under a table would read as one more row: a blank line ends the table.
    gap = "\n\n" if fmt == "markdown" and lines else "\n"
    return format_rows(rows, shown, fmt, title=title) + (gap + "\n".join(lines) if lines else "")
