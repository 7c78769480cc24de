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

import tomllib
from pathlib import Path

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
from planner.serving.workload import MAX_TOKENS, Workload
from planner.units import KILO, from_kw
from specbase.checks import FieldError, choice, from_table, integer, number, refuse_unknown, spec, text
from specbase.record import record

SERVING = ("agg", "disagg", "any")
# Bounded: a count of 10**30 would overflow int64 in the MILP; no fleet comes near a million of anything.
MAX_COUNT = 1_000_000
MAX_TPS = 1e12  # tokens/s: a thousand times any fleet; beyond it instance counts overflow int64


def _at_most_one(entry, keys: tuple[str, ...], required: bool) -> None:
    given = [k for k in keys if getattr(entry, k) is not None]
    if len(given) > 1:
        raise ValueError(f"give one of {', '.join(keys)}, not {' and '.join(given)}")
    if required and not given:
        raise ValueError(f"give one of {', '.join(keys)}")


@spec
class PlanTable:
    """The ``[plan]`` table: the question (objective, limits, default serving mode, engine)."""

    minimise: str | None = choice(("gpus", "cost", "power"), default=None)
    maximise: str | None = choice(("tps",), default=None)
    max_kw: float | None = number(gt=0, default=None)
    max_cost_per_hour: float | None = number(gt=0, default=None)
    serving: str = choice(SERVING, default="any")
    engine: str | None = text(default=None)

    def __post_init__(self) -> None:
        _at_most_one(self, ("minimise", "maximise"), required=False)


# A price or power may be given per GPU, per server or per rack (at most one): (field, scale to
# the per-GPU unit, what it is counted per). Power per server or rack is in kW, per GPU in W.
PRICE_FIELDS = (("price_per_gpu_hour", 1.0, "gpu"), ("price_per_server_hour", 1.0, "server"),
                ("price_per_rack_hour", 1.0, "rack"))
POWER_FIELDS = (("power_w_per_gpu", 1.0, "gpu"), ("power_kw_per_server", KILO, "server"),
                ("power_kw_per_rack", KILO, "rack"))


def _per_gpu(t: HardwareTable, fields: tuple, gpus_per: dict[str, int]) -> float | None:
    """The per-GPU value of the one field of ``fields`` given in ``t`` (``None`` when none is)."""
    for name, scale, unit in fields:
        value = getattr(t, name)
        if value is not None:
            return value if unit == "gpu" else value * scale / gpus_per[unit]
    return None


@spec
class HardwareTable:
    """One ``[[hardware]]`` table: a hardware kind, how many of it (exactly one count), its price and power
    (at most one of each of `PRICE_FIELDS` and `POWER_FIELDS`)."""

    system: str = text()
    label: str | None = text(default=None)
    racks: int | None = integer(ge=0, le=MAX_COUNT, default=None)
    servers: int | None = integer(ge=0, le=MAX_COUNT, default=None)
    gpus: int | None = integer(ge=0, le=MAX_COUNT, default=None)
    price_per_gpu_hour: float | None = number(ge=0, default=None)
    price_per_server_hour: float | None = number(ge=0, default=None)
    price_per_rack_hour: float | None = number(ge=0, default=None)
    power_w_per_gpu: float | None = number(gt=0, default=None)
    power_kw_per_server: float | None = number(gt=0, default=None)
    power_kw_per_rack: float | None = number(gt=0, default=None)
    fabric: str | None = text(default=None)
    preset: str | None = text(default=None)

    def __post_init__(self) -> None:
        _at_most_one(self, ("racks", "servers", "gpus"), required=True)
        for fields in (PRICE_FIELDS, POWER_FIELDS):
            _at_most_one(self, tuple(name for name, _, _ in fields), required=False)


@spec
class ModelTable:
    """One ``[[model]]`` table: a served model, its workload, demand and latency limits."""

    name: str = text()
    label: str | None = text(default=None)
    tokens_cached: int | None = integer(ge=0, le=MAX_TOKENS, default=None)
    isl: int | None = integer(ge=1, le=MAX_TOKENS, default=None)
    osl: int | None = integer(ge=1, le=MAX_TOKENS, default=None)
    target_tps: float | None = number(gt=0, le=MAX_TPS, default=None)
    share: float | None = number(gt=0, default=None)
    weight: float = number(gt=0, default=1.0)
    max_tpot_ms: float | None = number(gt=0, default=None)
    min_tok_per_user: float | None = number(gt=0, default=None)
    max_ttft_ms: float | None = number(gt=0, default=None)
    serving: str | None = choice(SERVING, default=None)


