"""Unit conversions: the one place SI quantities become the units reports print.

The library computes in SI base units (bytes, seconds, FLOP, watts, bytes/s, FLOP/s);
catalogues convert their named units (``hbm_gb``, ``latency_us``) once, at load
(``hardware.schema``). Reports and messages convert back through these helpers, so a
figure's unit is written in one place: ``gb(x)`` is always decimal gigabytes (1e9 bytes,
as datasheets and the seed notes count HBM), ``ms(t)`` milliseconds.
"""

from __future__ import annotations

KILO = 1e3
MEGA = 1e6
GIGA = 1e9
TERA = 1e12
PETA = 1e15
MICRO = 1e-6


def _conversion(name: str, scale: float, divide: bool, doc: str):
    """A one-argument conversion ``value / scale`` (``divide``) or ``value * scale``, named ``name``."""
    def convert(value):
        return value / scale if divide else value * scale

    convert.__name__ = convert.__qualname__ = name
    convert.__doc__ = doc
    return convert


gb = _conversion("gb", GIGA, True, "Bytes -> decimal gigabytes (also bytes/s -> GB/s).")
mb = _conversion("mb", MEGA, True, "Bytes -> decimal megabytes.")
tb = _conversion("tb", TERA, True, "Bytes -> decimal terabytes (also bytes/s -> TB/s).")
tflops = _conversion("tflops", TERA, True, "FLOP/s -> TFLOP/s.")
billions = _conversion("billions", GIGA, True, "A count (parameters, tokens) -> billions.")
kw = _conversion("kw", KILO, True, "Watts -> kilowatts.")
ms = _conversion("ms", KILO, False, "Seconds -> milliseconds.")
us = _conversion("us", MEGA, False, "Seconds -> microseconds.")
from_ms = _conversion("from_ms", KILO, True, "Milliseconds -> seconds (a CLI latency limit to the library's unit).")
from_us = _conversion("from_us", MICRO, False,
                      "Microseconds -> seconds (an engine profile's overheads to the library's unit).")
from_kw = _conversion("from_kw", KILO, False,
                      "Kilowatts -> watts (a CLI or fleet-file power limit to the library's unit).")
