"""The fleet file: what a user owns or can buy, which models it serves, and the question asked.

A TOML file with three parts (``examples/fleet.toml`` is a worked example)::

    [plan]                       # optional; command-line options override it
    minimise = "cost"            # gpus | cost | power   (or: maximise = "tps")
    max_kw = 1500                # power cap over the GPUs in use
    max_cost_per_hour = 4000     # price cap over the GPUs in use
    serving = "any"              # agg | disagg | any: default for every model
    engine = "default"

    [[hardware]]                 # one table per hardware kind
    system = "gb200-nvl72"       # catalogue system name
    racks = 2                    # exactly one of racks, servers, gpus (>= 0)
    price_per_gpu_hour = 6.0     # optional; or price_per_server_hour / price_per_rack_hour
    power_w_per_gpu = 1200       # optional; or power_kw_per_server / power_kw_per_rack
                                 # (default: the GPU's board power from the catalogue)

    [[model]]                    # one table per served model
    name = "qwen3-235b-a22b"     # catalogue name, Hugging Face id or config.json path
    isl = 1024                   # or tokens_cached = N (steady-state decode, aggregated only)
    osl = 1024
    target_tps = 150000          # output tokens/s to serve (required when minimising)
    max_tpot_ms = 50             # optional latency limits; also min_tok_per_user, max_ttft_ms
    serving = "any"              # optional, overrides [plan] serving
    weight = 1.0                 # maximise only: value of one output token/s
    share = 0.5                  # maximise only: fixed share of the fleet's output tokens

Prices and power are charged for the GPUs in use (idle GPUs cost nothing), converted
once, here, to per GPU. Every error names the field, counting tables from 1
(``hardware[2].racks``), and is raised as ``InputError`` (one line, exit code 1).
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from hardware.catalogue import Catalogue
from hardware.errors import CatalogueError
from models.errors import ModelError
from planner.engine.profile import EngineProfile, engine
from planner.errors import InputError
from planner.fleet.question import Fleet, FleetKind, FleetModel, label_of
from planner.milp.fleet_problem import OBJECTIVES
from planner.model_file import model as load_model
from planner.serving.candidates import Limits
from planner.serving.resolve import check_context
from planner.serving.workload import Workload
from planner.units import KILO, from_kw
from specbase.record import record

SERVING = ("agg", "disagg", "any")
Serving = Literal["agg", "disagg", "any"]
# Bounded: a count of 10**30 would overflow int64 in the MILP; no fleet comes near a million of anything.
MAX_COUNT = 1_000_000
MAX_TOKENS = 100_000_000
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Tokens = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
MAX_TPS = 1e12  # tokens/s: a thousand times any fleet; beyond it instance counts overflow int64


class _Table(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid", allow_inf_nan=False, strict=True)


def _at_most_one(entry: BaseModel, keys: tuple[str, ...], required: bool) -> None:
    given = [k for k in keys if getattr(entry, k) is not None]
    if len(given) > 1:
        raise ValueError(f"give one of {', '.join(keys)}, not {' and '.join(given)}")
    if required and not given:
        raise ValueError(f"give one of {', '.join(keys)}")


class PlanTable(_Table):
    """The ``[plan]`` table: the question (objective, limits, default serving mode, engine)."""

    minimise: Literal["gpus", "cost", "power"] | None = None
    maximise: Literal["tps"] | None = None
    max_kw: Positive | None = None
    max_cost_per_hour: Positive | None = None
    serving: Serving = "any"
    engine: str | None = None

    @model_validator(mode="after")
    def _one_objective(self) -> PlanTable:
        _at_most_one(self, ("minimise", "maximise"), required=False)
        return self


# A price or power may be given per GPU, per server or per rack (at most one): (field, scale to
# the per-GPU unit, what it is counted per). Power per server or rack is in kW, per GPU in W.
PRICE_FIELDS = (("price_per_gpu_hour", 1.0, "gpu"), ("price_per_server_hour", 1.0, "server"),
                ("price_per_rack_hour", 1.0, "rack"))
POWER_FIELDS = (("power_w_per_gpu", 1.0, "gpu"), ("power_kw_per_server", KILO, "server"),
                ("power_kw_per_rack", KILO, "rack"))


def _per_gpu(t: BaseModel, fields: tuple, gpus_per: dict[str, int]) -> float | None:
    """The per-GPU value of the one field of ``fields`` given in ``t`` (``None`` when none is)."""
    for name, scale, unit in fields:
        value = getattr(t, name)
        if value is not None:
            return value if unit == "gpu" else value * scale / gpus_per[unit]
    return None


class _HardwareCount(_Table):
    """The catalogue system of a ``[[hardware]]`` table and how many of it (exactly one count)."""

    system: str
    label: str | None = None
    racks: Count | None = None
    servers: Count | None = None
    gpus: Count | None = None

    @model_validator(mode="after")
    def _one_each(self):
        _at_most_one(self, ("racks", "servers", "gpus"), required=True)
        for fields in (PRICE_FIELDS, POWER_FIELDS):
            _at_most_one(self, tuple(name for name, _, _ in fields), required=False)
        return self


# The price and power fields are declared from their tables above, so each name is written once.
HardwareTable = create_model(
    "HardwareTable", __base__=_HardwareCount,
    __doc__="One ``[[hardware]]`` table: a hardware kind, how many of it, its price and power.",
    **{name: (NonNegative | None, None) for name, _, _ in PRICE_FIELDS},
    **{name: (Positive | None, None) for name, _, _ in POWER_FIELDS},
    fabric=(str | None, None), preset=(str | None, None),
)


class ModelTable(_Table):
    """One ``[[model]]`` table: a served model, its workload, demand and latency limits."""

    name: str
    label: str | None = None
    tokens_cached: Annotated[int, Field(ge=0, le=MAX_TOKENS)] | None = None
    isl: Tokens | None = None
    osl: Tokens | None = None
    target_tps: Annotated[float, Field(gt=0, le=MAX_TPS)] | None = None
    share: Positive | None = None
    weight: float = Field(default=1.0, gt=0)
    max_tpot_ms: Positive | None = None
    min_tok_per_user: Positive | None = None
    max_ttft_ms: Positive | None = None
    serving: Serving | None = None


class FleetTable(_Table):
    """The whole file."""

    plan: PlanTable = PlanTable()
    hardware: list[HardwareTable] = Field(min_length=1)
    model: list[ModelTable] = Field(default_factory=list)


@record
class Overrides:
    """Command-line values that replace the file's (``None``: keep the file's)."""

    objective: str | None = None
    max_kw: float | None = None
    max_cost_per_hour: float | None = None
    serving: str | None = None
    profile: EngineProfile | None = None
    models: tuple[dict, ...] = ()


def _where(loc: tuple) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p + 1}]" if parts else f"[{p + 1}]"
        else:
            parts.append(str(p))
    return ".".join(parts)


def _validation_line(exc: ValidationError, where: str) -> InputError:
    err = exc.errors()[0]
    loc = _where(tuple(err["loc"]))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        known = {"hardware": HardwareTable, "model": ModelTable, "plan": PlanTable}.get(str(err["loc"][0]), FleetTable)
        close = difflib.get_close_matches(str(err["loc"][-1]), list(known.model_fields), n=1)
        msg = "is not a known key" + (f"; did you mean '{close[0]}'?" if close else "")
    elif err["type"] == "missing":
        msg = "is required"
    elif "input" in err and err["type"] not in ("value_error",):
        msg = f"{msg[:1].lower()}{msg[1:]} (got {err['input']!r})"
    return InputError(f"{where}: field '{loc}': {msg}")


def _distinct_labels(labels: list[str], entry, earlier) -> None:
    """Raise on the first label that repeats; ``entry(i)`` and ``earlier(j)`` name tables by 1-based index."""
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label in seen:
            raise InputError(f"{entry(i + 1)}.label: '{label}' is also {earlier(seen[label] + 1)}; "
                             "give each a distinct label")
        seen[label] = i


def parse(text: str, where: str = "fleet file") -> FleetTable:
    """Parse and validate fleet TOML text; one-line ``InputError`` naming the field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: malformed TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{where}: malformed TOML: nested too deeply") from None
    try:
        return FleetTable.model_validate(raw)
    except ValidationError as exc:
        raise _validation_line(exc, where) from None


