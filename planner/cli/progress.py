"""Progress of a long command on stderr: one line redrawn with a carriage return, cleared before the result.

The library takes an optional ``progress`` callable; the CLI passes a `Reporter`. It draws only when
stderr is a terminal, unless ``--progress`` forces it (``--quiet`` silences it), and never writes to stdout,
so a result piped or redirected stays byte-identical.
"""

from __future__ import annotations

import functools
import sys
import time

import click

from planner.report.tables import progress_line

REDRAW_INTERVAL_S = 0.1  # a terminal is redrawn at most this often (the first and last step always)


class Reporter:
    """A ``progress(done, total)`` callable drawing `progress_line` on ``stream``; `clear` wipes the line."""

    def __init__(self, what: str, enabled: bool, stream=None, clock=time.monotonic):
        self.what = what
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.clock = clock
        self.start = clock()
        self.last_draw: float | None = None
        self.width = 0  # characters on the line now

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if self.last_draw is not None and done < total and now - self.last_draw < REDRAW_INTERVAL_S:
            return
        line = progress_line(self.what, done, total, now - self.start)
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)
        self.last_draw = now

    def clear(self) -> None:
        """Wipe the drawn line (nothing when none is drawn), so the result starts on a clean line."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def reporter(what: str, force: bool, quiet: bool) -> Reporter:
    """A `Reporter` on stderr: on when stderr is a terminal or ``force``; off when ``quiet``."""
    return Reporter(what, enabled=not quiet and (force or sys.stderr.isatty()))


def progress_options(what: str):
    """``--progress``/``--quiet`` on a command; the command receives ``progress``, a `Reporter` for ``what``
    (e.g. ``"compare: scenario"``), and should `Reporter.clear` it before printing its result. The line is
    cleared whatever happens, so an error message starts on a clean line."""
    def apply(func):
        @click.option("--progress", "force_progress", is_flag=True, default=False,
                      help="Show progress on stderr even when it is not a terminal.")
        @click.option("--quiet", is_flag=True, default=False, help="No progress on stderr.")
        @functools.wraps(func)
        def wrapper(*args, force_progress, quiet, **kwargs):
            shown = reporter(what, force_progress, quiet)
            try:
                return func(*args, progress=shown, **kwargs)
            finally:
                shown.clear()
        return wrapper
    return apply
