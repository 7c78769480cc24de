"""The ``rackplan`` fixture of the hostile-input corpus (see hostile.py)."""

from __future__ import annotations

import signal

import pytest
from hostile import HANG_S, Hang, Outcome

from planner.cli.main import main


def _alarm(signum, frame):
    raise Hang(f"no answer within {HANG_S} s")


@pytest.fixture
def rackplan(tmp_path, monkeypatch, capsys):
    """``rackplan(*argv)`` -> ``Outcome``, run in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> Outcome:
        capsys.readouterr()
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HANG_S)
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        got = capsys.readouterr()
        return Outcome(code, got.out, got.err)

    return run
