"""Closed-loop arrival: a new request waits ``arrival_wait_steps`` decode steps before its first iteration."""

import dataclasses

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models.catalogue import model
from planner.engine.profile import engine
from planner.serving.evaluate import evaluate
from planner.serving.plan import Plan, PlanArrays
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

PLANS = PlanArrays.from_plans([Plan(tp=1, batch=8, quant="bf16", kv_quant="bf16"),
                               Plan(tp=2, batch=64, quant="fp8", kv_quant="fp8")])


def _scores(steps, gpus=None):
    base = engine("vllm")
    if gpus is None:  # the shipped per-GPU tables less their fitted steps, so that ``steps`` applies on H100
        gpus = {g: {k: v for k, v in t.items() if k != "arrival_wait_steps"} for g, t in base.gpus.items()}
    prof = dataclasses.replace(base, arrival_wait_steps=steps, gpus=gpus)
    sc = Scenario(hardware=Catalogue().hardware("hgx-h100"), model=model("llama-3.1-8b"),
                  workload=Workload(isl=1024, osl=128), profile=prof)
    return evaluate(sc, PLANS)


@pytest.mark.parametrize("steps", [1.0, 1.5, 2.0])
def test_ttft_adds_the_steps_waited(steps):
    base, waited = _scores(0.0), _scores(steps)
    # Overhead, queueing and the request's own prefill do not depend on the wait; TTFT adds
    # ``steps`` average decode steps (TPOT) of the waited run.
    assert waited.ttft_s - steps * waited.step_time_s == pytest.approx(base.ttft_s, rel=1e-9)
    # A longer lifetime brings fewer prompts per step: TPOT can only fall.
    assert np.all(waited.step_time_s <= base.step_time_s)


def test_lifetime_counts_the_wait():
    s = _scores(2.0)
    # Little's law: every admitted request emits osl tokens per lifetime TTFT + (osl - 1) x TPOT,
    # TTFT including the two steps waited (batch 8 and 64 both fit the KV cache: nothing queued).
    lifetime = s.ttft_s + 127 * s.step_time_s
    assert s.instance_tps == pytest.approx(np.array([8.0, 64.0]) * 128 / lifetime, rel=1e-6)


def test_fitted_steps_per_gpu():
    # The shipped profiles fit the steps per engine and GPU (planner.calibration.fit.KNOBS, bounds 0-4): an H100
    # table of 2.5 steps over an engine-wide 0 scores as 2.5 steps engine-wide, and adds 2.5 TPOTs to TTFT.
    table, flat = _scores(0.0, gpus={"h100-sxm": {"arrival_wait_steps": 2.5}}), _scores(2.5, gpus={})
    base = _scores(0.0, gpus={})  # no per-GPU tables at all
    assert table.ttft_s == pytest.approx(flat.ttft_s, rel=1e-12)
    assert table.ttft_s - 2.5 * table.step_time_s == pytest.approx(base.ttft_s, rel=1e-9)
