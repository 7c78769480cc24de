"""Hand-checked catalogue values (source in each comment) and the spec objects' behaviour."""

from __future__ import annotations

import dataclasses

import pytest

from hardware import TIERS, CatalogueError, default_catalogue


@pytest.fixture(scope="module")
def cat():
    return default_catalogue()


def test_h200_values(cat) -> None:
    gpu = cat.gpu("h200-sxm")
    assert gpu.hbm_bytes == pytest.approx(141e9)  # 141 GB vendor label [N1,N2]
    assert gpu.hbm_bytes_per_s == pytest.approx(4.8e12)  # 4.8 TB/s [N1,N2]
    assert gpu.peak_flop_per_s["bf16"] == pytest.approx(989e12)  # dense [N1,N2]
    assert gpu.peak_flop_per_s["fp8"] == pytest.approx(1979e12)  # dense [N2]
    assert gpu.peak_flop_per_s["fp4"] is None and not gpu.supports("fp4")  # Hopper: no FP4
    assert gpu.supports("int8") and not gpu.supports("int4")
    assert gpu.scale_up_bytes_per_s == pytest.approx(450e9)  # NVLink 4 per direction [N3]
    assert gpu.host_link == "pcie-gen5"
    assert gpu.host_link_bytes_per_s == pytest.approx(63e9)  # Gen5 x16 per direction [N3]
    assert gpu.power_w == 700  # [N1]
    # Measured, calibration/h200_microbench.json:
    assert gpu.hbm_efficiency_fraction == pytest.approx(4207.9 / 4800, abs=1e-3)  # copy 4,207.9 GB/s
    assert gpu.prefill_compute_efficiency_fraction == pytest.approx(752.05 / 989, abs=5e-3)
    # 2 x 1024 x 4096 x 14336 FLOP / 194.14 us = 619.4 TFLOP/s; / 989 = 0.626
    decode = 2 * 1024 * 4096 * 14336 / 194.144e-6 / 989e12
    assert gpu.decode_compute_efficiency_fraction == pytest.approx(decode, abs=5e-3)
    assert gpu.sustained_decode_flop_per_s is None
    assert "h200_microbench" in gpu.sources["hbm_efficiency_fraction"]


def test_blackwell_ultra_int8_is_low(cat) -> None:
    # [N1] aiconfigurator b300_sxm.yaml 153.5 TOPS, gb300.yaml 165 TOPS (not 4.5-5 POPS).
    assert cat.gpu("b300").peak_flop_per_s["int8"] == pytest.approx(153.5e12)
    assert cat.gpu("gb300").peak_flop_per_s["int8"] == pytest.approx(165e12)
    assert cat.gpu("gb300").peak_flop_per_s["fp4"] == pytest.approx(15000e12)  # [N1,N2,N5,N27]


def test_amd_values(cat) -> None:
    mi300x = cat.gpu("MI300X")  # any case
    assert mi300x.peak_flop_per_s["int8"] == mi300x.peak_flop_per_s["fp8"]  # [A1] both 2614.9
    assert mi300x.hbm_bytes_per_s == pytest.approx(5.3e12)  # [A1]
    assert mi300x.host_memory_bytes == pytest.approx(1.5 * 2**40 / 8, rel=1e-3)  # 1.5 TiB / 8 [A6]
    assert cat.gpu("mi355x").peak_flop_per_s["fp4"] == pytest.approx(10100e12)  # dense [A2,N5]


def test_gb200_nvl72(cat) -> None:
    hw = cat.hardware("gb200")  # a GPU name picks its first shipped system
    assert hw.system.name == "gb200-nvl72"
    assert hw.gpu.host_link == "nvlink-c2c"  # Grace over NVLink-C2C [N20]
    assert hw.scale_up_domain_gpus == 72  # one NVLink domain per rack [N7,N10]
    assert hw.gpus_per_server == 4 and hw.gpus_per_rack == 72  # 18 trays x 4 GPUs [N7]
    assert hw.fabrics["inter_server"].name == "nvlink5"  # rack NVSwitch [N17]
    assert hw.fabrics["inter_rack"].name == "ib-ndr-400"  # 4x CX-7 per tray [N7]
    assert hw.tier_for_span(4) == "intra_server"
    assert hw.tier_for_span(72) == "inter_server"
    assert hw.tier_for_span(73) == "inter_rack"
    assert hw.system.rack_power_w == pytest.approx(120e3)  # [N18]
    assert cat.hardware("gb300").fabrics["inter_rack"].name == "800g"  # CX-8 [N9,N28]


def test_hgx_h200_tiers(cat) -> None:
    hw = cat.hardware("h200-sxm")
    assert hw.system.name == "hgx-h200"
    assert hw.gpus_per_server == 8 and hw.gpus_per_rack == 32  # 4 DGX per rack [N12]
    assert hw.tier_for_span(1) == "intra_server"
    assert hw.tier_for_span(8) == "intra_server"
    assert hw.tier_for_span(16) == "inter_server"
    assert hw.tier_for_span(64) == "inter_rack"
    assert hw.fabric_for_span(16).name == "ib-ndr-400"
    assert hw.fabrics["intra_server"].bytes_per_s == pytest.approx(450e9)
    with pytest.raises(CatalogueError):
        hw.tier_for_span(0)


