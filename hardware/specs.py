"""Hardware specs in SI units: GPUs, fabrics, systems and a resolved `Hardware`.

Every spec here is built once, at load, from a catalogue file written in datasheet units
(`hardware.schema` does the conversion). Inside the planner only these objects travel, so every
attribute is SI: bytes, bytes per second, FLOP per second, seconds, watts; fractions end in
`_fraction`. Rates use decimal prefixes (1 GB/s = 1e9 B/s); capacities are the vendor's label
read as decimal GB unless the source says GiB.

The specs are records with declared checks (`specbase.checks.spec`): frozen, keyword-only,
compared and hashed by their fields (so they key caches), each field's type and bounds checked at
construction, `dataclasses.replace` included, with a one-line `specbase.checks.FieldError`
(a ``ValueError``) naming the field. Numbers are finite (an ``inf`` bandwidth or ``nan`` power is
refused, never planned with), and an int given for a float field is kept as a float (1 -> 1.0).
They import no validator library: the files a user writes are validated by the pydantic schemas of
`hardware.schema`, loaded only when a file must be. Their dict attributes are not deep-frozen:
treat them as read-only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from hardware.errors import CatalogueError
from specbase.checks import FieldError, choice, integer, mapping, number, spec, text

DTYPES: tuple[str, ...] = ("bf16", "fp8", "int8", "fp4", "int4")
"""Tensor-core data types with a peak rate in the catalogue (int8/int4 rates are OP/s)."""

TIERS: tuple[str, ...] = ("intra_server", "inter_server", "inter_rack")
"""Fabric tiers, innermost first: inside one server, between servers of a rack, between racks."""

HOST_LINKS: tuple[str, ...] = ("pcie-gen4", "pcie-gen5", "pcie-gen6", "nvlink-c2c")
"""CPU<->GPU link kinds a catalogue entry may name."""

FABRIC_KINDS: tuple[str, ...] = ("scale-up", "scale-out")
"""Scale-up: a GPU-to-GPU memory fabric (NVLink, Infinity Fabric). Scale-out: NICs (IB, Ethernet)."""


def check_domain_fits_rack(scale_up_domain_gpus: int, gpus_per_server: int, servers_per_rack: int) -> None:
    """A scale-up domain cannot span more GPUs than one rack holds.

    Raises:
        FieldError: It does (a ``ValueError``: the file schema's validator turns it into the file's error).
    """
    gpus_per_rack = gpus_per_server * servers_per_rack
    if scale_up_domain_gpus > gpus_per_rack:
        raise FieldError("scale_up_domain_gpus", f"({scale_up_domain_gpus}) must be <= "
                                                 f"gpus_per_server x servers_per_rack ({gpus_per_rack})")


@spec
class GpuSpec:
    """One accelerator, all SI.

    Attributes:
        name: Catalogue name, e.g. ``"h200-sxm"``.
        vendor: ``"nvidia"`` or ``"amd"`` (free text for user entries).
        source: One-line summary of where the figures come from.
        hbm_bytes: HBM capacity in bytes (vendor label in decimal GB x 1e9).
        hbm_bytes_per_s: Peak HBM bandwidth in B/s (TB/s x 1e12).
        peak_flop_per_s: Dense (no 2:4 sparsity) tensor-core peak per dtype in FLOP/s (OP/s for
            int8/int4); keys are `DTYPES`; ``None`` marks a mode the part does not have.
        scale_up_bytes_per_s: Scale-up link (NVLink / Infinity Fabric) rate per GPU per direction.
        host_link: CPU<->GPU link kind, one of `HOST_LINKS`.
        host_link_bytes_per_s: CPU<->GPU rate per GPU per direction, B/s.
        host_memory_bytes: Host (CPU) memory per GPU in the typical system, bytes.
        power_w: Board power (TDP/TBP), watts.
        hbm_efficiency_fraction: Achievable fraction of `hbm_bytes_per_s` in streaming reads.
        decode_compute_efficiency_fraction: Achievable fraction of peak FLOP/s in decode-shaped
            (skinny, tokens x hidden) matmuls.
        prefill_compute_efficiency_fraction: Achievable fraction of peak FLOP/s in
            prefill-shaped (large square) matmuls.
        narrow_gemm_efficiency_fraction: Achievable fraction of peak in 8- and 4-bit decode-shaped
            matmuls relative to bf16's (the compute efficiencies above are bf16 measurements;
            narrow-dtype kernels reach a smaller share of their doubled peak).
        prefill_narrow_gemm_efficiency_fraction: The same for prefill-shaped matmuls.
        sm_count: Streaming multiprocessors (NVIDIA) or compute units (AMD) a GEMM's tiles spread
            over (``planner.engine.kernels.gemm``); ``None`` when not given (no wave quantisation).
        sustained_decode_flop_per_s: Optional override of the decode FLOP rate (the seed
            simulator's preset, see `Catalogue.gpu(..., preset="seed")`); ``None`` by default,
            meaning "derive it from peak x decode efficiency".
        sources: Source of each attribute, keyed by attribute name; peaks are keyed
            ``"peak_flop_per_s.<dtype>"``.
    """

    name: str = text()
    vendor: str = text()
    source: str = text()
    hbm_bytes: float = number(gt=0)
    hbm_bytes_per_s: float = number(gt=0)
    peak_flop_per_s: dict[str, float | None] = mapping(number(gt=0, default=None))
    scale_up_bytes_per_s: float = number(gt=0)
    host_link: str = choice(HOST_LINKS)
    host_link_bytes_per_s: float = number(gt=0)
    host_memory_bytes: float = number(gt=0)
    power_w: float = number(gt=0)
    hbm_efficiency_fraction: float = number(gt=0, le=1)
    decode_compute_efficiency_fraction: float = number(gt=0, le=1)
    prefill_compute_efficiency_fraction: float = number(gt=0, le=1)
    narrow_gemm_efficiency_fraction: float = number(gt=0, le=1, default=1.0)
    prefill_narrow_gemm_efficiency_fraction: float = number(gt=0, le=1, default=1.0)
    sustained_decode_flop_per_s: float | None = number(gt=0, default=None)
    sm_count: int | None = integer(gt=0, default=None)
    sources: dict[str, str] = mapping(text())

    def __post_init__(self) -> None:
        # each peak is checked (> 0, or None for a mode the part lacks) by its field; the keys, here
        peaks = self.peak_flop_per_s
        if set(peaks) != set(DTYPES):
            raise FieldError("peak_flop_per_s", f"keys must be exactly {', '.join(DTYPES)} (got {', '.join(peaks)})")
        self.__dict__["peak_flop_per_s"] = {dtype: peaks[dtype] for dtype in DTYPES}

    def supports(self, dtype: str) -> bool:
        """Whether the part has tensor-core support for ``dtype``.

        Args:
            dtype: One of `DTYPES`.

        Raises:
            CatalogueError: ``dtype`` is not one of `DTYPES`.
        """
        if dtype not in DTYPES:
            raise CatalogueError(f"unknown dtype '{dtype}'; use one of {', '.join(DTYPES)}")
        return self.peak_flop_per_s[dtype] is not None

    def with_sustained_decode(
        self, flop_per_s: float | None, source: str = "set by caller"
    ) -> GpuSpec:
        """A copy whose `sustained_decode_flop_per_s` is ``flop_per_s``.

        Args:
            flop_per_s: Sustained decode rate in FLOP/s, or ``None`` to clear the override.
            source: Where the figure comes from; recorded in `sources`.

        Raises:
            CatalogueError: ``flop_per_s`` is zero or negative.
        """
        if flop_per_s is not None and not flop_per_s > 0:
            raise CatalogueError(
                f"GPU '{self.name}': sustained_decode_flop_per_s must be > 0 (got {flop_per_s})"
            )
        sources = dict(self.sources)
        if flop_per_s is None:
            sources.pop("sustained_decode_flop_per_s", None)
        else:
            sources["sustained_decode_flop_per_s"] = source
        return dataclasses.replace(self, sustained_decode_flop_per_s=flop_per_s, sources=sources)


@spec
class FabricSpec:
    """One interconnect as seen by one GPU, all SI.

    Attributes:
        name: Catalogue name, e.g. ``"nvlink5"``, ``"400gbe"``.
        kind: ``"scale-up"`` or ``"scale-out"``.
        source: One-line summary of where the figures come from.
        bytes_per_s: Wire rate per GPU per direction, B/s (for a mesh, the all-to-all aggregate).
        latency_s: Fixed cost per message (per collective step), seconds.
        efficiency_fraction: Achievable fraction of `bytes_per_s` in collectives (NCCL/RCCL
            bus bandwidth over wire rate).
        peer_to_peer_bytes_per_s: Rate between one pair of GPUs per direction, where it is lower
            than `bytes_per_s` (a direct mesh such as Infinity Fabric); ``None`` when a switch
            gives every pair the full rate.
        sources: Source of each attribute, keyed by attribute name.
    """

    name: str = text()
    kind: str = choice(FABRIC_KINDS)
    source: str = text()
    bytes_per_s: float = number(gt=0)
    latency_s: float = number(gt=0)
    efficiency_fraction: float = number(gt=0, le=1)
    peer_to_peer_bytes_per_s: float | None = number(gt=0, default=None)
    sources: dict[str, str] = mapping(text())


@spec
class SystemSpec:
    """A server/rack design built from one GPU type.

    Attributes:
        name: Catalogue name, e.g. ``"hgx-h200"``, ``"gb200-nvl72"``.
        gpu: Name of the GPU entry it is built from.
        source: One-line summary of where the figures come from.
        gpus_per_server: GPUs in one server (for NVL72, one compute tray).
        servers_per_rack: Servers in one rack.
        scale_up_domain_gpus: GPUs reachable over the scale-up fabric (NVLink/IF domain).
        intra_server_fabric: Fabric name between GPUs of one server.
        inter_server_fabric: Fabric name between servers of one rack.
        inter_rack_fabric: Fabric name between racks.
        rack_power_w: Rack power budget in watts, where a source gives one.
        sources: Source of each attribute, keyed by attribute name.
    """

    name: str = text()
    gpu: str = text()
    source: str = text()
    gpus_per_server: int = integer(gt=0)
    servers_per_rack: int = integer(gt=0)
    scale_up_domain_gpus: int = integer(gt=0)
    intra_server_fabric: str = text()
    inter_server_fabric: str = text()
    inter_rack_fabric: str = text()
    rack_power_w: float | None = number(gt=0, default=None)
    sources: dict[str, str] = mapping(text())

    def __post_init__(self) -> None:
        check_domain_fits_rack(self.scale_up_domain_gpus, self.gpus_per_server, self.servers_per_rack)

    @property
    def gpus_per_rack(self) -> int:
        """GPUs in one rack: gpus_per_server x servers_per_rack."""
        return self.gpus_per_server * self.servers_per_rack


@spec
class PresetSpec:
    """A named set of per-GPU overrides (SI), e.g. the seed simulator's decode FLOP rates.

    Attributes:
        name: Preset name, e.g. ``"seed"``.
        source: One-line summary.
        sustained_decode_flop_per_s: FLOP/s keyed by lower-case GPU name.
        sources: Source per GPU name.
    """

    name: str = text()
    source: str = text()
    sustained_decode_flop_per_s: dict[str, float] = mapping(number())
    sources: dict[str, str] = mapping(text())


def _inconsistency(system: SystemSpec, gpu: GpuSpec, fabrics: Mapping[str, FabricSpec]) -> FieldError | None:
    """Why a system, its GPU and its fabrics do not make one `Hardware`, or ``None`` when they do."""
    for field, value, kind in (("system", system, SystemSpec), ("gpu", gpu, GpuSpec)):
        if not isinstance(value, kind):
            return FieldError(field, f"must be a {kind.__name__} (got {type(value).__name__})")
    if not isinstance(fabrics, Mapping) or set(fabrics) != set(TIERS):
        got = ", ".join(map(str, fabrics)) if isinstance(fabrics, Mapping) else type(fabrics).__name__
        return FieldError("fabrics", f"must be keyed by {', '.join(TIERS)} (got {got})")
    for tier, fabric in fabrics.items():
        if not isinstance(fabric, FabricSpec):
            return FieldError(f"fabrics.{tier}", f"must be a FabricSpec (got {type(fabric).__name__})")
    if gpu.name.lower() != system.gpu.lower():
        return FieldError("gpu", f"must be its system's GPU: system '{system.name}' is built from GPU "
                                 f"'{system.gpu}', not '{gpu.name}'")
    return None


@spec
class Hardware:
    """A resolved system: its `SystemSpec`, its `GpuSpec` and one `FabricSpec` per tier.

    Attributes:
        system: The system design.
        gpu: The GPU the system is built from (possibly with a preset applied).
        fabrics: Fabric per tier, keyed by `TIERS`.
    """

    system: SystemSpec
    gpu: GpuSpec
    fabrics: dict[str, FabricSpec]

    def __post_init__(self) -> None:
        problem = _inconsistency(self.system, self.gpu, self.fabrics)
        if problem is not None:
            raise problem
        self.__dict__["fabrics"] = dict(self.fabrics)  # a copy: the caller's dict stays theirs

    @classmethod
    def of(cls, system: SystemSpec, gpu: GpuSpec, fabrics: dict[str, FabricSpec]) -> Hardware:
        """``Hardware(system=..., gpu=..., fabrics=...)``, its checks failing as a `CatalogueError` (what the
        catalogue resolves with: a lookup's error, not a programming one).

        Raises:
            CatalogueError: The specs do not fit together (fabrics not keyed by `TIERS`, another GPU).
        """
        try:
            return cls(system=system, gpu=gpu, fabrics=fabrics)
        except FieldError as exc:
            raise CatalogueError(str(exc)) from None

    @property
    def gpus_per_server(self) -> int:
        """GPUs in one server."""
        return self.system.gpus_per_server

    @property
    def gpus_per_rack(self) -> int:
        """GPUs in one rack."""
        return self.system.gpus_per_rack

    @property
    def scale_up_domain_gpus(self) -> int:
        """GPUs in one scale-up (NVLink / Infinity Fabric) domain."""
        return self.system.scale_up_domain_gpus

    def tier_for_span(self, span_gpus: int) -> str:
        """The innermost tier that holds a group of ``span_gpus`` consecutive GPUs.

        Assumes groups are packed: a group no larger than a server sits in one server, one no
        larger than a rack sits in one rack.

        Args:
            span_gpus: GPUs the communicating group spans (>= 1).

        Returns:
            ``"intra_server"``, ``"inter_server"`` or ``"inter_rack"``.

        Raises:
            CatalogueError: ``span_gpus`` < 1.
        """
        if span_gpus < 1:
            raise CatalogueError(f"span_gpus must be >= 1 (got {span_gpus})")
        if span_gpus <= self.gpus_per_server:
            return "intra_server"
        if span_gpus <= self.gpus_per_rack:
            return "inter_server"
        return "inter_rack"

    def fabric_for_span(self, span_gpus: int) -> FabricSpec:
        """The fabric a group of ``span_gpus`` GPUs communicates over (see `tier_for_span`)."""
        return self.fabrics[self.tier_for_span(span_gpus)]

    def with_fabric(self, fabric: FabricSpec) -> Hardware:
        """A copy with every tier on one fabric: the "400 GbE everywhere" what-if.

        Takes a resolved `FabricSpec`; to name a fabric, use `Catalogue.with_fabric` (or
        ``Catalogue.hardware(name, fabric=...)``), which looks the name up in that catalogue.
        Specs know nothing of the catalogue they were loaded from, so this module does not
        import it.

        Raises:
            CatalogueError: ``fabric`` is not a `FabricSpec` (a name was passed).
        """
        if not isinstance(fabric, FabricSpec):
            raise CatalogueError(
                f"Hardware.with_fabric takes a FabricSpec (got {fabric!r}); to name a fabric use "
                "Catalogue.with_fabric(hardware, name) or Catalogue.hardware(name, fabric=...)"
            )
        return dataclasses.replace(self, fabrics={tier: fabric for tier in TIERS})
