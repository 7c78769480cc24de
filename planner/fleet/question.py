"""The resolved fleet question: hardware kinds, served models and the objective, in SI units.

``planner.fleet.spec`` builds it from a fleet file; ``single`` builds the one-kind, one-model
fleet that ``rackplan plan --disagg`` asks about.
"""

from __future__ import annotations

import re

from hardware.specs import Hardware
from models.spec import ModelSpec
from planner.engine.profile import EngineProfile
from planner.serving.candidates import Limits
from planner.serving.space import SearchSpace
from planner.serving.workload import Workload
from specbase.record import record


@record
class FleetKind:
    """A resolved hardware kind: SI power per GPU, price per GPU-hour (``None``: not given)."""

    label: str
    hardware: Hardware
    gpus: int
    power_w_per_gpu: float
    price_per_gpu_hour: float | None


@record
class FleetModel:
    """A resolved served model."""

    label: str
    spec: ModelSpec
    workload: Workload
    target_tps: float | None
    share: float | None
    weight: float
    limits: Limits
    serving: str
    typed: str = ""  # the label or name as the file or the command line wrote it (messages and reports)

    @property
    def shown(self) -> str:
        """The model as the user wrote it (``Qwen/Qwen3-235B-A22B``), not its constraint label."""
        return self.typed or self.label


@record
class Fleet:
    """The resolved fleet question."""

    kinds: tuple[FleetKind, ...]
    models: tuple[FleetModel, ...]
    objective: str
    max_power_w: float | None
    max_cost_per_hour: float | None
    profile: EngineProfile
    space: SearchSpace | None = None

    @property
    def gpus(self) -> int:
        """GPUs of every kind together."""
        return sum(k.gpus for k in self.kinds)


def label_of(text: str) -> str:
    """A ``[a-z0-9_]`` label (constraint names and reports), e.g. ``gb200_nvl72``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "x"



def single(hardware: Hardware, gpus: int, spec: ModelSpec, workload: Workload, limits: Limits, serving: str,
           objective: str, profile: EngineProfile, target_tps: float | None = None,
           max_power_w: float | None = None, space: SearchSpace | None = None) -> Fleet:
    """A one-kind, one-model fleet (what ``rackplan plan --disagg`` asks), over ``space`` if given."""
    kind = FleetKind(label=label_of(hardware.system.name), hardware=hardware, gpus=int(gpus),
                     power_w_per_gpu=hardware.gpu.power_w, price_per_gpu_hour=None)
    m = FleetModel(label=label_of(spec.name), spec=spec, workload=workload, target_tps=target_tps, share=None,
                   weight=1.0, limits=limits, serving=serving, typed=spec.name)
    return Fleet(kinds=(kind,), models=(m,), objective=objective, max_power_w=max_power_w, max_cost_per_hour=None,
                 profile=profile, space=space)

