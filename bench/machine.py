"""The one line a speed benchmark prints first: the machine its figures were measured on.

``python bench/docs.py`` quotes the benchmarks' output in the docs (regions marked ``timed``), so a
figure in the docs always sits under the line naming the processor, its core count and the Python
that measured it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path


def processor() -> str:
    """The processor's model name (Linux's ``/proc/cpuinfo``), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Processor") and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown processor"


def cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one), else all of them."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def describe() -> str:
    """``machine: PROCESSOR (N CPUs, ARCH), OS, Python X.Y.Z``: the benchmarks' first line."""
    return (f"machine: {processor()} ({cpus()} CPUs, {platform.machine()}), {platform.system()}, "
            f"Python {platform.python_version()}")
