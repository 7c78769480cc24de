"""Write an engine profile as the TOML file ``--profile`` loads (overheads in microseconds)."""

from __future__ import annotations

import dataclasses

from planner.engine.profile import EngineProfile, file_key
from planner.units import us


def _toml_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _toml_line(key: str, value) -> str:
    """One ``key = value`` line of a profile file (overheads in microseconds, floats to 6 digits)."""
    if file_key(key) != key:  # an overhead, in microseconds
        key, value = file_key(key), us(value)
    if isinstance(value, float):
        value = float(f"{value:.6g}")
    return f"{key} = {_toml_value(value)}"


def profile_toml(profile: EngineProfile) -> str:
    """The profile as a TOML file ``--profile`` accepts (overheads in microseconds)."""
    lines = ["# Engine profile written by rackplan calibrate: load it with --profile FILE."]
    data = dataclasses.asdict(profile)
    sources = data.pop("sources")
    gpus = data.pop("gpus")
    lines += [_toml_line(key, value) for key, value in data.items() if value is not None]
    for gpu, values in gpus.items():
        lines += ["", f"[gpus.{gpu}]"] + [_toml_line(key, float(value)) for key, value in values.items()]
    if sources:
        lines += ["", "[sources]"]
        for key, text in sources.items():
            lines.append(f"{file_key(key)} = {_toml_value(text)}")
    return "\n".join(lines) + "\n"
