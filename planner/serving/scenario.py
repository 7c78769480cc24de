"""A scenario: everything fixed about a question except the plan."""

from __future__ import annotations

from dataclasses import field

from hardware.specs import Hardware
from models.counts import SeedMoeApproximation
from models.spec import ModelSpec
from planner.engine.profile import EngineProfile, engine
from planner.serving.workload import Workload
from specbase.record import record


@record
class Scenario:
    """Hardware, model, workload and engine a plan is scored under.

    Attributes:
        hardware: resolved system (GPU, topology, fabrics per tier).
        model: the model served.
        workload: sequence shapes.
        profile: serving-engine profile.
        allow_span: let an instance cross its scale-up domain onto the slower tier.
        moe_approximation: the seed notes' split of weights into shared and expert parts, or None
            for real counts.
    """

    hardware: Hardware
    model: ModelSpec
    workload: Workload
    profile: EngineProfile = field(default_factory=engine)
    allow_span: bool = False
    moe_approximation: SeedMoeApproximation | None = None

    @property
    def engine_profile(self) -> EngineProfile:
        """The profile as it applies on this scenario's GPU (``EngineProfile.on_gpu``)."""
        gpu = self.hardware.gpu
        return self.profile.on_gpu(gpu.name, gpu.hbm_bytes)
