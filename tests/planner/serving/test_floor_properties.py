"""Floors as tests: no predicted decode step, prefill or TTFT beats the hardware floor.

The floor of a piece of work is its FLOPs at the part's dense tensor-core peak and its bytes at
the nominal HBM bandwidth, both at once (perfect overlap; GEMMs and attention share the
tensor cores, so their times add), spread evenly over every GPU of the
instance, with no communication and no overhead. It is computed here from the model's counts
alone (``planner.serving.shape.ModelShape``, parameter counts pinned by the hand tests), never
from the evaluator's rates, so an efficiency above 1, a knob past its physical bound, or a term
dropped from the evaluator shows up as a prediction under its floor:

* decode step (``tokens_cached`` workloads, where every sequence of the batch decodes): ``batch``
  tokens through every layer (``2 x`` linear parameters, the LM head, attention at the context),
  every non-expert weight read once, at least ``top_k`` experts per MoE layer, and every
  sequence's KV cache at the context;
* prefill (``prefill_time_s``): ``batch`` prompts of ``isl`` tokens, the LM head on each prompt's
  last token, causal attention (MLA at the cheaper of absorbed and un-absorbed), weights once;
* TTFT: the request's own prompt alone, the same way.

Weights and KV are counted at the plan's bytes per element (a BF16 block of an experts-only
checkpoint is counted at the plan's narrower width: the floor errs low), linear FLOPs at the larger
of the plan's compute dtype and BF16 peaks, attention at the larger of the KV dtype's and BF16's.
500 random (model, system, engine, layout, batch, precision, workload, arrivals) draws, over every shipped
engine profile.
"""

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.catalogue import Catalogue
from models import counts
from models.catalogue import model
from planner import quant
from planner.engine.profile import engine
from planner.serving import parallel
from planner.serving.evaluate import evaluate, shape_of
from planner.serving.plan import Plan, PlanArrays
from planner.serving.prefill import prefill_time_s
from planner.serving.scenario import Scenario
from planner.serving.workload import Workload

CAT = Catalogue()
MODELS = {n: model(n) for n in ("llama-3.1-8b", "llama-3.1-70b", "qwen3-30b-a3b", "deepseek-v3", "gpt-oss-120b")}
SYSTEMS = {n: CAT.hardware(n) for n in ("hgx-h100", "hgx-h200", "hgx-b200", "gb200-nvl72", "mi355x-8")}
ENGINES = {n: engine(n) for n in ("default", "trtllm", "vllm", "sglang")}
LAYOUTS = {}
for _name, _m in MODELS.items():
    _grid = np.array(list(itertools.product((1, 2, 4, 8), (1, 2), (1, 2, 4, 8, 16), (1, 2, 4))))
    _ok = parallel.layout_mask(_m, *_grid.T, np.full(len(_grid), 64))
    LAYOUTS[_name] = [tuple(int(v) for v in g) for g in _grid[_ok]]
SLACK = 1e-9  # float slack of the comparisons


def _floor(spec, shape, hw, plan: Plan, sequences: float, isl: int | None = None):
    """Seconds at peak on all GPUs of ``plan``: one decode token of each of ``sequences`` (``isl`` None),
    or a prompt of ``isl`` tokens of each (module docstring)."""
    prompt = isl is not None
    tokens = sequences * (isl if prompt else 1)
    layers, moe_layers = shape.num_layers, shape.num_moe_layers
    gpus = plan.tp * plan.pp * plan.dp
    peaks = hw.gpu.peak_flop_per_s
    bf16 = peaks.get("bf16") or 0.0
    peak = max(peaks.get(quant.mode(plan.quant).compute_dtype) or 0.0, bf16)
    attention_peak = max(peaks.get(quant.mode(plan.kv_quant).compute_dtype) or 0.0, bf16)  # FP8 attention on FP8 KV
    block = (shape.attention_params * layers + shape.dense_ffn_params * (layers - moe_layers)
             + (shape.shared_params + shape.top_k * shape.expert_params) * moe_layers)
    heads = shape.vocab_params * (sequences if prompt else tokens)  # LM head rows
    flop = 2.0 * (block * tokens + heads)
    if prompt:
        attention = sequences * float(min(counts.prefill_attention_flops(spec, isl),
                                          counts.prefill_attention_flops(spec, isl, absorbed=False)))
    else:
        attention = tokens * shape.attention_flop_per_token
    weight_bytes = quant.mode(plan.quant).bytes_per_element * (
        shape.attention_params * layers + shape.dense_ffn_params * (layers - moe_layers)
        + (shape.shared_params + shape.top_k * shape.expert_params) * moe_layers + shape.vocab_params)
    kv = 0.0 if prompt else sequences * shape.kv_read_sequence_elements * quant.mode(plan.kv_quant).bytes_per_element
    compute = (flop / peak + attention / attention_peak) / gpus  # one set of tensor cores runs both
    return max(compute, (weight_bytes + kv) / gpus / hw.gpu.hbm_bytes_per_s)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(MODELS)), system=st.sampled_from(sorted(SYSTEMS)),
       eng=st.sampled_from(sorted(ENGINES)), wq=st.sampled_from(["bf16", "fp8", "fp4"]),
       kvq=st.sampled_from(["bf16", "fp8"]), batch=st.integers(1, 4096), decode=st.booleans(),
       ctx=st.integers(1, 131072), isl=st.integers(1, 131072), osl=st.integers(1, 8192), burst=st.booleans())
def test_no_prediction_beats_the_hardware_floor(data, name, system, eng, wq, kvq, batch, decode, ctx, isl, osl,
                                                burst):
    tp, pp, ep, dp = data.draw(st.sampled_from(LAYOUTS[name]))
    plan = Plan(tp=tp, pp=pp, ep=ep, dp=dp, batch=batch, quant=wq, kv_quant=kvq)
    hw, spec = SYSTEMS[system], MODELS[name]
    load = Workload(tokens_cached=ctx) if decode else \
        Workload(isl=isl, osl=osl, arrivals="burst" if burst else "steady")  # a closed loop, or the batch at once
    sc = Scenario(hardware=hw, model=spec, workload=load, profile=ENGINES[eng], allow_span=True)
    shape = shape_of(sc)
    s = evaluate(sc, PlanArrays.from_plans([plan]), shape)
    if decode:
        floor = _floor(spec, shape, hw, plan, float(batch))
        assert s.step_time_s[0] >= floor * (1 - SLACK), f"decode step {s.step_time_s[0]:.3e} s < floor {floor:.3e} s"
        return
    prefill = prefill_time_s(sc, PlanArrays.from_plans([plan]))[0]
    floor = _floor(spec, shape, hw, plan, float(batch), isl)
    assert prefill >= floor * (1 - SLACK), f"prefill {prefill:.3e} s < floor {floor:.3e} s"
    own = _floor(spec, shape, hw, plan, 1.0, isl)
    assert s.ttft_s[0] >= own * (1 - SLACK), f"TTFT {s.ttft_s[0]:.3e} s < floor {own:.3e} s"