def _kind(cat: Catalogue, t: HardwareTable, field: str) -> FleetKind:
    try:
        hw = cat.hardware(t.system, preset=t.preset, fabric=t.fabric or "default")
    except CatalogueError as exc:
        raise InputError(f"{field}: {exc}") from None
    gps, gpr = hw.gpus_per_server, hw.gpus_per_rack
    gpus = t.gpus if t.gpus is not None else (t.servers * gps if t.servers is not None else t.racks * gpr)
    gpus_per = {"server": gps, "rack": gpr}
    price = _per_gpu(t, PRICE_FIELDS, gpus_per)
    power = _per_gpu(t, POWER_FIELDS, gpus_per) or hw.gpu.power_w
    return FleetKind(label=label_of(t.label or t.system), hardware=hw, gpus=int(gpus),
                     power_w_per_gpu=float(power), price_per_gpu_hour=price)


def _model(t: ModelTable, field: str, default_serving: str) -> FleetModel:
    try:
        spec = load_model(t.name)
    except ModelError as exc:
        raise InputError(f"{field}.name: {exc}") from None
    try:
        w = Workload(tokens_cached=t.tokens_cached, isl=t.isl, osl=t.osl)
    except ValueError as exc:  # a field's bound (specbase.checks.FieldError) or the one-view check
        raise InputError(f"{field}: workload: {exc} (tokens_cached = N, or isl = N and osl = N)") from None
    check_context(spec, w, fix="shorten tokens_cached (or isl + osl)", where=field)
    serving = t.serving or default_serving
    if serving == "disagg" and not w.has_prefill:
        raise InputError(f"{field}.serving: 'disagg' needs an isl/osl workload (prefill and decode pools), "
                         "not tokens_cached")
    limits = Limits.from_cli(t.min_tok_per_user, t.max_tpot_ms, t.max_ttft_ms)
    return FleetModel(label=label_of(t.label or t.name), spec=spec, workload=w, target_tps=t.target_tps,
                      share=t.share, weight=t.weight, limits=limits,
                      serving=serving if w.has_prefill else "agg", typed=t.label or t.name)


