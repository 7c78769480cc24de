"""Catalogue file schemas, in datasheet units, and their one-time conversion to SI specs.

A catalogue file is TOML whose keys carry the datasheet's units (``hbm_bandwidth_tb_per_s = 4.8``).
Each schema is a frozen, strict pydantic model with ``extra="forbid"``: a misspelt key, a string
where a number belongs, or a zero/negative size fails at load with the key named. ``to_spec()``
converts to the SI objects of `hardware.specs` (calculon's habit: convert once, at load).

Sources: every entry has a one-line ``source``; the ``[sources]`` table maps each key to where its
value comes from. A key missing from ``[sources]`` falls back to ``source`` (so a user entry may
give just ``source``); the shipped catalogue's test demands an explicit source for every number.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from hardware.specs import DTYPES, FabricKind, FabricSpec, GpuSpec, HostLink, SystemSpec

# Decimal prefixes for rates and labelled capacities (STYLE habit 1).
GB = 1e9
TB = 1e12
TFLOP = 1e12
US = 1e-6
KW = 1e3

Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]
Text = Annotated[str, Field(min_length=1)]


def _peak_or_false(value: Any) -> float | None:
    """A peak is a positive number, or ``false`` for a mode the part lacks (-> ``None``)."""
    if value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a positive number, or false if the part lacks it (got {value!r})")
    if not value > 0:
        raise ValueError(f"must be > 0, or false if the part lacks it (got {value!r})")
    return float(value)


Peak = Annotated[float | None, BeforeValidator(_peak_or_false)]


class _File(BaseModel):
    """Closed, strict, frozen base for catalogue files."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    #: Keys that may appear in ``[sources]`` (besides any listed here, nothing).
    SOURCED_KEYS: ClassVar[tuple[str, ...]] = ()
    #: Keys that hold numbers; the shipped catalogue must source each explicitly.
    NUMERIC_KEYS: ClassVar[tuple[str, ...]] = ()

    source: Text
    sources: dict[str, Text] = {}

    @field_validator("sources")
    @classmethod
    def _known_source_keys(cls, sources: dict[str, str]) -> dict[str, str]:
        for key in sources:
            if key not in cls.SOURCED_KEYS:
                close = difflib.get_close_matches(key, cls.SOURCED_KEYS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ValueError(f"names unknown key '{key}'{hint}")
        return sources

    def source_of(self, key: str) -> str:
        """Source for ``key``: its ``[sources]`` entry, else the entry's ``source``."""
        return self.sources.get(key, self.source)

    def unsourced_keys(self) -> list[str]:
        """Numeric keys present in this file that have no explicit ``[sources]`` entry."""
        return [key for key in self.NUMERIC_KEYS if self._has_value(key) and key not in self.sources]

    def _has_value(self, key: str) -> bool:
        return getattr(self, key, None) is not None


class PeakTable(BaseModel):
    """``[peak_dense_tflops]``: dense tensor-core peak per dtype in TFLOP/s (TOP/s for ints).

    Every dtype must be written; ``false`` marks a mode the part does not have. Sources go in the
    GPU entry's ``[sources]`` as ``peak_dense_tflops`` or ``"peak_dense_tflops.<dtype>"``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    bf16: Peak
    fp8: Peak
    int8: Peak
    fp4: Peak
    int4: Peak


class GpuFile(_File):
    """``data/gpus/<name>.toml``."""

    NUMERIC_KEYS: ClassVar[tuple[str, ...]] = (
        "hbm_capacity_gb",
        "hbm_bandwidth_tb_per_s",
        *(f"peak_dense_tflops.{dtype}" for dtype in DTYPES),
        "scale_up_bandwidth_gb_per_s_per_direction",
        "host_link_bandwidth_gb_per_s_per_direction",
        "host_memory_gb_per_gpu",
        "board_power_w",
        "hbm_efficiency",
        "decode_compute_efficiency",
        "prefill_compute_efficiency",
        "narrow_gemm_efficiency_ratio",
        "prefill_narrow_gemm_efficiency_ratio",
        "sustained_decode_tflops",
    )
    SOURCED_KEYS: ClassVar[tuple[str, ...]] = (*NUMERIC_KEYS, "peak_dense_tflops", "host_link")

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
        """Convert to SI: GB x 1e9, TB/s x 1e12, TFLOP/s x 1e12."""
        peaks = {
            dtype: (None if value is None else value * TFLOP)
            for dtype in DTYPES
            for value in [getattr(self.peak_dense_tflops, dtype)]
        }
        sources = {
            "hbm_bytes": self.source_of("hbm_capacity_gb"),
            "hbm_bytes_per_s": self.source_of("hbm_bandwidth_tb_per_s"),
            **{f"peak_flop_per_s.{dtype}": self._peak_source(dtype) for dtype in DTYPES},
            "scale_up_bytes_per_s": self.source_of("scale_up_bandwidth_gb_per_s_per_direction"),
            "host_link": self.source_of("host_link"),
            "host_link_bytes_per_s": self.source_of("host_link_bandwidth_gb_per_s_per_direction"),
            "host_memory_bytes": self.source_of("host_memory_gb_per_gpu"),
            "power_w": self.source_of("board_power_w"),
            "hbm_efficiency_fraction": self.source_of("hbm_efficiency"),
            "decode_compute_efficiency_fraction": self.source_of("decode_compute_efficiency"),
            "prefill_compute_efficiency_fraction": self.source_of("prefill_compute_efficiency"),
            "narrow_gemm_efficiency_fraction": self.source_of("narrow_gemm_efficiency_ratio"),
            "prefill_narrow_gemm_efficiency_fraction": self.source_of("prefill_narrow_gemm_efficiency_ratio"),
        }
        sustained = None
        if self.sustained_decode_tflops is not None:
            sustained = self.sustained_decode_tflops * TFLOP
            sources["sustained_decode_flop_per_s"] = self.source_of("sustained_decode_tflops")
        return GpuSpec(
            name=self.name,
            vendor=self.vendor,
            source=self.source,
            hbm_bytes=self.hbm_capacity_gb * GB,
            hbm_bytes_per_s=self.hbm_bandwidth_tb_per_s * TB,
            peak_flop_per_s=peaks,
            scale_up_bytes_per_s=self.scale_up_bandwidth_gb_per_s_per_direction * GB,
            host_link=self.host_link,
            host_link_bytes_per_s=self.host_link_bandwidth_gb_per_s_per_direction * GB,
            host_memory_bytes=self.host_memory_gb_per_gpu * GB,
            power_w=self.board_power_w,
            hbm_efficiency_fraction=self.hbm_efficiency,
            decode_compute_efficiency_fraction=self.decode_compute_efficiency,
            prefill_compute_efficiency_fraction=self.prefill_compute_efficiency,
            narrow_gemm_efficiency_fraction=self.narrow_gemm_efficiency_ratio,
            prefill_narrow_gemm_efficiency_fraction=self.prefill_narrow_gemm_efficiency_ratio,
            sustained_decode_flop_per_s=sustained,
            sources=sources,
        )


class FabricFile(_File):
    """``data/fabrics/<name>.toml``; bandwidths are per GPU per direction."""

    NUMERIC_KEYS: ClassVar[tuple[str, ...]] = (
        "bandwidth_gb_per_s_per_direction",
        "latency_us",
        "efficiency",
        "peer_to_peer_gb_per_s_per_direction",
    )
    SOURCED_KEYS: ClassVar[tuple[str, ...]] = (*NUMERIC_KEYS, "kind")

    name: Text
    kind: FabricKind
    bandwidth_gb_per_s_per_direction: Positive
    latency_us: Positive
    efficiency: Fraction
    peer_to_peer_gb_per_s_per_direction: Positive | None = None

    def to_spec(self) -> FabricSpec:
        """Convert to SI: GB/s x 1e9, us x 1e-6."""
        p2p = self.peer_to_peer_gb_per_s_per_direction
        sources = {
            "kind": self.source_of("kind"),
            "bytes_per_s": self.source_of("bandwidth_gb_per_s_per_direction"),
            "latency_s": self.source_of("latency_us"),
            "efficiency_fraction": self.source_of("efficiency"),
        }
        if p2p is not None:
            sources["peer_to_peer_bytes_per_s"] = self.source_of("peer_to_peer_gb_per_s_per_direction")
        return FabricSpec(
            name=self.name,
            kind=self.kind,
            source=self.source,
            bytes_per_s=self.bandwidth_gb_per_s_per_direction * GB,
            latency_s=self.latency_us * US,
            efficiency_fraction=self.efficiency,
            peer_to_peer_bytes_per_s=None if p2p is None else p2p * GB,
            sources=sources,
        )


class SystemFile(_File):
    """``data/systems/<name>.toml``; fabric and GPU fields name other catalogue entries."""

    NUMERIC_KEYS: ClassVar[tuple[str, ...]] = (
        "gpus_per_server",
        "servers_per_rack",
        "scale_up_domain_gpus",
        "rack_power_kw",
    )
    SOURCED_KEYS: ClassVar[tuple[str, ...]] = (
        *NUMERIC_KEYS,
        "gpu",
        "intra_server_fabric",
        "inter_server_fabric",
        "inter_rack_fabric",
    )

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
        gpus_per_rack = self.gpus_per_server * self.servers_per_rack
        if self.scale_up_domain_gpus > gpus_per_rack:
            raise ValueError(
                f"field 'scale_up_domain_gpus' ({self.scale_up_domain_gpus}) must be <= "
                f"gpus_per_server x servers_per_rack ({gpus_per_rack})"
            )
        return self

    def to_spec(self) -> SystemSpec:
        """Convert to SI: kW x 1e3."""
        names = ("gpu", "gpus_per_server", "servers_per_rack", "scale_up_domain_gpus")
        names += ("intra_server_fabric", "inter_server_fabric", "inter_rack_fabric")
        sources = {key: self.source_of(key) for key in names}
        if self.rack_power_kw is not None:
            sources["rack_power_w"] = self.source_of("rack_power_kw")
        return SystemSpec(
            name=self.name,
            gpu=self.gpu,
            source=self.source,
            gpus_per_server=self.gpus_per_server,
            servers_per_rack=self.servers_per_rack,
            scale_up_domain_gpus=self.scale_up_domain_gpus,
            intra_server_fabric=self.intra_server_fabric,
            inter_server_fabric=self.inter_server_fabric,
            inter_rack_fabric=self.inter_rack_fabric,
            rack_power_w=None if self.rack_power_kw is None else self.rack_power_kw * KW,
            sources=sources,
        )


class PresetSpec(BaseModel):
    """A named set of per-GPU overrides (SI), e.g. the seed simulator's decode FLOP rates.

    Attributes:
        name: Preset name, e.g. ``"seed"``.
        source: One-line summary.
        sustained_decode_flop_per_s: FLOP/s keyed by lower-case GPU name.
        sources: Source per GPU name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: str
    sustained_decode_flop_per_s: dict[str, float]
    sources: dict[str, str]


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
