"""GPU, power and fabric budgets, and how many instances of a layout fit in them.

Packing: an instance that fits a scale-up domain never straddles two (its traffic would
leave the fast fabric), so a domain of ``D`` GPUs holds ``floor(D / G)`` instances of ``G``
GPUs. An instance larger than a domain (``--allow-span``) takes ``ceil(G / D)`` whole domains.
A GPU budget that is not a whole number of domains adds one partial domain.
"""

from __future__ import annotations

import numpy as np

from hardware.specs import TIERS, Hardware
from planner.errors import InputError
from planner.units import from_kw, kw
from specbase.record import record


@record
class Budget:
    """What the planner may use.

    Attributes:
        gpus: GPUs available.
        racks: racks available (``None`` when the budget was given in GPUs).
        max_power_w: board-power cap over all GPUs in use (``None``: no cap).
    """

    gpus: int
    racks: int | None = None
    max_power_w: float | None = None

    @classmethod
    def of(cls, hw: Hardware, racks: int | None, gpus: int | None, max_kw: float | None = None) -> Budget:
        """Budget from ``--racks`` or ``--gpus`` (racks win when both are given: an error)."""
        if racks is not None and gpus is not None:
            raise InputError("give --racks or --gpus, not both")
        if racks is not None and racks < 1 or gpus is not None and gpus < 1:
            raise InputError("the budget must be at least 1 rack or 1 GPU")
        if max_kw is not None and max_kw <= 0:
            raise InputError(f"--max-kw must be > 0 (got {max_kw})")
        if gpus is None:
            racks = 1 if racks is None else racks
            gpus = racks * hw.gpus_per_rack
        return cls(gpus=int(gpus), racks=racks, max_power_w=None if max_kw is None else from_kw(max_kw))

    def label(self) -> str:
        """``2 racks (144 GPUs)`` or ``64 GPUs``."""
        if self.racks is not None:
            return f"{self.racks} rack{'s' if self.racks != 1 else ''} ({self.gpus} GPUs)"
        return f"{self.gpus} GPUs"


# Arrays longer than this whose sizes are at most ``SIZE_TABLE`` GPUs (a candidate table's rows: a few sizes, many
# rows) take each size's bound from a table of them (one gather) instead of dividing row by row.
TABLE_ROWS, SIZE_TABLE = 4096, 1 << 16


def max_instances(gpus_budget: int, domain_gpus: int, gpus_per_instance: np.ndarray) -> np.ndarray:
    """Most instances of ``gpus_per_instance`` GPUs that pack into the budget (see module docstring)."""
    g = np.asarray(gpus_per_instance, dtype=np.int64)
    if g.size > TABLE_ROWS and 0 < g.min() and g.max() <= SIZE_TABLE:
        return np.take(_packed(gpus_budget, domain_gpus, np.arange(1, g.max() + 1, dtype=np.int64)), g - 1)
    return _packed(gpus_budget, domain_gpus, g)


def _packed(gpus_budget: int, domain_gpus: int, g: np.ndarray) -> np.ndarray:
    full, rest = divmod(int(gpus_budget), int(domain_gpus))
    within = full * (domain_gpus // g) + rest // g
    domains_each = -(-g // domain_gpus)
    spanning = full // domains_each
    return np.where(g <= domain_gpus, within, spanning)


def fabric_capacity_bytes_per_s(hw: Hardware, gpus: int) -> np.ndarray:
    """Summed nominal link capacity per tier for ``gpus`` GPUs (per-GPU bandwidth x GPUs)."""
    return np.array([hw.fabrics[t].bytes_per_s * gpus for t in TIERS])


def footprint(hw: Hardware, gpus: int, power_w_per_gpu: float | None = None) -> dict:
    """What ``gpus`` GPUs of ``hw`` occupy: whole servers, racks (the last one partial) and board power.

    Servers: ``ceil(gpus / gpus_per_server)``; racks: ``ceil(gpus / gpus_per_rack)``, with the GPUs of
    the last rack when it is not full (``partial_rack_gpus``, 0 when every rack is full). Board power is
    ``power_w_per_gpu`` (default the GPU's datasheet power) per GPU.
    """
    servers = -(-gpus // hw.gpus_per_server)
    racks = -(-gpus // hw.gpus_per_rack)
    return {"gpus": gpus, "servers": servers, "gpus_per_server": hw.gpus_per_server, "racks": racks,
            "gpus_per_rack": hw.gpus_per_rack, "partial_rack_gpus": gpus % hw.gpus_per_rack,
            "board_power_kw": kw(gpus * (hw.gpu.power_w if power_w_per_gpu is None else power_w_per_gpu))}


def footprint_text(f: dict) -> str:
    """``47 servers in 12 racks, the last partial (24 of 32 GPUs), 263.2 kW board power``."""
    servers = f"{f['servers']:,} server{'s' if f['servers'] != 1 else ''}"
    if not f["partial_rack_gpus"]:
        racks = f"{f['racks']:,} rack{'s' if f['racks'] != 1 else ''}"
    elif f["racks"] == 1:
        racks = f"1 partial rack ({f['partial_rack_gpus']} of {f['gpus_per_rack']} GPUs)"
    else:
        racks = f"{f['racks']:,} racks, the last partial ({f['partial_rack_gpus']} of {f['gpus_per_rack']} GPUs)"
    return f"{servers} in {racks}, {f['board_power_kw']:,.1f} kW board power"
