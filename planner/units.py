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


def gb(num_bytes):
    """Bytes -> decimal gigabytes (also bytes/s -> GB/s)."""
    return num_bytes / GIGA


def mb(num_bytes):
    """Bytes -> decimal megabytes."""
    return num_bytes / MEGA


def tb(num_bytes):
    """Bytes -> decimal terabytes (also bytes/s -> TB/s)."""
    return num_bytes / TERA


def tflops(flop_per_s):
    """FLOP/s -> TFLOP/s."""
    return flop_per_s / TERA


def billions(count):
    """A count (parameters, tokens) -> billions."""
    return count / GIGA


def kw(watts):
    """Watts -> kilowatts."""
    return watts / KILO


def ms(seconds):
    """Seconds -> milliseconds."""
    return seconds * KILO


def us(seconds):
    """Seconds -> microseconds."""
    return seconds * MEGA


def from_ms(milliseconds):
    """Milliseconds -> seconds (a CLI latency limit to the library's unit)."""
    return milliseconds / KILO


def from_us(microseconds):
    """Microseconds -> seconds (an engine profile's overheads to the library's unit)."""
    return microseconds * MICRO