@record(kw_only=True)
class FleetFile:
    """The whole file: its ``[plan]`` table and its ``[[hardware]]`` and ``[[model]]`` tables, in order."""

    plan: PlanTable
    hardware: tuple[HardwareTable, ...]
    model: tuple[ModelTable, ...]


@record
class Overrides:
    """Command-line values that replace the file's (``None``: keep the file's)."""

    objective: str | None = None
    max_kw: float | None = None
    max_cost_per_hour: float | None = None
    serving: str | None = None
    profile: EngineProfile | None = None
    models: tuple[dict, ...] = ()


def _table(kind: type, value, where: str, field: str):
    """``value`` (a TOML table) as the spec ``kind``; ``where`` and ``field`` (``hardware[2]``, or ``""``
    for the table itself) name it in the one-line ``InputError`` of a wrong key or value."""
    prefix = f"{field}." if field else ""
    if not isinstance(value, dict):
        raise InputError(f"{where}: field '{field}' must be a table of keys (got {value!r})")
    try:
        return from_table(kind, value)
    except FieldError as exc:  # a key it does not declare, a required one left out, or a wrong value
        raise InputError(f"{where}: field '{prefix}{exc.field}' {exc.problem}") from None
    except ValueError as exc:  # a check across its fields (its __post_init__)
        raise InputError(f"{where}: {field}: {exc}" if field else f"{where}: {exc}") from None


def _tables(kind: type, raw: dict, where: str, name: str, required: bool) -> tuple:
    """The ``[[name]]`` tables of the file as ``kind`` specs, counted from 1 in errors (``hardware[2]``)."""
    if name not in raw:
        if required:
            raise InputError(f"{where}: field '{name}' is required; add a [[{name}]] table for each {name} kind")
        return ()
    tables = raw[name]
    if not isinstance(tables, list):
        raise InputError(f"{where}: field '{name}' must be a list of tables, each headed [[{name}]] (got {tables!r})")
    if required and not tables:
        raise InputError(f"{where}: field '{name}' is empty; add a [[{name}]] table for each {name} kind")
    return tuple(_table(kind, t, where, f"{name}[{i + 1}]") for i, t in enumerate(tables))


def _file(raw: dict, where: str) -> FleetFile:
    """The file's tables as specs; the first wrong key or value raised as one line naming it."""
    try:
        refuse_unknown(raw, ("plan", "hardware", "model"))
    except FieldError as exc:  # a table the file does not have (a misspelt [[hardware]])
        raise InputError(f"{where}: field '{exc.field}' {exc.problem}") from None
    plan = _table(PlanTable, raw["plan"], where, "plan") if "plan" in raw else PlanTable()
    return FleetFile(plan=plan, hardware=_tables(HardwareTable, raw, where, "hardware", required=True),
                     model=_tables(ModelTable, raw, where, "model", required=False))


def _distinct_labels(labels: list[str], entry, earlier) -> None:
    """Raise on the first label that repeats; ``entry(i)`` and ``earlier(j)`` name tables by 1-based index."""
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label in seen:
            raise InputError(f"{entry(i + 1)}.label: '{label}' is also {earlier(seen[label] + 1)}; "
                             "give each a distinct label")
        seen[label] = i


def parse(text: str, where: str = "fleet file") -> FleetFile:
    """Parse and validate fleet TOML text; one-line ``InputError`` naming the field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: malformed TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{where}: malformed TOML: nested too deeply") from None
    return _file(raw, where)


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


def resolve(table: FleetFile, cat: Catalogue, overrides: Overrides = Overrides(), where: str = "fleet file") -> Fleet:
    """Resolve names to specs, convert units, and check the question is well posed."""
    plan = table.plan
    if overrides.models:
        models = [_table(ModelTable, m, f"--model {m.get('name', '')}".rstrip(), "") for m in overrides.models]
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
