"""Turn names typed by a user into specs: the library entry point the CLI calls.

Hardware comes from ``hardware.catalogue`` (shipped entries plus ``--catalogue`` dirs),
models from ``models.catalogue`` (catalogue name, Hugging Face id, or a config.json path).
"""

from __future__ import annotations

from pathlib import Path

from hardware.catalogue import Catalogue
from hardware.specs import Hardware
from models.counts import SeedMoeApproximation
from planner.engine.profile import EngineProfile, engine, load_profile
from planner.errors import InputError
from planner.model_file import model as load_model
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload


def catalogue(dirs: tuple[str, ...] | list[str] = ()) -> Catalogue:
    """The hardware catalogue with the user's extra directories."""
    return Catalogue([Path(d) for d in dirs])


def hardware(cat: Catalogue, system: str | None, gpu: str | None, fabric: str | None = None,
             preset: str | None = None) -> Hardware:
    """Resolve ``--system`` or ``--gpu`` (its default system), then apply ``--fabric``/``--preset``."""
    hw = cat.hardware(system or gpu or "gb200-nvl72", preset=preset, fabric=fabric or "default")
    if system and gpu and hw.gpu.name != cat.gpu(gpu).name:
        raise InputError(f"--gpu {gpu} does not match --system {system} (which has {hw.gpu.name}); give one of them")
    return hw


def workload(tokens_cached: int | None, isl: int | None, osl: int | None,
             default_tokens_cached: int | None = None, arrivals: str | None = None) -> Workload:
    """Build the workload, one line of error on bad combinations (``arrivals`` None: steady)."""
    if tokens_cached is None and isl is None and osl is None:
        tokens_cached = default_tokens_cached
    try:
        return Workload(tokens_cached=tokens_cached, isl=isl, osl=osl, arrivals=arrivals or "steady")
    except ValueError as exc:  # a field's bound (specbase.checks.FieldError) or the one-view check
        raise InputError(f"workload: {exc} (--tokens-cached N, or --isl N --osl N [--arrivals burst])") from None


def check_context(model, load: Workload, allow_long_context: bool = False, fix: str | None = None,
                  where: str = "context") -> None:
    """A context longer than the model's ``max_position_embeddings`` is an ``InputError`` naming both.

    A context beyond it is a question the model cannot serve; planning it anyway would blame the
    memory (the KV cache of an absurd context fits nowhere) instead of the input.
    ``allow_long_context`` lets it through for what-ifs (a model extended past its configured window);
    ``where`` names the field the message starts with, ``fix`` ends it (default: the command-line options).
    """
    limit = model.max_position_embeddings
    context = load.kv_context_tokens
    if allow_long_context or limit is None or context <= limit:
        return
    if load.tokens_cached is not None:
        what, options = "tokens cached", "--tokens-cached"
    else:
        what, options = f"isl + osl = {load.isl:,} + {load.osl:,}", "--isl + --osl"
    fix = fix or f"give {options} <= {limit:,}, or pass --allow-long-context for a what-if"
    raise InputError(f"{where}: {context:,.0f} tokens ({what}) exceed {model.name}'s max_position_embeddings "
                     f"{limit:,}; {fix}")


def profile(engine_name: str | None, profile_path: str | None) -> EngineProfile:
    """``--profile FILE`` wins over ``--engine NAME``; the default engine otherwise."""
    if profile_path:
        return load_profile(profile_path)
    return engine(engine_name or "default")


def scenario(*, model: str, system: str | None = None, gpu: str | None = None, fabric: str | None = None,
             tokens_cached: int | None = None, isl: int | None = None, osl: int | None = None,
             engine_name: str | None = None, profile_path: str | None = None, allow_span: bool = False,
             seed_moe: bool = False, preset: str | None = None, catalogue_dirs=(),
             default_tokens_cached: int | None = None, allow_long_context: bool = False,
             arrivals: str | None = None) -> Scenario:
    """Everything a command needs except the plan (the context checked against the model, `check_context`)."""
    cat = catalogue(catalogue_dirs)
    spec = load_model(model)
    load = workload(tokens_cached, isl, osl, default_tokens_cached, arrivals)
    check_context(spec, load, allow_long_context)
    return Scenario(
        hardware=hardware(cat, system, gpu, fabric, preset),
        model=spec,
        workload=load,
        profile=profile(engine_name, profile_path),
        allow_span=allow_span,
        moe_approximation=SeedMoeApproximation() if seed_moe else None,
    )