def test_fabric_values(cat) -> None:
    assert cat.fabric("400gbe").bytes_per_s == pytest.approx(50e9)  # 400 Gb/s / 8
    assert cat.fabric("800g").bytes_per_s == pytest.approx(100e9)  # CX-8 800 Gb/s / 8
    assert cat.fabric("nvlink5").bytes_per_s == pytest.approx(900e9)  # [N3]
    mesh = cat.fabric("infinity-fabric-mi300")
    assert mesh.bytes_per_s == pytest.approx(448e9)  # 7 x 64 GB/s [N3,A5]
    assert mesh.peer_to_peer_bytes_per_s == pytest.approx(64e9)
    assert mesh.efficiency_fraction == pytest.approx(0.70)  # 312.9 / 448 [E11]
    assert cat.fabric("nvlink4").latency_s == pytest.approx(10e-6)  # p2p_latency [E1]


def test_mi355x_rack(cat) -> None:
    hw = cat.hardware("mi355x")
    assert hw.system.name == "mi355x-8"
    assert hw.gpus_per_rack == 128  # DLC ORv3 rack [A13]
    assert hw.scale_up_domain_gpus == 8
    assert hw.fabrics["inter_server"].name == "400gbe"


def test_with_fabric_replaces_every_tier(cat) -> None:
    hw = cat.hardware("hgx-h200")
    slow = cat.with_fabric(hw, "400gbe")
    assert {slow.fabrics[tier].name for tier in TIERS} == {"400gbe"}
    assert slow.system == hw.system and slow.gpu == hw.gpu
    assert hw.fabrics["intra_server"].name == "nvlink4"  # the original is untouched
    assert cat.with_fabric(hw, "default") is hw
    spec = cat.fabric("800g")
    assert {hw.with_fabric(spec).fabrics[t].name for t in TIERS} == {"800g"}
    assert cat.with_fabric(hw, spec) == hw.with_fabric(spec)
    assert cat.hardware("hgx-h200", fabric="400gbe") == slow
    with pytest.raises(CatalogueError, match="closest: 400gbe"):
        cat.with_fabric(hw, "400gb")
    # A spec does not know its catalogue: a name must go through one.
    with pytest.raises(CatalogueError, match="takes a FabricSpec"):
        hw.with_fabric("400gbe")  # type: ignore[arg-type]


def test_seed_preset_is_opt_in(cat) -> None:
    assert cat.gpu("gb200").sustained_decode_flop_per_s is None
    seeded = cat.gpu("gb200", preset="seed")
    assert seeded.sustained_decode_flop_per_s == pytest.approx(24e12)  # the seed notes' Note 1 (docs/sources.md)
    assert "Note 1" in seeded.sources["sustained_decode_flop_per_s"]
    assert cat.gpu("mi300x", preset="seed").sustained_decode_flop_per_s == pytest.approx(11.5e12)
    assert cat.gpu("mi355x", preset="seed").sustained_decode_flop_per_s == pytest.approx(14.5e12)
    assert cat.gpu("h200-sxm", preset="seed").sustained_decode_flop_per_s is None  # not listed
    assert cat.hardware("gb200-nvl72", preset="seed").gpu.sustained_decode_flop_per_s == 24e12
    with pytest.raises(CatalogueError, match="unknown preset 'sed'"):
        cat.gpu("gb200", preset="sed")


def test_with_sustained_decode(cat) -> None:
    gpu = cat.gpu("h100-sxm")
    fast = gpu.with_sustained_decode(30e12, source="my nsys trace")
    assert fast.sustained_decode_flop_per_s == 30e12 and fast.sources["sustained_decode_flop_per_s"] == "my nsys trace"
    assert gpu.sustained_decode_flop_per_s is None
    assert fast.with_sustained_decode(None) == gpu
    with pytest.raises(CatalogueError, match="must be > 0"):
        gpu.with_sustained_decode(-1.0)


def test_specs_are_frozen_and_hashable(cat) -> None:
    gpu = cat.gpu("h100-sxm")
    with pytest.raises(dataclasses.FrozenInstanceError):  # a frozen record
        gpu.power_w = 1.0  # type: ignore[misc]
    hw = cat.hardware("hgx-h100")
    assert hash(hw) == hash(cat.hardware("hgx-h100"))
    assert len({gpu, cat.gpu("h100-sxm")}) == 1
    with pytest.raises(CatalogueError, match="unknown dtype 'fp16'"):
        gpu.supports("fp16")


def test_hardware_of_validated_specs_is_the_validated_object(cat) -> None:
    # Hardware.of (what the catalogue resolves with) is the constructor, its checks failing as a CatalogueError:
    # the same object as building from the three parts, for every shipped system.
    from hardware import Hardware

    for name in cat.system_names():
        system = cat.system(name)
        parts = {"system": system, "gpu": cat.gpu(system.gpu),
                 "fabrics": {tier: cat.fabric(getattr(system, f"{tier}_fabric")) for tier in TIERS}}
        built, validated = Hardware.of(**parts), Hardware(**parts)
        assert built == validated and hash(built) == hash(validated), name
        assert built.fabrics == parts["fabrics"] and built.fabrics is not parts["fabrics"], name  # a copy
        assert cat.hardware(name) == validated, name
    system = cat.system("hgx-h200")
    fabrics = {tier: cat.fabric(getattr(system, f"{tier}_fabric")) for tier in TIERS}
    with pytest.raises(CatalogueError) as wrong_gpu:
        Hardware.of(system=system, gpu=cat.gpu("b200"), fabrics=fabrics)
    assert str(wrong_gpu.value) == ("field 'gpu' must be its system's GPU: system 'hgx-h200' is built from GPU "
                                    "'h200-sxm', not 'b200'")
    with pytest.raises(CatalogueError) as one_tier:
        Hardware.of(system=system, gpu=cat.gpu(system.gpu), fabrics={"intra_server": fabrics["intra_server"]})
    assert str(one_tier.value) == ("field 'fabrics' must be keyed by intra_server, inter_server, inter_rack "
                                   "(got intra_server)")
