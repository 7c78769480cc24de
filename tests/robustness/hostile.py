"""The hostile-input harness: run one command line in process and check how it was refused.

Every case of ``tests/robustness/`` runs ``planner.cli.main.main(argv)`` (the console script, error
handling included; fixture ``rackplan`` of conftest.py) inside the case's temporary directory, under
an alarm: a case that runs past ``HANG_S`` fails as a hang. ``refused`` asserts the contract of
issue 16: the exit code, exactly one line on stderr of the form ``error: ...`` naming the field
(and the value), no traceback, and never the last-resort ``internal error`` line.
"""

from __future__ import annotations

from dataclasses import dataclass

HANG_S = 60  # no refused input may take longer; the slowest legitimate case (a plan, then a failed write) takes ~2 s


@dataclass(frozen=True)
class Outcome:
    """What one command line did."""

    code: int
    out: str
    err: str


class Hang(BaseException):
    """Raised by the alarm; a BaseException so the CLI's last-resort handler cannot swallow it."""


def refused(outcome: Outcome, code: int, *names: str) -> str:
    """Assert ``outcome`` is a clean refusal with ``code`` whose one stderr line names each of ``names``."""
    assert "Traceback" not in outcome.out + outcome.err, outcome.err
    assert "internal error" not in outcome.err, outcome.err
    lines = [line for line in outcome.err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {outcome.err!r}"
    line = lines[0]
    assert line.startswith("error: "), line
    for name in names:
        assert name.lower() in line.lower(), f"{name!r} not named in: {line}"
    assert outcome.code == code, f"exit {outcome.code}, expected {code}: {line}"
    return line
