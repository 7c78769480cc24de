"""Every shipped catalogue file loads, is range-checked, and sources every number."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware.catalogue import DATA_DIR, SECTIONS, default_catalogue, load_file
from hardware.specs import DTYPES, TIERS

SHIPPED = sorted(p for section in SECTIONS for p in (DATA_DIR / section).glob("*.toml"))


def test_shipped_entries_are_exactly_the_catalogue() -> None:
    cat = default_catalogue()
    assert sorted(cat.gpu_names()) == sorted(
        ["h100-sxm", "h800", "h200-sxm", "b200", "b300", "gb200", "gb300", "mi300x", "mi325x", "mi355x"]
    )
    assert sorted(cat.system_names()) == sorted(
        ["hgx-h100", "hgx-h800", "hgx-h200", "hgx-b200", "hgx-b300", "gb200-nvl72", "gb300-nvl72"]
        + ["mi300x-8", "mi325x-8", "mi355x-8"]
    )
    assert sorted(cat.fabric_names()) == sorted(
        ["nvlink4", "nvlink4-h800", "nvlink5", "infinity-fabric-mi300", "infinity-fabric-mi355"]
        + ["ib-ndr-400", "400gbe", "800g"]
    )
    assert cat.preset_names() == ["seed"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_file_sources_every_number(path: Path) -> None:
    entry = load_file(path, SECTIONS[path.parent.name])
    assert entry.unsourced_keys() == [], f"{path.name}: add [sources] for {entry.unsourced_keys()}"
    assert entry.source.strip()
    assert all(text.strip() for text in entry.sources.values())


@pytest.mark.parametrize("name", default_catalogue().gpu_names())
def test_gpu_ranges(name: str) -> None:
    gpu = default_catalogue().gpu(name)
    assert 50e9 <= gpu.hbm_bytes <= 500e9
    assert 1e12 <= gpu.hbm_bytes_per_s <= 20e12
    assert 500e12 <= gpu.peak_flop_per_s["bf16"] <= 5000e12
    assert set(gpu.peak_flop_per_s) == set(DTYPES)
    # Narrower float types are never slower: fp8 >= bf16, fp4 >= fp8 (int8 is not: B300, GB300).
    assert gpu.peak_flop_per_s["fp8"] >= gpu.peak_flop_per_s["bf16"]
    if gpu.supports("fp4"):
        assert gpu.peak_flop_per_s["fp4"] >= gpu.peak_flop_per_s["fp8"]
    for fraction in (
        gpu.hbm_efficiency_fraction,
        gpu.decode_compute_efficiency_fraction,
        gpu.prefill_compute_efficiency_fraction,
    ):
        assert 0 < fraction <= 1
    # Decode-shaped matmuls never beat prefill-shaped ones (H200 measured 0.63 vs 0.76).
    assert gpu.decode_compute_efficiency_fraction <= gpu.prefill_compute_efficiency_fraction
    assert 300 <= gpu.power_w <= 2000
    assert 50e9 <= gpu.scale_up_bytes_per_s <= 2000e9
    assert 10e9 <= gpu.host_link_bytes_per_s <= 1000e9
    assert 64e9 <= gpu.host_memory_bytes <= 1024e9
    assert gpu.sustained_decode_flop_per_s is None  # the seed preset is opt-in
    sourced = {"hbm_bytes", "hbm_bytes_per_s", "power_w", "host_link_bytes_per_s"}
    sourced |= {f"peak_flop_per_s.{dtype}" for dtype in DTYPES}
    assert sourced <= set(gpu.sources)


@pytest.mark.parametrize("name", default_catalogue().fabric_names())
def test_fabric_ranges(name: str) -> None:
    fabric = default_catalogue().fabric(name)
    assert fabric.kind in ("scale-up", "scale-out")
    assert 10e9 <= fabric.bytes_per_s <= 2000e9
    assert 0.1e-6 <= fabric.latency_s <= 100e-6
    assert 0 < fabric.efficiency_fraction <= 1
    if fabric.peer_to_peer_bytes_per_s is not None:
        assert fabric.peer_to_peer_bytes_per_s < fabric.bytes_per_s
    assert {"bytes_per_s", "latency_s", "efficiency_fraction"} <= set(fabric.sources)


@pytest.mark.parametrize("name", default_catalogue().system_names())
def test_system_ranges_and_references(name: str) -> None:
    cat = default_catalogue()
    system = cat.system(name)
    assert system.gpus_per_server in (4, 8)
    assert 8 <= system.gpus_per_rack <= 128
    assert system.gpus_per_server <= system.scale_up_domain_gpus <= system.gpus_per_rack
    hw = cat.hardware(name)
    assert hw.gpu.name == system.gpu
    assert set(hw.fabrics) == set(TIERS)
    # The scale-up fabric inside a server is the GPU's own scale-up link.
    assert hw.fabrics["intra_server"].kind == "scale-up"
    assert hw.fabrics["intra_server"].bytes_per_s == hw.gpu.scale_up_bytes_per_s
    assert hw.fabrics["inter_rack"].kind == "scale-out"
    if system.rack_power_w is not None:
        # The rack budget covers at least its GPUs' board power.
        assert system.rack_power_w >= system.gpus_per_rack * hw.gpu.power_w
