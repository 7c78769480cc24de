"""Quantisation modes: the one table of bytes per element and compute scales.

Weights and the KV cache choose their modes separately. ``compute_scale`` is the seed
notes' utilisation bump per mode (seed notes, Note 2, in docs/sources.md: 1.12 for 8-bit, 1.18 for 4-bit);
it applies only where the seed applies it, i.e. when a GPU carries the seed's
``sustained_decode_flop_per_s`` preset. Otherwise the compute rate comes from the
part's dense peak for ``compute_dtype``.
"""

from __future__ import annotations

import numpy as np

from planner.errors import InputError
from specbase.record import record


@record
class QuantMode:
    """One numeric format.

    Attributes:
        name: mode name as typed by users.
        bytes_per_element: storage size (fp4/int4 pack two values per byte; block-scale
            overhead of MXFP4/NVFP4, 1 byte per 16-32 values, is ignored).
        compute_scale: seed-notes compute scale (Note 2).
        compute_dtype: tensor-core dtype the matrix products run in when the part has it;
            a part without it runs weight-only dequantised kernels at its bf16 rate.
    """

    name: str
    bytes_per_element: float
    compute_scale: float
    compute_dtype: str


# Seed notes Note 2: compute_scale 1.0 (16-bit), 1.12 (8-bit), 1.18 (4-bit).
MODES: dict[str, QuantMode] = {
    "bf16": QuantMode("bf16", 2.0, 1.0, "bf16"),
    "fp8": QuantMode("fp8", 1.0, 1.12, "fp8"),
    "int8": QuantMode("int8", 1.0, 1.12, "int8"),
    "int4": QuantMode("int4", 0.5, 1.18, "int4"),
    "fp4": QuantMode("fp4", 0.5, 1.18, "fp4"),
}
MODE_NAMES: tuple[str, ...] = tuple(MODES)
BYTES_PER_ELEMENT = np.array([MODES[n].bytes_per_element for n in MODE_NAMES])
COMPUTE_SCALE = np.array([MODES[n].compute_scale for n in MODE_NAMES])


def mode(name: str) -> QuantMode:
    """Look a mode up by name, case-insensitively."""
    key = name.strip().lower()
    if key not in MODES:
        raise InputError(f"unknown quantisation '{name}'; choose one of: {', '.join(MODE_NAMES)}")
    return MODES[key]


def mode_index(name: str) -> int:
    """Index of a mode in ``MODE_NAMES`` (the encoding used in candidate arrays)."""
    return MODE_NAMES.index(mode(name).name)


def parse_modes(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Parse a comma-separated list of modes (or a list) into validated names."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(mode(item).name for item in items if item.strip())
    if not names:
        raise InputError("empty quantisation list; give at least one of: " + ", ".join(MODE_NAMES))
    return names
