"""Catalogue file schemas, in datasheet units, and their one-time conversion to SI specs.

A catalogue file is TOML whose keys carry the datasheet's units (``hbm_bandwidth_tb_per_s = 4.8``).
Each schema is a frozen, strict pydantic model with ``extra="forbid"``: a misspelt key, a string
where a number belongs, or a zero/negative size fails at load with the key named. ``to_spec()``
converts to the SI objects of `hardware.specs` (calculon's habit: convert once, at load).

Each schema's ``CONVERT`` table is the one place that says which spec attribute a file key becomes
and the factor that takes its datasheet unit to SI; ``to_spec()``, the per-attribute sources and
the list of keys that need a source all follow from it.

Sources: every entry has a one-line ``source``; the ``[sources]`` table maps each key to where its
value comes from. A key missing from ``[sources]`` falls back to ``source`` (so a user entry may
give just ``source``); the shipped catalogue's test demands an explicit source for every number.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from hardware.specs import (
    DTYPES,
    FABRIC_KINDS,
    HOST_LINKS,
    FabricSpec,
    GpuSpec,
    PresetSpec,
    SystemSpec,
    check_domain_fits_rack,
)

# Decimal prefixes for rates and labelled capacities (STYLE habit 1).
GB = 1e9
TB = 1e12
TFLOP = 1e12
US = 1e-6
KW = 1e3

Text = Annotated[str, Field(min_length=1)]
HostLink = Literal[HOST_LINKS]
FabricKind = Literal[FABRIC_KINDS]
PositiveInt = Annotated[int, Field(gt=0)]
# Finite: an ``inf`` bandwidth or ``nan`` power in a file is refused at load, never planned with.
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]

# A datasheet figure in its file unit (GB, TB/s, GB/s, W, us, TFLOP/s, kW): finite, and within a range
# no part comes near, so the conversion to SI and every figure derived from it stay finite.
DATASHEET_MIN, DATASHEET_MAX = 1e-6, 1e9


def _datasheet_range(value: float) -> float:
    if not DATASHEET_MIN <= value <= DATASHEET_MAX:
        raise ValueError(f"must be in {DATASHEET_MIN:g}..{DATASHEET_MAX:g} (got {value!r})")
    return value


Positive = Annotated[float, Field(gt=0, allow_inf_nan=False), AfterValidator(_datasheet_range)]

#: A ``CONVERT`` entry: the spec attribute a file key becomes, and the factor to SI (1 for a
#: number already in SI, ``None`` for a name or kind, which is copied as is).
Conversion = tuple[str, float | None]


def _peak_or_false(value: Any) -> float | None:
    """A peak is a positive number, or ``false`` for a mode the part lacks (-> ``None``)."""
    if value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a positive number, or false if the part lacks it (got {value!r})")
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, or false if the part lacks it (got {value!r})")
    if not value > 0:
        raise ValueError(f"must be > 0, or false if the part lacks it (got {value!r})")
    if not DATASHEET_MIN <= value <= DATASHEET_MAX:
        raise ValueError(f"must be in {DATASHEET_MIN:g}..{DATASHEET_MAX:g} TFLOP/s (got {value!r})")
    return float(value)


Peak = Annotated[float | None, BeforeValidator(_peak_or_false)]


class _File(BaseModel):
    """Closed, strict, frozen base for catalogue files."""

    # defer_build (as every pydantic model of the project): the validator is built at the first
    # validation, not at import, so a command that never validates a kind does not pay for it.
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", strict=True)

    #: File key -> (spec attribute, factor to SI); drives `to_spec`.
    CONVERT: ClassVar[dict[str, Conversion]] = {}
    #: The SI spec `to_spec` builds.
    SPEC: ClassVar[type]

    source: Text
    sources: dict[str, Text] = {}

    @classmethod
    def sourced_keys(cls) -> tuple[str, ...]:
        """Keys that may appear in ``[sources]``: every ``CONVERT`` key."""
        return tuple(cls.CONVERT)

    @classmethod
    def numeric_keys(cls) -> tuple[str, ...]:
        """Keys that hold numbers; the shipped catalogue must source each explicitly."""
        return tuple(key for key, (_, factor) in cls.CONVERT.items() if factor is not None)

    @field_validator("sources")
    @classmethod
    def _known_source_keys(cls, sources: dict[str, str]) -> dict[str, str]:
        known = cls.sourced_keys()
        for key in sources:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ValueError(f"names unknown key '{key}'{hint}")
        return sources

    def source_of(self, key: str) -> str:
        """Source for ``key``: its ``[sources]`` entry, else the entry's ``source``."""
        return self.sources.get(key, self.source)

    def unsourced_keys(self) -> list[str]:
        """Numeric keys present in this file that have no explicit ``[sources]`` entry."""
        return [key for key in self.numeric_keys() if self._has_value(key) and key not in self.sources]

    def _has_value(self, key: str) -> bool:
        return getattr(self, key, None) is not None

    def converted(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The ``CONVERT`` keys present, as spec attributes in SI, and the source of each.

        An absent optional key is left out, so the spec's default (``None``) applies.
        """
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for key, (attribute, factor) in self.CONVERT.items():
            value = getattr(self, key)
            if value is None:
                continue
            values[attribute] = value if factor is None else value * factor
            sources[attribute] = self.source_of(key)
        return values, sources

    def to_spec(self):
        """Convert to the SI spec (``CONVERT`` gives each key's attribute and factor)."""
        values, sources = self.converted()
        return self.SPEC(name=self.name, source=self.source, sources=sources, **values)


class PeakTable(BaseModel):
    """``[peak_dense_tflops]``: dense tensor-core peak per dtype in TFLOP/s (TOP/s for ints).

    Every dtype must be written; ``false`` marks a mode the part does not have. Sources go in the
    GPU entry's ``[sources]`` as ``peak_dense_tflops`` or ``"peak_dense_tflops.<dtype>"``.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", strict=True)

    bf16: Peak
    fp8: Peak
    int8: Peak
    fp4: Peak
    int4: Peak

    @model_validator(mode="after")
    def _bf16_peak(self) -> PeakTable:
        # bf16 is the precision the model falls back to (attention, bf16 weights): every part needs it.
        if self.bf16 is None:
            raise ValueError("bf16 is false: every GPU needs a bf16 peak (attention and bf16 weights run at it)")
        return self


class GpuFile(_File):
    """``data/gpus/<name>.toml``."""

    SPEC = GpuSpec
    CONVERT: ClassVar[dict[str, Conversion]] = {
        "hbm_capacity_gb": ("hbm_bytes", GB),
        "hbm_bandwidth_tb_per_s": ("hbm_bytes_per_s", TB),
        "scale_up_bandwidth_gb_per_s_per_direction": ("scale_up_bytes_per_s", GB),
        "host_link": ("host_link", None),
        "host_link_bandwidth_gb_per_s_per_direction": ("host_link_bytes_per_s", GB),
        "host_memory_gb_per_gpu": ("host_memory_bytes", GB),
        "board_power_w": ("power_w", 1),
        "hbm_efficiency": ("hbm_efficiency_fraction", 1),
        "decode_compute_efficiency": ("decode_compute_efficiency_fraction", 1),
        "prefill_compute_efficiency": ("prefill_compute_efficiency_fraction", 1),
        "narrow_gemm_efficiency_ratio": ("narrow_gemm_efficiency_fraction", 1),
        "prefill_narrow_gemm_efficiency_ratio": ("prefill_narrow_gemm_efficiency_fraction", 1),
        "sustained_decode_tflops": ("sustained_decode_flop_per_s", TFLOP),
        "sm_count": ("sm_count", 1),
    }
    PEAK_KEYS: ClassVar[tuple[str, ...]] = tuple(f"peak_dense_tflops.{dtype}" for dtype in DTYPES)

    name: Text
    vendor: Text
    hbm_capacity_gb: Positive
    hbm_bandwidth_tb_per_s: Positive
    peak_dense_tflops: PeakTable
    scale_up_bandwidth_gb_per_s_per_direction: Positive
    host_link: HostLink
    host_link_bandwidth_gb_per_s_per_direction: Positive
    host_memory_gb_per_gpu: Positive
    board_power_w: Positive
    hbm_efficiency: Fraction
    decode_compute_efficiency: Fraction
    prefill_compute_efficiency: Fraction
    narrow_gemm_efficiency_ratio: Fraction = 1.0
    prefill_narrow_gemm_efficiency_ratio: Fraction = 1.0
    sustained_decode_tflops: Positive | None = None
    sm_count: PositiveInt | None = None

    @classmethod
    def sourced_keys(cls) -> tuple[str, ...]:
        """As `_File.sourced_keys`, plus the peaks: one per dtype, or all at once."""
        return (*super().sourced_keys(), *cls.PEAK_KEYS, "peak_dense_tflops")

    @classmethod
    def numeric_keys(cls) -> tuple[str, ...]:
        """As `_File.numeric_keys`, plus one key per peak dtype."""
        return (*super().numeric_keys(), *cls.PEAK_KEYS)

    def _has_value(self, key: str) -> bool:
        if key.startswith("peak_dense_tflops."):
            return True  # a `false` is a claim too, and needs a source
        return super()._has_value(key)

    def unsourced_keys(self) -> list[str]:
        """As `_File.unsourced_keys`; a ``peak_dense_tflops`` source covers every dtype."""
        missing = super().unsourced_keys()
        if "peak_dense_tflops" in self.sources:
            missing = [key for key in missing if not key.startswith("peak_dense_tflops.")]
        return missing

    def _peak_source(self, dtype: str) -> str:
        key = f"peak_dense_tflops.{dtype}"
        return self.sources.get(key) or self.source_of("peak_dense_tflops")

    def to_spec(self) -> GpuSpec:
        """Convert to SI: GB x 1e9, TB/s x 1e12, TFLOP/s x 1e12; peaks from the table."""
        values, sources = self.converted()
        peaks = {dtype: getattr(self.peak_dense_tflops, dtype) for dtype in DTYPES}
        sources.update({f"peak_flop_per_s.{dtype}": self._peak_source(dtype) for dtype in DTYPES})
        # Listed in the spec's field order (peaks after the HBM figures), as `rackplan show` prints them.
        fields = [field.name for field in dataclasses.fields(GpuSpec)]
        sources = dict(sorted(sources.items(), key=lambda item: fields.index(item[0].split(".")[0])))
        return GpuSpec(
            name=self.name,
            vendor=self.vendor,
            source=self.source,
            peak_flop_per_s={dtype: None if tflops is None else tflops * TFLOP for dtype, tflops in peaks.items()},
            sources=sources,
            **values,
        )


class FabricFile(_File):
    """``data/fabrics/<name>.toml``; bandwidths are per GPU per direction."""

    SPEC = FabricSpec
    CONVERT: ClassVar[dict[str, Conversion]] = {
        "kind": ("kind", None),
        "bandwidth_gb_per_s_per_direction": ("bytes_per_s", GB),
        "latency_us": ("latency_s", US),
        "efficiency": ("efficiency_fraction", 1),
        "peer_to_peer_gb_per_s_per_direction": ("peer_to_peer_bytes_per_s", GB),
    }

    name: Text
    kind: FabricKind
    bandwidth_gb_per_s_per_direction: Positive
    latency_us: Positive
    efficiency: Fraction
    peer_to_peer_gb_per_s_per_direction: Positive | None = None


class SystemFile(_File):
    """``data/systems/<name>.toml``; fabric and GPU fields name other catalogue entries."""

    SPEC = SystemSpec
    CONVERT: ClassVar[dict[str, Conversion]] = {
        "gpu": ("gpu", None),
        "gpus_per_server": ("gpus_per_server", 1),
        "servers_per_rack": ("servers_per_rack", 1),
        "scale_up_domain_gpus": ("scale_up_domain_gpus", 1),
        "intra_server_fabric": ("intra_server_fabric", None),
        "inter_server_fabric": ("inter_server_fabric", None),
        "inter_rack_fabric": ("inter_rack_fabric", None),
        "rack_power_kw": ("rack_power_w", KW),
    }

    name: Text
    gpu: Text
    gpus_per_server: PositiveInt
    servers_per_rack: PositiveInt
    scale_up_domain_gpus: PositiveInt
    intra_server_fabric: Text
    inter_server_fabric: Text
    inter_rack_fabric: Text
    rack_power_kw: Positive | None = None

    @model_validator(mode="after")
    def _domain_fits_rack(self) -> SystemFile:
        # Checked here too (not only in `SystemSpec`) so the error names the file at load.
        check_domain_fits_rack(self.scale_up_domain_gpus, self.gpus_per_server, self.servers_per_rack)
        return self


class PresetFile(_File):
    """``data/presets/<name>.toml``: ``[sustained_decode_tflops]`` maps GPU name -> TFLOP/s."""

    name: Text
    sustained_decode_tflops: dict[str, Positive]

    @field_validator("sources")
    @classmethod
    def _known_source_keys(cls, sources: dict[str, str]) -> dict[str, str]:
        return sources  # keyed by GPU name; checked against the table in `unsourced_keys`

    @model_validator(mode="after")
    def _sources_name_table_gpus(self) -> PresetFile:
        for key in self.sources:
            if key not in self.sustained_decode_tflops:
                raise ValueError(f"[sources] names '{key}', which [sustained_decode_tflops] lacks")
        return self

    def unsourced_keys(self) -> list[str]:
        """GPU names in the table with no explicit ``[sources]`` entry."""
        return [name for name in self.sustained_decode_tflops if name not in self.sources]

    def to_spec(self) -> PresetSpec:
        """Convert to SI: TFLOP/s x 1e12; GPU names lower-cased."""
        return PresetSpec(
            name=self.name,
            source=self.source,
            sustained_decode_flop_per_s={
                gpu.lower(): tflops * TFLOP for gpu, tflops in self.sustained_decode_tflops.items()
            },
            sources={gpu.lower(): self.source_of(gpu) for gpu in self.sustained_decode_tflops},
        )


def known_keys(model: type[BaseModel]) -> list[str]:
    """Every key name a file of this schema may use (top level and nested tables)."""
    keys = list(model.model_fields)
    if model is GpuFile:
        keys += list(DTYPES)
    return keys