def _objective(plan: PlanTable, override: str | None, models: list[ModelTable]) -> str:
    if override:
        name = override
    elif plan.minimise:
        name = f"min_{plan.minimise}"
    elif plan.maximise:
        name = "max_tps"
    else:
        name = "min_gpus" if models and all(m.target_tps for m in models) else "max_tps"
    if name not in OBJECTIVES:
        raise InputError(f"unknown objective '{name}'; choose one of: {', '.join(OBJECTIVES)}")
    return name


def resolve(table: FleetTable, cat: Catalogue, overrides: Overrides = Overrides(), where: str = "fleet file") -> Fleet:
    """Resolve names to specs, convert units, and check the question is well posed."""
    plan = table.plan
    if overrides.models:
        try:
            models = [ModelTable.model_validate(m) for m in overrides.models]
        except ValidationError as exc:
            raise _validation_line(exc, "--model") from None
        prefix = "--model"
    else:
        models, prefix = table.model, f"{where}: model"
    if not models:
        raise InputError(f"{where}: no models to plan: add [[model]] tables or give --model NAME=TPS")
    kinds = [_kind(cat, t, f"{where}: hardware[{i + 1}]") for i, t in enumerate(table.hardware)]
    _distinct_labels([k.label for k in kinds], lambda i: f"{where}: hardware[{i}]", lambda j: f"hardware[{j}]")
    if sum(k.gpus for k in kinds) == 0:
        raise InputError(f"{where}: hardware: the fleet has no GPUs (every count is 0)")
    serving = overrides.serving or plan.serving
    fleet_models = [_model(t, f"{prefix}[{i + 1}]", serving if overrides.serving else (t.serving or serving))
                    for i, t in enumerate(models)]
    _distinct_labels([m.label for m in fleet_models], lambda i: f"{prefix}[{i}]", lambda j: f"model {j}'s")
    objective = _objective(plan, overrides.objective, models)
    if objective.startswith("min_"):
        for i, t in enumerate(models):
            if t.target_tps is None:
                raise InputError(f"{prefix}[{i + 1}].target_tps: required when minimising {objective[4:]} "
                                 "(or maximise tps instead)")
            if t.share is not None:
                raise InputError(f"{prefix}[{i + 1}].share: shares apply to maximise = 'tps' only")
    shares = [t.share is not None for t in models]
    if any(shares) and not all(shares):
        i = shares.index(False)
        raise InputError(f"{prefix}[{i + 1}].share: give a share for every model or for none")
    if objective == "min_cost":
        for i, k in enumerate(kinds):
            if k.price_per_gpu_hour is None:
                raise InputError(f"{where}: hardware[{i + 1}].price_per_gpu_hour: a price is needed to minimise cost "
                                 "(or price_per_server_hour / price_per_rack_hour)")
    max_kw = overrides.max_kw if overrides.max_kw is not None else plan.max_kw
    max_cost = overrides.max_cost_per_hour if overrides.max_cost_per_hour is not None else plan.max_cost_per_hour
    if max_cost is not None:
        for i, k in enumerate(kinds):
            if k.price_per_gpu_hour is None:
                raise InputError(f"{where}: hardware[{i + 1}].price_per_gpu_hour: a price is needed for "
                                 "max_cost_per_hour")
    profile = overrides.profile or engine(plan.engine or "default")
    return Fleet(kinds=tuple(kinds), models=tuple(fleet_models), objective=objective,
                 max_power_w=None if max_kw is None else from_kw(max_kw), max_cost_per_hour=max_cost, profile=profile)


def load(path: str | Path, cat: Catalogue, overrides: Overrides = Overrides()) -> Fleet:
    """Read, validate and resolve a fleet file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{p}: cannot read fleet file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text (byte {exc.start}); save the fleet file as UTF-8") from None
    return resolve(parse(text, str(p)), cat, overrides, str(p))
