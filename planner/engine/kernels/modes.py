"""A curve's per-mode constants at each row's quantisation mode.

Every kernel curve keeps its constants as arrays over ``quant.MODE_NAMES``; a table of candidate rows needs them
at each row's mode. :func:`stacked` keeps a curve's constants as one (constants, modes) array, made once per curve
(a table scored in blocks asks for it once per block), and :func:`at_modes` takes all of them at the rows' modes
in one pass: one take of the stack costs about half of a take per constant.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from planner.kept import Kept

_STACKS: Kept[np.ndarray] = Kept(limit=128)


def stacked(curve, make: Callable[[], np.ndarray]) -> np.ndarray:
    """``make()``, the (constants, modes) stack of ``curve``, kept while ``curve`` lives."""
    return _STACKS.get((curve,), make)


def at_modes(stack: np.ndarray, mode: np.ndarray) -> list:
    """The rows of ``stack`` (constants, modes) at each row's ``mode``: floats where every row has the same mode
    (one engine-pinned mode, the common case: numpy's scalar paths, no look-up per row), else arrays over the
    rows."""
    if mode.size and np.all(mode == mode.flat[0]):
        return [float(v) for v in stack[:, int(mode.flat[0])]]
    return list(np.take(stack, mode, axis=1))
