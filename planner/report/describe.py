"""Catalogue listings and ``show`` pages as rows for ``planner.report.tables``."""

from __future__ import annotations

from dataclasses import asdict

from hardware.catalogue import Catalogue
from models import catalogue as model_catalogue
from models import counts
from planner import quant
from planner.engine.kernels import gemm
from planner.engine.profile import EngineProfile
from planner.report.tables import Column
from planner.units import billions, gb, kw, tb, tflops, us


def _t(x):
    return None if x is None else tflops(x)


def gpu_rows(cat: Catalogue) -> tuple[list[dict], list[Column]]:
    """One row per GPU, datasheet units."""
    rows = []
    for name in cat.gpu_names():
        g = cat.gpu(name)
        rows.append({
            "name": g.name, "vendor": g.vendor, "hbm_gb": gb(g.hbm_bytes), "hbm_tb_per_s": tb(g.hbm_bytes_per_s),
            "bf16_tflops": _t(g.peak_flop_per_s["bf16"]), "fp8_tflops": _t(g.peak_flop_per_s["fp8"]),
            "fp4_tflops": _t(g.peak_flop_per_s["fp4"]), "scale_up_gb_per_s": gb(g.scale_up_bytes_per_s),
            "host_link": g.host_link, "host_link_gb_per_s": gb(g.host_link_bytes_per_s),
            "host_memory_gb": gb(g.host_memory_bytes), "power_w": g.power_w,
        })
    cols = [Column("GPU", "name"), Column("vendor", "vendor"), Column("HBM GB", "hbm_gb", ".0f"),
            Column("HBM TB/s", "hbm_tb_per_s", ".2f"), Column("BF16 TFLOP/s", "bf16_tflops", ",.0f"),
            Column("FP8 TFLOP/s", "fp8_tflops", ",.0f"), Column("FP4 TFLOP/s", "fp4_tflops", ",.0f"),
            Column("scale-up GB/s", "scale_up_gb_per_s", ",.0f"), Column("host link", "host_link"),
            Column("host GB/s", "host_link_gb_per_s", ".0f"), Column("host mem GB", "host_memory_gb", ".0f"),
            Column("power W", "power_w", ".0f")]
    return rows, cols


def system_rows(cat: Catalogue) -> tuple[list[dict], list[Column]]:
    """One row per system."""
    rows = []
    for name in cat.system_names():
        s = cat.system(name)
        rows.append({"name": s.name, "gpu": s.gpu, "gpus_per_server": s.gpus_per_server,
                     "servers_per_rack": s.servers_per_rack, "gpus_per_rack": s.gpus_per_rack,
                     "scale_up_domain_gpus": s.scale_up_domain_gpus, "intra_server": s.intra_server_fabric,
                     "inter_server": s.inter_server_fabric, "inter_rack": s.inter_rack_fabric})
    cols = [Column("system", "name"), Column("GPU", "gpu"), Column("GPUs/server", "gpus_per_server"),
            Column("servers/rack", "servers_per_rack"), Column("GPUs/rack", "gpus_per_rack"),
            Column("scale-up domain", "scale_up_domain_gpus"), Column("intra-server", "intra_server"),
            Column("inter-server", "inter_server"), Column("inter-rack", "inter_rack")]
    return rows, cols


def fabric_rows(cat: Catalogue) -> tuple[list[dict], list[Column]]:
    """One row per fabric."""
    rows = []
    for name in cat.fabric_names():
        f = cat.fabric(name)
        rows.append({"name": f.name, "kind": f.kind, "gb_per_s": gb(f.bytes_per_s), "latency_us": us(f.latency_s),
                     "efficiency": f.efficiency_fraction})
    cols = [Column("fabric", "name"), Column("kind", "kind"), Column("GB/s per GPU per dir", "gb_per_s", ",.1f"),
            Column("latency us", "latency_us", ".2f"), Column("collective efficiency", "efficiency", ".2f")]
    return rows, cols


def model_summary(spec) -> dict:
    """Derived figures of one model."""
    return {
        "name": spec.name, "type": spec.model_type, "layers": spec.num_hidden_layers, "hidden": spec.hidden_size,
        "experts": spec.moe.num_experts if spec.moe else None,
        "top_k": spec.moe.num_experts_per_tok if spec.moe else None,
        "total_b": billions(counts.total_params(spec)), "active_b": billions(counts.active_params(spec)),
        "kv_bytes_per_token_bf16": counts.kv_bytes_per_token(spec, 2.0),
        "attention": "MLA" if spec.mla else ("GQA" if spec.num_key_value_heads < spec.num_attention_heads else "MHA"),
    }


