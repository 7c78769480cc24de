"""Progress of a long command on stderr, drawn by tqdm: one line redrawn in place, cleared before the result.

The library takes an optional ``progress(done, total)`` callable; the CLI passes a `Reporter`. It draws
only when stderr is a terminal, unless ``--progress`` forces it (``--quiet`` silences it), and never
writes to stdout, so a result piped or redirected stays byte-identical. tqdm keeps the line (redraws at
most every `REDRAW_INTERVAL_S`, pads a shorter line over a longer one, clears it); the text of the line is
ours (``planner.report.tables.progress_line``: ``compare: scenario 3/24, 0:05 elapsed, ETA 0:35``, or
the sweep's bar, ``format_progress``).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable

import click

from planner.report.tables import progress_line

REDRAW_INTERVAL_S = 0.1  # a terminal is redrawn at most this often (the first and last step always)
Line = Callable[[str, int, int, float], str]  # (what, done, total, elapsed seconds) -> the line


@functools.cache
def _bar_class() -> type:
    """The tqdm bar class, built when a line is first drawn: tqdm is imported only then (a command whose
    progress is off, as when stderr is not a terminal, never loads it)."""
    from tqdm import tqdm

    class _Bar(tqdm):
        """A tqdm bar whose text is ``line(what, done, total, elapsed)``, elapsed on the reporter's clock."""

        monitor_interval = 0  # no monitor thread: a line is redrawn when progress is reported, never behind it

        def __init__(self, line: Line, clock: Callable[[], float], start: float, **kwargs):
            self.line, self.clock, self.origin = line, clock, start
            super().__init__(**kwargs)
            self._time = clock  # tqdm's redraw interval runs on the same clock
            self.start_t = self.last_print_t = clock()

        @property
        def format_dict(self):
            return {**super().format_dict, "elapsed": self.clock() - self.origin}

        def __str__(self) -> str:
            d = self.format_dict
            return self.line(d["prefix"], d["n"], d["total"], d["elapsed"])

    return _Bar


class Reporter:
    """A ``progress(done, total)`` callable drawing ``line`` (default `progress_line`) on ``stream`` through
    tqdm; `clear` wipes the line; ``leave`` keeps the last line (with a newline) when the count completes."""

    def __init__(self, what: str, enabled: bool, stream=None, clock=time.monotonic, line: Line = progress_line,
                 leave: bool = False):
        self.what, self.enabled, self.clock, self.line, self.leave = what, enabled, clock, line, leave
        self.stream = sys.stderr if stream is None else stream
        self.start = clock()
        self.bar = None  # the tqdm bar (`_bar_class`) while a line is drawn

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:  # drawn at once: the first step always shows
            # One line, so the screen size does not matter: tqdm is not asked (an unknown size, as in a
            # terminal of unknown height, would make it hide the bar); its width is the line's own.
            self.bar = _bar_class()(self.line, self.clock, self.start, desc=self.what, total=total, initial=done,
                                    file=self.stream, mininterval=REDRAW_INTERVAL_S, miniters=1, leave=False,
                                    ncols=0, nrows=2)
        elif done >= total:  # the last step always shows
            self.bar.n = done
            self.bar.refresh()
        else:
            self.bar.update(done - self.bar.n)
        if done >= total and self.leave:
            self.stream.write("\n")
            self.bar.disable = True  # leave the line as it is: nothing more to draw or clear
            self.bar = None

    def clear(self) -> None:
        """Wipe the drawn line (nothing when none is drawn), so the result starts on a clean line."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


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
