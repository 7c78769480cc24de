"""Training results as plain dicts: the evaluator's JSON object, the planner's document, table rows.

SI units throughout (seconds, bytes, FLOP/s); fabric load in GB/s as the serving reports give it;
``time_to_train_days`` beside ``time_to_train_s`` for people.
"""

from __future__ import annotations

from planner.report.summary import budget_dict, plan_document
from planner.search.training import SECONDS_PER_DAY, TrainingResult
from planner.serving.evaluate import bounds_and_fabric
from planner.training.evaluate import LIMITS, TrainingScenario, TrainingScores
from planner.training.parallel import layout_reasons
from planner.units import gb, kw


def reasons(scenario: TrainingScenario, scores: TrainingScores, i: int = 0) -> list[str]:
    """Why row ``i`` cannot run, with numbers (empty when it can)."""
    hw = scenario.hardware
    p = scores.plans.plan(i)
    out = layout_reasons(scenario.model, scenario.workload, p, hw.scale_up_domain_gpus, scenario.allow_span)
    if not scores.precision_ok[i]:
        out.append(f"precision: {hw.gpu.name} has no {p.precision} tensor cores")
    excess = float(scores.hbm_excess_bytes[i])
    if excess > 0:
        out.append(f"hbm_capacity: needs {gb(scores.memory.total[i]):.1f} GB per GPU but "
                   f"{gb(scores.hbm_capacity_bytes):.1f} GB is usable: over by {excess:,.0f} bytes")
    return out


def _floats(scores: TrainingScores, i: int, *names: str) -> dict:
    """Row ``i`` of each named score array, as plain floats."""
    return {name: float(getattr(scores, name)[i]) for name in names}


def training_row(scenario: TrainingScenario, scores: TrainingScores, i: int = 0) -> dict:
    """Row ``i`` as the training evaluator's JSON object."""
    m = scores.memory
    ttt = None if scores.time_to_train_s is None else float(scores.time_to_train_s[i])
    step = float(scores.step_time_s[i])
    gpus = int(scores.gpus[i])
    p = scores.plans.plan(i)
    return {
        "feasible": bool(scores.feasible[i]),
        "reasons": reasons(scenario, scores, i),
        **_floats(scores, i, "tokens_per_s", "tok_per_gpu", "instance_steps_per_s", "total_steps_per_s"),
        "step_time_s": step, "steps_per_s": 1.0 / step, "micro_batches": int(scores.micro_batches[i]),
        "micro_batch_s": float(scores.micro_batch_s[i]), "bubble_fraction": float(scores.bubble_s[i] / step),
        **_floats(scores, i, "mfu", "hfu", "model_flop_per_s_per_gpu"),
        "mfu_fp8": None if scores.mfu_fp8 is None else float(scores.mfu_fp8[i]),
        "time_to_train_s": ttt,
        "time_to_train_days": None if ttt is None else ttt / SECONDS_PER_DAY,
        "limit": LIMITS[int(scores.limit[i])],
        "time_split_s": {"compute": float(scores.compute_s[i]), "hbm": float(scores.hbm_s[i]),
                         "comm": float(scores.comm_s[i]), "bubble": float(scores.bubble_s[i]),
                         "jitter": float(scores.jitter_s[i])},
        **bounds_and_fabric(scenario.hardware, scores, i),
        "memory_per_gpu_bytes": {
            "weights": float(m.weights[i]), "grads": float(m.grads[i]), "optimiser": float(m.optimiser[i]),
            "activations": float(m.activations[i]), "buffers": float(m.buffers[i]), "total": float(m.total[i]),
            "capacity": float(scores.hbm_capacity_bytes),
        },
        "replica_gpus": p.replica_gpus,
        "gpus": gpus,
        "power_kw": kw(float(scores.power_w[i])),
    }


def scenario_dict(scenario: TrainingScenario) -> dict:
    """What was asked: model, system, workload."""
    hw = scenario.hardware
    return {"mode": "training", "model": scenario.model.name, "system": hw.system.name, "gpu": hw.gpu.name,
            "fabrics": {k: f.name for k, f in hw.fabrics.items()}, "workload": scenario.workload.model_dump(),
            "allow_span": scenario.allow_span}


def result_document(result: TrainingResult) -> dict:
    """The JSON document of ``train plan`` / ``train min-gpus``: the chosen plan's keys at top level."""
    scenario = {**scenario_dict(result.scenario), "budget": budget_dict(result.budget),
                "target_tokens_per_s": result.target_tokens_per_s}
    return plan_document(result, scenario, training_row)
