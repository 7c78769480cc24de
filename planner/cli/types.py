"""Click parameter types for the command line: finite, bounded numbers, non-empty names, writable paths.

Every value is checked here, where it enters, so the library never sees ``nan``, ``inf``, 10**30
or an empty name; each refusal is a usage error (exit 2) naming the option and the fix.
"""

from __future__ import annotations

import math

import click

from planner.errors import InputError
from planner.files import check_output
from planner.serving.margin import MARGIN_P90, MAX_MARGIN_PCT

# Bounds on what one command may ask for: beyond them the work (or an int64) would overflow.
MAX_COUNT = 1_000_000       # GPUs, instances, batch, a parallel degree: far above any rack fleet
MAX_RACKS = 10_000
MAX_TOKENS = 100_000_000    # a context, prompt, output or training sequence, tokens
MAX_TOP = 50                # plans listed by --top: each is one more MILP solve
MAX_POINTS = 100            # latency floors per frontier line: each is one more MILP solve
MAX_BASELINE = 100_000      # a compare row number: at most the grid cap of planner.studies.compare
# A rate, latency, power or time: above 1e12 (or below 1e-9) no question is physical, and 1/x or a
# MILP coefficient would leave the range the solver handles.
MIN_QUANTITY, MAX_QUANTITY = 1e-9, 1e12
MAX_TRAIN_TOKENS = 1e18


class FiniteFloat(click.ParamType):
    """A finite number in a range: ``nan`` and ``inf`` are refused with the fix (leave the option out)."""

    name = "number"

    def __init__(self, min: float | None = None, max: float | None = None, min_open: bool = False,
                 zero: bool = False):
        self.min, self.max, self.min_open, self.zero = min, max, min_open, zero

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                self.fail(f"'{value}' is not a number", param, ctx)
            if not math.isfinite(number):
                self.fail(f"'{value}' is not a finite number (leave the option out for no limit)", param, ctx)
        if self.zero and number == 0:
            return number
        if self.min is not None and (number < self.min or (self.min_open and number == self.min)):
            bound = f"{'>' if self.min_open else '>='} {self.min:g}" + (" (or 0)" if self.zero else "")
            self.fail(f"{value} must be {bound}", param, ctx)
        if self.max is not None and number > self.max:
            self.fail(f"{value} must be <= {self.max:g}", param, ctx)
        return number


class MarginType(click.ParamType):
    """``--latency-margin``: a percentage from 0 to 1,000, or ``p90`` (the engine profile's measured error)."""

    name = "percent|p90"

    def convert(self, value, param, ctx):
        if str(value).strip().lower() == MARGIN_P90:
            return MARGIN_P90
        try:
            float(str(value).strip())
        except ValueError:
            self.fail(f"'{value}' is neither a percentage nor {MARGIN_P90}", param, ctx)
        return FiniteFloat(min=0, max=MAX_MARGIN_PCT).convert(value, param, ctx)


class Count(click.ParamType):
    """A whole number in ``[min, max]`` (``1.5``, ``abc`` and 10**30 are refused with the range)."""

    name = "integer"

    def __init__(self, min: int = 1, max: int = MAX_COUNT):
        self.min, self.max = min, max

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            try:
                number = int(text)
            except ValueError:
                self.fail(f"'{value}' is not a whole number", param, ctx)
        if not self.min <= number <= self.max:
            self.fail(f"{value} is not in the range {self.min}..{self.max:,}", param, ctx)
        return number


class Name(click.ParamType):
    """A non-empty name (an empty ``--model ''`` would otherwise mean "the default")."""

    name = "text"

    def convert(self, value, param, ctx):
        text = str(value)
        if not text.strip():
            self.fail("the name is empty (give a name, or leave the option out)", param, ctx)
        return text


POSITIVE = FiniteFloat(min=MIN_QUANTITY, max=MAX_QUANTITY)
NON_NEGATIVE = FiniteFloat(min=MIN_QUANTITY, max=MAX_QUANTITY, zero=True)
FRACTION = FiniteFloat(0.0, 1.0)
NAME = Name()
TOKENS = Count(1, MAX_TOKENS)


def output_path(ctx, param, value):
    """Click callback: refuse an output path that cannot be written before any work is done."""
    if value is not None:
        try:
            check_output(value, param.opts[0])
        except InputError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1], ctx, param) from None
    return value


def output_option(*decls, help: str, required: bool = False, **kwargs):
    """An option naming a file to write (checked up front, written atomically). A ``required`` one has no default:
    since click 8.3 an explicit ``default=None`` counts as given, and the missing option reached the command."""
    default = {} if required else {"default": None}
    return click.option(*decls, type=click.Path(dir_okay=False), callback=output_path, required=required, help=help,
                        **default, **kwargs)
