"""Field/value pages (``evaluate``, ``show``) in readable units: the unit moves into the field's name.

A key's unit is its suffix (``step_time_s``, ``hbm_bytes``, ``peak_flop_per_s.bf16``): the page prints
``step_time (ms)  7.278``, ``hbm (GB)  141.00``, ``peak (TFLOP/s).bf16`` ... one unit per field, the
figure converted through ``planner.units``. JSON and CSV keep the SI keys and values.
"""

from __future__ import annotations

from typing import Any

from planner.units import gb, ms, tflops, us

# (suffix of the key's first part, the part of it dropped from the label, unit shown, conversion, format);
# the first match wins.
UNITS = (
    ("_flop_per_s", "_flop_per_s", "TFLOP/s", tflops, ",.1f"),
    ("_bytes_per_s", "_bytes_per_s", "GB/s", gb, ",.1f"),
    ("_gb_per_s", "_gb_per_s", "GB/s", float, ",.2f"),
    ("_bytes", "_bytes", "GB", gb, ",.2f"),
    ("_tokens_per_s", "_per_s", "/s", float, ",.0f"),
    ("latency_s", "_s", "us", us, ",.2f"),
    ("overhead_s", "_s", "us", us, ",.2f"),  # engine profiles' fixed costs, in the unit their TOMLs write
    ("_s", "_s", "ms", ms, ",.3f"),
    ("_kw", "_kw", "kW", float, ",.2f"),
    ("_w", "_w", "W", float, ",.0f"),
    ("_utilisation", "", "%", lambda v: v * 100, ".2f"),
    ("_pct", "_pct", "%", float, ".1f"),
)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def human_field(key: str, value: Any) -> tuple[str, Any]:
    """``(label, value)`` of one field: the unit suffix of the key's first part becomes ``(unit)``."""
    head, _, rest = key.partition(".")
    for suffix, dropped, unit, convert, fmt in UNITS:
        if head.endswith(suffix) or head == suffix.lstrip("_"):
            name = head[: len(head) - len(dropped)] if len(head) > len(dropped) else head
            label = f"{name}.{rest} ({unit})" if rest else f"{name} ({unit})"
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = format(convert(value), fmt)
            return label, value
    if isinstance(value, float):
        value = _number(value)
    return key, value