def model_rows(names) -> tuple[list[dict], list[Column]]:
    """One row per catalogue model."""
    rows = [model_summary(model_catalogue.model(n)) for n in names]
    cols = [Column("model", "name"), Column("type", "type"), Column("layers", "layers"), Column("hidden", "hidden"),
            Column("attention", "attention"), Column("experts", "experts"), Column("top-k", "top_k"),
            Column("total B", "total_b", ".1f"), Column("active B", "active_b", ".1f"),
            Column("KV B/token bf16", "kv_bytes_per_token_bf16", ",.0f")]
    return rows, cols


def _without_none(data: dict) -> dict:
    """``data`` without its ``None`` values, nested tables too (an unset optional field is not shown)."""
    return {k: _without_none(v) if isinstance(v, dict) else v for k, v in data.items() if v is not None}


def engine_pairs(profile: EngineProfile) -> list[tuple[str, object]]:
    """Field/value pairs of an engine profile for ``rackplan show engine``: every field (knobs, defaults, the
    measured range), each per-GPU table's values as ``field.gpu`` (``EngineProfile.on_gpu`` applies them on that
    GPU), then each field's source as ``source.field``."""
    data = asdict(profile)
    sources, gpus = data.pop("sources"), data.pop("gpus")
    pairs = list(data.items())
    pairs += [(f"{k}.{g}", v) for g, table in sorted(gpus.items()) for k, v in table.items()]
    return pairs + [(f"source.{k}", v) for k, v in sources.items()]


def show_pairs(cat: Catalogue, kind: str, name: str) -> list[tuple[str, object]]:
    """Field/value pairs (spec, derived figures, sources) for ``rackplan show``."""
    if kind == "model":
        spec = model_catalogue.model(name)
        data = _without_none(asdict(spec))
        pairs = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
        pairs += [(f"{k}.{sub}", v2) for k, v in data.items() if isinstance(v, dict) for sub, v2 in v.items()]
        pairs += [(f"derived.{k}", v) for k, v in model_summary(spec).items() if k != "name"]
        return pairs
    spec = {"gpu": cat.gpu, "system": cat.system, "fabric": cat.fabric}[kind](name)
    data = asdict(spec)
    sources = data.pop("sources", {})
    pairs = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    pairs += [(f"{k}.{sub}", v2) for k, v in data.items() if isinstance(v, dict) for sub, v2 in v.items()]
    if kind == "system":
        pairs.append(("derived.gpus_per_rack", spec.gpus_per_rack))
    if kind == "gpu":
        pairs += gpu_derived(spec)
    pairs += [(f"source.{k}", v) for k, v in sources.items()]
    return pairs


def gpu_derived(g) -> list[tuple[str, object]]:
    """Figures derived from a GPU's datasheet numbers and efficiencies (datasheet units)."""
    bf16 = g.peak_flop_per_s["bf16"]
    achievable_bw = g.hbm_bytes_per_s * g.hbm_efficiency_fraction
    out = [
        ("derived.achievable_hbm_tb_per_s", tb(achievable_bw)),
        ("derived.ridge_point_flop_per_byte_bf16", bf16 / g.hbm_bytes_per_s),
        ("derived.decode_tflops_bf16", tflops(bf16 * g.decode_compute_efficiency_fraction)),
        ("derived.prefill_tflops_bf16", tflops(bf16 * g.prefill_compute_efficiency_fraction)),
    ]
    for dtype in ("fp8", "fp4"):
        peak = g.peak_flop_per_s.get(dtype)
        if peak and peak > bf16:
            out.append((f"derived.decode_tflops_{dtype}",
                        tflops(peak * g.decode_compute_efficiency_fraction * g.narrow_gemm_efficiency_fraction)))
    out.append(("derived.hbm_gb_per_kw", gb(g.hbm_bytes) / kw(g.power_w)))
    return out + kernel_curves(g)


def kernel_curves(g) -> list[tuple[str, object]]:
    """Whether each kernel curve's figures for ``g`` are measured (fitted to its kernel rows) or
    transferred (the median over the measured GPUs, on ``g``'s own peaks, bandwidth and SM count),
    with the default engine's figures."""
    curve = gemm.curve(g, "default")
    bf16 = quant.mode_index("bf16")
    origin = ("measured: fitted to its gemm_perf rows" if curve.measured
              else "transferred: median of the measured GPUs, on its own peaks, bandwidth and SM count")
    return [("kernels.gemm", origin),
            ("kernels.gemm.bf16_tflops", tflops(float(curve.flop_per_s[bf16]))),
            ("kernels.gemm.hbm_tb_per_s", tb(float(curve.bytes_per_s[bf16]))),
            ("kernels.gemm.floor_us", us(float(curve.floor_s[bf16])))]
