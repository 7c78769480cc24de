"""The hardware specs' declared checks (`specbase.checks`): each bound refused with its one-line message, the
types kept as the files' validation kept them, and `dataclasses.replace` checked as construction is."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from hardware import TIERS, CatalogueError, FabricSpec, GpuSpec, Hardware, PresetSpec, SystemSpec, default_catalogue
from specbase.checks import FieldError


@pytest.fixture(scope="module")
def cat():
    return default_catalogue()


FINITE = "must be a finite number (got inf)"
# (spec, field, a wrong value, the message); every bound of every field, one wrong value each
BAD = [
    ("gpu", "name", 3, "must be a string (got 3)"),
    ("gpu", "vendor", None, "is required; give a string"),
    ("gpu", "source", b"x", "must be a string (got b'x')"),
    ("gpu", "hbm_bytes", 0, "must be > 0 (got 0.0)"),
    ("gpu", "hbm_bytes_per_s", -4.8e12, "must be > 0 (got -4800000000000.0)"),
    ("gpu", "hbm_bytes_per_s", float("inf"), FINITE),
    ("gpu", "scale_up_bytes_per_s", "450e9", "must be a number (got '450e9')"),
    ("gpu", "host_link", "pcie-gen7",
     "must be one of 'pcie-gen4', 'pcie-gen5', 'pcie-gen6', 'nvlink-c2c' (got 'pcie-gen7')"),
    ("gpu", "host_link_bytes_per_s", 0.0, "must be > 0 (got 0.0)"),
    ("gpu", "host_memory_bytes", -1, "must be > 0 (got -1.0)"),
    ("gpu", "power_w", True, "must be a number (got True)"),
    ("gpu", "power_w", float("nan"), "must be a finite number (got nan)"),
    ("gpu", "hbm_efficiency_fraction", 0, "must be > 0 (got 0.0)"),
    ("gpu", "hbm_efficiency_fraction", 1.01, "must be <= 1 (got 1.01)"),
    ("gpu", "decode_compute_efficiency_fraction", 1.5, "must be <= 1 (got 1.5)"),
    ("gpu", "prefill_compute_efficiency_fraction", -0.5, "must be > 0 (got -0.5)"),
    ("gpu", "narrow_gemm_efficiency_fraction", 2, "must be <= 1 (got 2.0)"),
    ("gpu", "prefill_narrow_gemm_efficiency_fraction", 0, "must be > 0 (got 0.0)"),
    ("gpu", "sustained_decode_flop_per_s", -24e12, "must be > 0 (got -24000000000000.0)"),
    ("gpu", "sm_count", 0, "must be > 0 (got 0)"),
    ("gpu", "sm_count", 132.5, "must be an integer (got 132.5)"),
    ("gpu", "sources", ["a"], "must be a table of names to values (got ['a'])"),
    ("gpu", "peak_flop_per_s", {"bf16": 989e12}, "keys must be exactly bf16, fp8, int8, fp4, int4 (got bf16)"),
    ("fabric", "name", None, "is required; give a string"),
    ("fabric", "kind", "scale-sideways", "must be one of 'scale-up', 'scale-out' (got 'scale-sideways')"),
    ("fabric", "bytes_per_s", 0, "must be > 0 (got 0.0)"),
    ("fabric", "latency_s", -1e-6, "must be > 0 (got -1e-06)"),
    ("fabric", "efficiency_fraction", 1.2, "must be <= 1 (got 1.2)"),
    ("fabric", "efficiency_fraction", 0.0, "must be > 0 (got 0.0)"),
    ("fabric", "peer_to_peer_bytes_per_s", 0, "must be > 0 (got 0.0)"),
    ("system", "gpu", 200, "must be a string (got 200)"),
    ("system", "gpus_per_server", 0, "must be > 0 (got 0)"),
    ("system", "servers_per_rack", 4.5, "must be an integer (got 4.5)"),
    ("system", "scale_up_domain_gpus", -8, "must be > 0 (got -8)"),
    ("system", "inter_rack_fabric", None, "is required; give a string"),
    ("system", "rack_power_w", -40e3, "must be > 0 (got -40000.0)"),
    ("preset", "sustained_decode_flop_per_s", None, "is required; give a table"),
]


def _real(cat, kind: str):
    return {"gpu": cat.gpu("h200-sxm"), "fabric": cat.fabric("nvlink4"), "system": cat.system("hgx-h200"),
            "preset": cat.preset("seed")}[kind]


@pytest.mark.parametrize(("kind", "field", "value", "problem"), BAD, ids=[f"{b[0]}.{b[1]}={b[2]!r}" for b in BAD])
def test_each_bound_is_refused_in_one_line_naming_the_field(cat, kind, field, value, problem) -> None:
    with pytest.raises(FieldError) as refused:
        dataclasses.replace(_real(cat, kind), **{field: value})  # replace builds anew: the checks run again
    assert str(refused.value) == f"field '{field}' {problem}"
    assert isinstance(refused.value, ValueError)  # as pydantic's ValidationError was


@pytest.mark.parametrize(("kind", "field", "entry", "message"), [
    ("gpu", "peak_flop_per_s", {"fp8": -1}, "field 'peak_flop_per_s.fp8' must be > 0 (got -1.0)"),
    ("gpu", "sources", {"hbm_bytes": 1}, "field 'sources.hbm_bytes' must be a string (got 1)"),
    ("preset", "sustained_decode_flop_per_s", {"gb200": "fast"},
     "field 'sustained_decode_flop_per_s.gb200' must be a number (got 'fast')"),
])
def test_a_table_names_the_key_it_refuses(cat, kind, field, entry, message) -> None:
    spec = _real(cat, kind)
    with pytest.raises(FieldError) as refused:
        dataclasses.replace(spec, **{field: {**getattr(spec, field), **entry}})
    assert str(refused.value) == message


def test_a_domain_larger_than_the_rack_is_refused(cat) -> None:
    system = cat.system("hgx-h200")  # 8 GPUs a server x 4 servers = 32 a rack
    with pytest.raises(FieldError) as refused:
        dataclasses.replace(system, scale_up_domain_gpus=64)
    assert str(refused.value) == "field 'scale_up_domain_gpus' (64) must be <= gpus_per_server x servers_per_rack (32)"
    assert dataclasses.replace(system, scale_up_domain_gpus=32).scale_up_domain_gpus == 32  # the bound itself holds


@pytest.mark.parametrize(("change", "message"), [
    (lambda hw, cat: {"system": hw.system.name}, "field 'system' must be a SystemSpec (got str)"),
    (lambda hw, cat: {"gpu": hw.system}, "field 'gpu' must be a GpuSpec (got SystemSpec)"),
    (lambda hw, cat: {"fabrics": list(hw.fabrics.values())}, "field 'fabrics' must be keyed by intra_server, "
                                                             "inter_server, inter_rack (got list)"),
    (lambda hw, cat: {"fabrics": {**hw.fabrics, "inter_rack": "400gbe"}},
     "field 'fabrics.inter_rack' must be a FabricSpec (got str)"),
    (lambda hw, cat: {"gpu": cat.gpu("h100-sxm")}, "field 'gpu' must be its system's GPU: system 'hgx-h200' is "
                                                   "built from GPU 'h200-sxm', not 'h100-sxm'"),
])
def test_hardware_checks_its_parts(cat, change, message) -> None:
    hw = cat.hardware("hgx-h200")
    with pytest.raises(FieldError) as refused:
        dataclasses.replace(hw, **change(hw, cat))
    assert str(refused.value) == message


def test_fields_keep_the_types_validation_gave(cat) -> None:
    # lax, as the pydantic specs were: an int in a float field becomes a float (so JSON prints 700.0 as before),
    # an integral float in an int field an int, and the peaks come back in DTYPES order
    gpu = cat.gpu("h200-sxm")
    peaks = dict(reversed(list(gpu.peak_flop_per_s.items())))
    again = dataclasses.replace(gpu, power_w=700, sm_count=132.0, peak_flop_per_s=peaks)
    assert type(again.power_w) is float and again.power_w == 700.0  # H200 700 W [N1]
    assert type(again.sm_count) is int and again.sm_count == 132  # 132 SMs
    assert list(again.peak_flop_per_s) == ["bf16", "fp8", "int8", "fp4", "int4"]
    assert again == gpu and hash(again) == hash(gpu)
    assert json.dumps(dataclasses.asdict(again)) == json.dumps(dataclasses.asdict(gpu))
    system = cat.system("hgx-h200")
    assert type(dataclasses.replace(system, gpus_per_server=8.0).gpus_per_server) is int


def test_specs_compare_and_hash_by_value(cat) -> None:
    # equal specs are one cache key (dict fields hashed whatever their order); a changed figure is another
    gpu = cat.gpu("h200-sxm")
    shuffled = dataclasses.replace(gpu, sources=dict(reversed(list(gpu.sources.items()))))
    assert shuffled == gpu and hash(shuffled) == hash(gpu)
    faster = dataclasses.replace(gpu, hbm_bytes_per_s=5e12)
    assert faster != gpu and len({gpu, shuffled, faster}) == 2
    hw = cat.hardware("hgx-h200")
    assert {hw: 1}[cat.hardware("h200")] == 1  # the catalogue's two names of one system: one key
    assert hw != cat.with_fabric(hw, "400gbe") and hash(hw) != hash(cat.with_fabric(hw, "400gbe"))
    assert FabricSpec is type(hw.fabrics["intra_server"]) and PresetSpec is type(cat.preset("seed"))


def test_a_spec_needs_every_field_and_no_other(cat) -> None:
    fabric = dataclasses.asdict(cat.fabric("nvlink4"))
    assert FabricSpec(**fabric) == cat.fabric("nvlink4")
    with pytest.raises(TypeError, match="unexpected keyword argument 'bandwidth'"):
        FabricSpec(**fabric, bandwidth=1.0)
    del fabric["latency_s"]
    with pytest.raises(TypeError, match="missing 1 required argument"):
        FabricSpec(**fabric)
    with pytest.raises(TypeError):  # keyword-only, as the pydantic models were
        SystemSpec(*dataclasses.asdict(cat.system("hgx-h200")).values())
    assert GpuSpec(**dataclasses.asdict(cat.gpu("b200"))) == cat.gpu("b200")


def test_hardware_of_turns_the_checks_into_catalogue_errors(cat) -> None:
    system = cat.system("hgx-h200")
    fabrics = {tier: cat.fabric("nvlink4") for tier in TIERS}
    with pytest.raises(CatalogueError) as refused:
        Hardware.of(system=system, gpu=cat.gpu("h200-sxm"), fabrics={**fabrics, "inter_rack": None})
    assert str(refused.value) == "field 'fabrics.inter_rack' must be a FabricSpec (got NoneType)"


def test_the_specs_load_no_validator_library() -> None:
    # a plan that reads the shipped catalogue from its caches builds these records without pydantic
    probe = ("import sys; import hardware.specs, hardware.catalogue, hardware.entry_file, hardware.errors; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' or m == 'hardware.schema'))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_hardware_keeps_its_own_dict_of_fabrics(cat) -> None:
    # any mapping of the three tiers is taken (as pydantic's dict field took one) and copied into a dict
    from types import MappingProxyType

    hw = cat.hardware("hgx-h200")
    fabrics = dict(hw.fabrics)
    again = Hardware(system=hw.system, gpu=hw.gpu, fabrics=MappingProxyType(fabrics))
    assert type(again.fabrics) is dict and again == hw
    fabrics["inter_rack"] = cat.fabric("400gbe")  # the caller's dict changes, the spec does not
    assert again.fabrics["inter_rack"].name == "ib-ndr-400"  # HGX H200 racks on NDR 400 InfiniBand
