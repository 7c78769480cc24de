"""Shared pytest options: ``--update-golden`` rewrites tests/golden/ from the current output."""

import sys
from pathlib import Path

import pytest

# Loading this file puts tests/ on sys.path, where tests/hardware and tests/models would shadow the
# real packages as namespace packages; the repository root goes first, as `python -m pytest` has it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="Rewrite the golden files in tests/golden/ instead of comparing against them.")


@pytest.fixture
def update_golden(request) -> bool:
    """True when the run was asked to rewrite golden files."""
    return request.config.getoption("--update-golden")
