"""Hardware catalogue: GPU, system and fabric specs in SI units, loaded from TOML data files.

Typical use::

    from hardware import default_catalogue
    cat = default_catalogue()
    hw = cat.hardware("h200-sxm")                       # a GPU name picks its default system
    hw.gpu.hbm_bytes_per_s                              # 4.8e12
    hw.tier_for_span(16)                                # 'inter_server'
    cat.with_fabric(hw, "400gbe")                       # every tier on 400 GbE (what-if)

`hardware` imports nothing from `planner` or `models`.
"""

from hardware.catalogue import Catalogue, default_catalogue
from hardware.errors import CatalogueError
from hardware.specs import DTYPES, TIERS, FabricSpec, GpuSpec, Hardware, PresetSpec, SystemSpec

__all__ = [
    "DTYPES",
    "TIERS",
    "Catalogue",
    "CatalogueError",
    "FabricSpec",
    "GpuSpec",
    "Hardware",
    "PresetSpec",
    "SystemSpec",
    "default_catalogue",
]
