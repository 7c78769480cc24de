"""Overlap scheduler: an iteration takes the longer of its GPU time and its host work, not their sum."""

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

PLANS = PlanArrays.from_plans([Plan(tp=1, batch=16, quant="fp8", kv_quant="bf16"),
                               Plan(tp=8, batch=512, quant="fp8", kv_quant="bf16")])


def test_step_time_by_hand():
    prof = dataclasses.replace(engine("sglang"), step_overhead_s=250e-6, sequence_overhead_s=40e-6)
    host = prof.iteration_overhead_s(512)  # 250 us + 512 x 40 us = 20.73 ms
    assert host == pytest.approx(20.73e-3, rel=1e-12)
    # The docstring's example: 13 ms of GPU work beside it; overlapped the host's 20.73 ms, else 33.73 ms.
    assert prof.step_time_s(13e-3, host) == pytest.approx(20.73e-3, rel=1e-12)
    assert dataclasses.replace(prof, scheduler_overlap=False).step_time_s(13e-3, host) == \
        pytest.approx(33.73e-3, rel=1e-12)
    # GPU-bound: the host work hides entirely (40 ms of GPU work, 20.73 ms of host work).
    assert prof.step_time_s(40e-3, host) == pytest.approx(40e-3, rel=1e-12)


def test_shipped_engines():
    # Each engine's default scheduler runs one iteration ahead (the TOMLs' scheduler_depth_steps sources):
    # SGLang's zero-overhead scheduler (since v0.4), TensorRT-LLM's overlap scheduler, vLLM's asynchronous
    # scheduling (since PR #27614). SGLang's and vLLM's host work hides behind the GPU's; TensorRT-LLM's fitted
    # step cost adds to it (its scheduler_overlap source: with it hidden, a refit misses gpt-oss TPOT by 14-16 %).
    # The default profile schedules each iteration as the previous one returns and runs host and GPU in sequence.
    assert [engine(n).scheduler_depth_steps for n in ("sglang", "trtllm", "vllm", "default")] == [2, 2, 2, 1]
    assert [engine(n).scheduler_overlap for n in ("sglang", "trtllm", "vllm", "default")] == [True, False, True, False]


def _scores(workload, overlap):
    prof = dataclasses.replace(engine("sglang"), scheduler_overlap=overlap)
    sc = Scenario(hardware=Catalogue().hardware("hgx-h200"), model=model("llama-3.1-8b"), workload=workload,
                  profile=prof)
    return prof, evaluate(sc, PLANS)


@pytest.mark.parametrize("workload", [Workload(tokens_cached=2000), Workload(isl=1000, osl=500)],
                         ids=["decode", "isl-osl"])
def test_step_is_the_longer_of_gpu_and_host(workload):
    prof, on = _scores(workload, True)
    # one attention group each (dp 1), at the H200's own host costs (the profile's [gpus.h200-sxm] table)
    host = prof.on_gpu("h200-sxm").iteration_overhead_s(np.array([16.0, 512.0]))
    # pp 1: the GPU time of a step is its stage time; the step takes the longer of it and the host's.
    assert on.step_time_s == pytest.approx(np.maximum(on.stage_time_s, host), rel=1e-12)
    _, off = _scores(workload, False)
    if workload.tokens_cached:  # decode alone: the same stage either way, the sum against the max
        assert off.step_time_s == pytest.approx(off.stage_time_s + host, rel=1e-12)
        assert off.step_time_s - on.step_time_s == pytest.approx(np.minimum(on.stage_time_s, host), rel=1e-9)
    # Never slower with the overlap; at 512 sequences the shipped SGLang host work (step_overhead_us +
    # 512 x sequence_overhead_us) exceeds the GPU's share of a step, so the step is host-bound.
    assert np.all(on.step_time_s <= off.step_time_s)
    assert on.step_time_s[1] == pytest.approx(host[1], rel=1e-12)
