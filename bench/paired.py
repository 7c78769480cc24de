"""Two checkouts' runs of one bench script, taking turns, so that a host whose speed drifts moves both alike.

A shared host's speed drifts by tens of per cent within an hour, and the host itself changes: a rate measured
today cannot be set beside one measured on another day or another machine. Two trees measured in turn in one
sitting can: each pair's ratio holds while the host drifts, and the median of a few pairs is the figure to
quote (``bench/evaluator.py --against TREE`` prints it). Each run is a whole process of the tree's own script,
that tree first on ``PYTHONPATH`` so that its own packages load (``bench/score_digests.py`` sets two trees'
figures side by side the same way), reading the figures the script prints.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


class PairedRunError(RuntimeError):
    """A tree's run could not be made or read; the message says which and why, in one line."""


def script_of(tree: Path, script: str) -> Path:
    """``tree``'s ``script`` (a path inside the tree), which must be a file."""
    path = tree / script
    if not path.is_file():
        raise PairedRunError(f"{tree} has no {script}: give the root of a checkout of this project")
    return path


def whole_run(tree: Path, script: str, args: list[str]) -> str:
    """What ``tree``'s ``script`` prints, run in a process of its own with ``tree`` first on ``PYTHONPATH``."""
    path = script_of(tree, script)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(tree), os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run([sys.executable, str(path), *args], env=env, cwd=tree, capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise PairedRunError(f"{path} exited with status {done.returncode}: {last}")
    return done.stdout


def alternate(run: Callable[[Path], dict[str, float]], trees: tuple[Path, Path], pairs: int) -> list[tuple[dict, dict]]:
    """``pairs`` pairs of ``run(tree)``'s figures, the first tree's run then the second's (A B A B ...)."""
    return [(run(trees[0]), run(trees[1])) for _ in range(pairs)]


def summary(runs: list[tuple[dict, dict]]) -> dict[str, tuple[float, float, float, float, float]]:
    """Per figure of the first tree's runs: its median, the second tree's median, and the median, lowest and
    highest of the pairs' ratios (first / second). A figure the second tree's runs lack is an error."""
    out = {}
    for key in runs[0][0]:
        if any(key not in second for _, second in runs):
            raise PairedRunError(f"the second tree's runs print no {key!r} figure: compare trees of the same bench")
        first, second = [a[key] for a, _ in runs], [b[key] for _, b in runs]
        ratios = [a / b for a, b in zip(first, second)]
        out[key] = (statistics.median(first), statistics.median(second), statistics.median(ratios),
                    min(ratios), max(ratios))
    return out
