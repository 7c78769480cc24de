"""Turn names typed by a user into a training scenario: the library entry point the CLI calls.

Defaults (``rackplan plan --mode training`` with nothing else): Llama 3.1 70B pre-training on
one ``gb200-nvl72`` rack, 8,192-token sequences, a global batch of 256 sequences (2.1M tokens
per step), mixed-precision Adam.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from planner.errors import InputError
from planner.model_file import model as load_model
from planner.serving import resolve
from planner.training.workload import DEFAULT_DP_OVERLAP_FRACTION, DEFAULT_TP_OVERLAP_FRACTION, TrainingWorkload

if TYPE_CHECKING:  # the training evaluator loads when a scenario is built, not with the defaults
    from planner.training.evaluate import TrainingScenario

DEFAULT_TRAINING_MODEL = "llama-3.1-70b"
DEFAULT_TRAINING_SYSTEM = "gb200-nvl72"
DEFAULT_GLOBAL_BATCH = 256
DEFAULT_SEQUENCE_TOKENS = 8192
# min-gpus searches up to this many racks when no budget is given (16,384 H100s are 512 hgx-h100 racks).
DEFAULT_MIN_GPUS_RACKS = 1024


def training_workload(global_batch: int | None = None, sequence_tokens: int | None = None,
                      optimiser: str | None = None, tokens_to_train: float | None = None,
                      dp_overlap_fraction: float | None = None,
                      tp_overlap_fraction: float | None = None, **scale: float | int | None) -> TrainingWorkload:
    """Build the workload from options (``None``: the default), one line of error on bad values.

    ``scale`` takes the scale and MoE fields of `TrainingWorkload` (``ep_overlap_fraction``,
    ``jitter_cv``, ``stage_trim_layers``, ``ep_node_limit``, ``fp8_activation_cache``, ``offload_layers``,
    ``mtp_modules``); ``None`` leaves a field at its default.
    """
    try:
        return TrainingWorkload(
            global_batch_sequences=DEFAULT_GLOBAL_BATCH if global_batch is None else global_batch,
            sequence_tokens=DEFAULT_SEQUENCE_TOKENS if sequence_tokens is None else sequence_tokens,
            optimiser=optimiser or "adam", tokens_to_train=tokens_to_train,
            dp_overlap_fraction=DEFAULT_DP_OVERLAP_FRACTION if dp_overlap_fraction is None else dp_overlap_fraction,
            tp_overlap_fraction=DEFAULT_TP_OVERLAP_FRACTION if tp_overlap_fraction is None else tp_overlap_fraction,
            **{k: v for k, v in scale.items() if v is not None},
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "workload"
        raise InputError(f"training workload: {field}: {err['msg'].removeprefix('Value error, ')}") from None


def training_scenario(*, model: str | None, system: str | None, gpu: str | None, workload: TrainingWorkload,
                      fabric: str | None = None, preset: str | None = None, allow_span: bool = False,
                      catalogue_dirs=()) -> TrainingScenario:
    """Everything a training command needs except the layout (defaults: module docstring)."""
    from planner.training.evaluate import TrainingScenario
    cat = resolve.catalogue(catalogue_dirs)
    hw = resolve.hardware(cat, system or (None if gpu else DEFAULT_TRAINING_SYSTEM), gpu, fabric, preset)
    return TrainingScenario(hardware=hw, model=load_model(model or DEFAULT_TRAINING_MODEL), workload=workload,
                            allow_span=allow_span)
