"""Training memory: ZeRO arithmetic, Korthikanti's activation formula, hand-computed Llama layers, properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.catalogue import Catalogue
from models.catalogue import model
from models.spec import ModelSpec
from planner.errors import InputError
from planner.training.evaluate import TrainingScenario, evaluate_training
from planner.training.memory import (
    in_flight_micro_batches,
    layer_activation_bytes,
    model_state_bytes,
    stage_layers,
    stored_bytes_per_layer,
)
from planner.training.shape import training_shape
from planner.training.workload import OPTIMISERS, TrainingPlan, TrainingPlanArrays, TrainingWorkload, optimiser

ADAM = OPTIMISERS["adam"]


def _states(params, shards, stage, opt=ADAM):
    return float(sum(np.asarray(x) for x in model_state_bytes(params, shards, opt, stage)))


def test_adam_mixed_precision_is_16_bytes_per_parameter():
    # ZeRO paper (arXiv 1910.02054) section 3.1: 2 (bf16 weights) + 2 (bf16 grads) + 12 (fp32 master,
    # momentum, variance) = 16 bytes; Megatron's fp32 gradient buffer makes it 2 + 4 + 12 = 18.
    assert ADAM.bytes_per_param == 16.0
    assert OPTIMISERS["adam-fp32-grads"].bytes_per_param == 18.0
    # One fused Adam update reads g (2) and the fp32 state (12), writes the state (12) and bf16 weights (2).
    assert ADAM.update_bytes_per_param == 28.0
    with pytest.raises(InputError, match="unknown optimiser 'lion'"):
        optimiser("lion")


@pytest.mark.parametrize("stage,paper_gb,exact_bytes", [
    (0, 120.0, 16 * 7.5e9),                       # (2 + 2 + 12) x 7.5e9
    (1, 31.4, 4 * 7.5e9 + 12 * 7.5e9 / 64),       # 30 GB + 1.40625 GB = 31.40625 GB
    (2, 16.6, 2 * 7.5e9 + 14 * 7.5e9 / 64),       # 15 GB + 1.640625 GB = 16.640625 GB
    (3, 1.9, 16 * 7.5e9 / 64),                    # 1.875 GB
])
def test_zero_stages_match_the_zero_paper_figure_1(stage, paper_gb, exact_bytes):
    # ZeRO paper Figure 1: a 7.5B-parameter model on 64 data-parallel GPUs needs 120 / 31.4 / 16.6 / 1.9 GB
    # of model states per GPU at stages 0 / 1 (P_os) / 2 (P_os+g) / 3 (P_os+g+p).
    got = _states(7.5e9, 64, stage)
    assert got == pytest.approx(exact_bytes, rel=1e-12)
    assert round(got / 1e9, 1) == paper_gb


def test_megatron_distributed_optimizer_is_6_plus_12_over_d():
    # Megatron-LM docs/source/api-guide/dist_optimizer.md: bf16 params with fp32 grads take 18 bytes per
    # parameter without sharding and 6 + 12 / d with the distributed optimizer (our ZeRO-1).
    p, d = 1e9, 8
    assert _states(p, d, 0, OPTIMISERS["adam-fp32-grads"]) == pytest.approx(18 * p)
    assert _states(p, d, 1, OPTIMISERS["adam-fp32-grads"]) == pytest.approx((6 + 12 / d) * p)


GPT3 = ModelSpec(name="gpt3-175b-like", source="Brown et al. 2020 Table 2.1 dimensions", model_type="gpt2",
                 hidden_size=12288, num_hidden_layers=96, num_attention_heads=96, num_key_value_heads=96,
                 intermediate_size=4 * 12288, vocab_size=51200, mlp_gated=False)


def test_gpt_layer_matches_korthikanti_34_plus_5as_over_h():
    # Korthikanti et al. 2022 (arXiv 2205.05198) section 4.1: one GPT layer in 16-bit with dropout stores
    # s b h (34 + 5 a s / h) bytes; selective recomputation drops the 5 a s / h score term.
    s, b, h, a = 2048, 1, 12288, 96
    shape = training_shape(GPT3, s)
    none = layer_activation_bytes(shape, s * b, b, moe=False, scores=True, with_dropout=True)
    selective = layer_activation_bytes(shape, s * b, b, moe=False, scores=False, with_dropout=True)
    assert float(none) == pytest.approx(s * b * h * (34 + 5 * a * s / h), rel=1e-12)
    assert float(selective) == pytest.approx(34 * s * b * h, rel=1e-12)


def test_llama_405b_layer_by_hand():
    # Llama 3.1 405B: h 16384, 128 heads of 128, 8 KV heads, SwiGLU width 53248, no dropout, bf16.
    # Per token, selective recomputation (norm and SwiGLU outputs rebuilt in the backward pass): Q 2h +
    # K,V 2 x 8 x 256 + attention output 2h = 69,632 bytes; gate and up 2 x 2 x 53248 = 212,992; two
    # norm inputs 4h = 65,536: 348,160 bytes/token x 8192 tokens / tp 8 (sequence parallel).
    shape = training_shape(model("llama-3.1-405b"), 8192)
    got = stored_bytes_per_layer(shape, tp=8, cp=1, micro_batch=1, recompute=1, precision_fp8=False)
    assert float(got) == pytest.approx(348_160 * 8192 / 8, rel=1e-12)
    # Kept as the forward writes them (keep_elementwise): + QKV input 2h + MLP input 2h + SwiGLU product
    # 2 x 53248 = 520,192 bytes/token, Korthikanti's term-by-term sum without dropout.
    kept = stored_bytes_per_layer(shape, tp=8, cp=1, micro_batch=1, recompute=1, precision_fp8=False,
                                  keep_elementwise=True)
    assert float(kept) == pytest.approx(520_192 * 8192 / 8, rel=1e-12)
    # FP8: Transformer Engine keeps the 1-byte copy of the GEMM inputs it still stores (o-proj input):
    # 348,160 - h = 331,776 bytes/token.
    fp8 = stored_bytes_per_layer(shape, tp=8, cp=1, micro_batch=1, recompute=1, precision_fp8=True)
    assert float(fp8) == pytest.approx(331_776 * 8192 / 8, rel=1e-12)
    # Full recomputation keeps only the 2-byte layer input: 2 x 16384 x 8192 / 8 bytes; cp 2 halves it.
    full = stored_bytes_per_layer(shape, tp=8, cp=2, micro_batch=1, recompute=2, precision_fp8=False)
    assert float(full) == pytest.approx(2 * 16384 * 8192 / 16, rel=1e-12)


def test_pipeline_stages_and_in_flight_micro_batches():
    shape = training_shape(model("llama-3.1-405b"), 8192)
    # 126 layers on pp 16: the first 15 stages take ceil(126 / 16) = 8 layers, the last one the remaining
    # 126 - 15 x 8 = 6 (beside the LM head); on pp 32, 4 each and 126 - 124 = 2. Without pipelining: all 126.
    first, middle, last = stage_layers(shape, np.array([16, 32, 1]))
    assert first.tolist() == [8.0, 4.0, 126.0] and last.tolist() == [6.0, 2.0, 126.0]
    assert middle.tolist() == [8.0, 4.0, 126.0]
    # Meta's trim (arXiv 2407.21783 section 3.3.2): one layer off the first and the last stage: 7, then
    # ceil((126 - 7 - 7) / 14) = 8 on each middle stage, and 126 - 7 - 14 x 8 = 7 last. On pp 2 there is no
    # middle stage: 63 - 1 = 62 first, 64 last.
    first, middle, last = stage_layers(shape, np.array([16, 2]), trim=1)
    assert first.tolist() == [7.0, 62.0] and middle.tolist()[0] == 8.0 and last.tolist() == [7.0, 64.0]
    # 1F1B: the first stage holds pp micro-batches; interleaving multiplies by 1 + (pp - 1) / (pp vpp)
    # (Korthikanti section 4.2.3): 16 x (1 + 15 / 64) = 19.75; fewer micro-batches than stages cap it.
    flights = in_flight_micro_batches(np.array([16, 16, 4, 1]), np.array([4, 1, 1, 1]), np.array([16, 16, 2, 8]))
    assert flights.tolist() == [19.75, 16.0, 2.0, 1.0]


CAT = Catalogue()


@settings(max_examples=30, deadline=None)
@given(tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 4]), cp=st.sampled_from([1, 2]),
       dp=st.sampled_from([1, 2, 4]), mb=st.sampled_from([1, 2]), precision=st.sampled_from(["bf16", "fp8"]))
def test_memory_never_rises_with_sharding_or_recomputation(tp, pp, cp, dp, mb, precision):
    sc = TrainingScenario(CAT.hardware("hgx-h100"), model("llama-3.1-8b"),
                          TrainingWorkload(global_batch_sequences=32, sequence_tokens=4096))
    plans = [TrainingPlan(tp=tp, pp=pp, cp=cp, dp=dp, micro_batch=mb, recompute=r, zero=z, precision=precision)
             for r in ("none", "selective", "full") for z in (0, 1, 2, 3)]
    total = evaluate_training(sc, TrainingPlanArrays.from_plans(plans)).memory.total.reshape(3, 4)
    # ZeRO 0 -> 1 -> 2 never adds HBM; stage 3 adds two gathered layers (FSDP prefetch) but stays below stage 0.
    assert np.all(np.diff(total[:, :3], axis=1) <= 1e-6)
    assert np.all(total[:, 3] <= total[:, 0] + 1e-6)
    assert np.all(np.diff(total, axis=0) <= 1e-6)   # none -> selective -> full never adds HBM


@settings(max_examples=20, deadline=None)
@given(pp=st.sampled_from([1, 2, 4]), zero=st.sampled_from([0, 1, 2, 3]))
def test_weight_bytes_per_gpu_never_rise_with_tp(pp, zero):
    sc = TrainingScenario(CAT.hardware("hgx-h100"), model("llama-3.1-70b"),
                          TrainingWorkload(global_batch_sequences=16, sequence_tokens=4096))
    plans = [TrainingPlan(tp=t, pp=pp, zero=zero, dp=2) for t in (1, 2, 4, 8)]
    weights = evaluate_training(sc, TrainingPlanArrays.from_plans(plans)).memory.weights
    assert np.all(np.diff(weights) <= 0)


def test_deepseek_v3_moe_layer_with_mla_latents_by_hand():
    # DeepSeek-V3 MoE layer, FP8, selective recomputation (RMSNorm and MLA up-projection rerun, arXiv 2412.19437
    # section 3.2.3). Per token: query latent 2 x 1536 = 3,072; KV latent + rotary key 2 x (512 + 64) = 1,152;
    # attention output (o-proj input, FP8) 128 x 128 = 16,384; two norm inputs 2 x 2 x 7168 = 28,672; router
    # probabilities 4 x 256 = 1,024; permuted expert inputs (FP8) 8 x 7168 = 57,344 and each copy's fp32
    # probability 4 x 8 = 32 (the probability scales the SwiGLU output, Megatron-Core's weighted SwiGLU, so the
    # expert outputs are not kept); 8 experts' gate and up outputs 8 x 2 x 2 x 2048 = 65,536; shared expert
    # 2 x 2 x 2048 = 8,192.
    shape = training_shape(model("deepseek-v3"), 4096)
    got = layer_activation_bytes(shape, 1.0, 1 / 4096, moe=True, scores=False, gemm_input_bytes=1.0,
                                 recompute_elementwise=True)
    assert float(got) == 3_072 + 1_152 + 16_384 + 28_672 + 1_024 + 57_344 + 32 + 65_536 + 8_192   # 181,408
    # DeepSeek's FP8 activation cache (section 3.3.3): the attention output in E5M6, 1.5 x 128 x 128 = 24,576;
    # the SwiGLU inputs in FP8, 8 x 2 x 1 x 2048 = 32,768 and 2 x 2048 = 4,096 for the shared expert.
    cached = layer_activation_bytes(shape, 1.0, 1 / 4096, moe=True, scores=False, gemm_input_bytes=1.0,
                                    recompute_elementwise=True, fp8_cache=True)
    assert float(cached) == 3_072 + 1_152 + 24_576 + 28_672 + 1_024 + 57_344 + 32 + 32_768 + 4_096   # 152,736
    # The up-projections rerun: q 1536 -> 128 x 192 and kv 512 -> 128 x (128 + 128) parameters.
    assert shape.mla_up_params == 1536 * 128 * 192 + 512 * 128 * 256


def test_deepseek_v3_layout_fits_with_its_memory_recipe():
    # DeepSeek-V3's layout (TP1 PP16 EP64 DP128 ZeRO-1, FP8, selective) under its section 3.3.3 recipe: BF16
    # AdamW moments (optimiser adam-bf16-moments: 2 + 4 + 8 = 14 bytes, the 8 sharded) and the FP8 activation
    # cache. The fullest stage is the first: 4 of the 61 layers (ceil(61 / 16)), 16 micro-batches in flight.
    # Per token, a dense layer keeps 3,072 + 1,152 + 24,576 (E5M6) + 28,672 + 18,432 x 2 x 2 (bf16 SwiGLU
    # inputs; the cache is MoE only) = 131,200 bytes, a MoE layer 152,736 (test above); 3 of 61 layers are
    # dense: 131,200 x 3 / 61 + 152,736 x 58 / 61 = 151,676.9 bytes; x 4,096 tokens x 4 layers x 16 = 39.76 GB.
    hw, ds = CAT.hardware("hgx-h800"), model("deepseek-v3")
    plan = TrainingPlanArrays.from_plans([TrainingPlan(tp=1, pp=16, ep=64, dp=128, zero=1, precision="fp8")])
    recipe = TrainingWorkload(global_batch_sequences=15360, sequence_tokens=4096, optimiser="adam-bf16-moments",
                              fp8_activation_cache=True)
    mem = evaluate_training(TrainingScenario(hw, ds, recipe), plan).memory
    per_token = 131_200 * 3 / 61 + 152_736 * 58 / 61
    assert float(mem.activations[0]) == pytest.approx(per_token * 4096 * 4 * 16, rel=1e-9)
    # fp32 gradients are twice the bf16 ones; the moments half the fp32 ones.
    plain = evaluate_training(TrainingScenario(hw, ds, recipe.model_copy(
        update={"optimiser": "adam", "fp8_activation_cache": False})), plan).memory
    assert float(mem.grads[0]) == pytest.approx(2 * float(plain.grads[0]))
    assert float(mem.total[0]) == pytest.approx(58.15e9, rel=1e-3) and float(mem.total[0]) < 0.9 * 80e9  # 72 GB
    assert float(plain.total[0]) == pytest.approx(61.39e9, rel=1e-3)


def test_bf16_moment_adam_is_14_bytes():
    # DeepSeek-V3 section 3.3.3: bf16 weights 2 + fp32 gradients 4 + fp32 master 4 + bf16 moments 2 + 2.
    ds = optimiser("adam-bf16-moments")
    assert ds.bytes_per_param == 14.0
    # ZeRO-1 over 128: 2 + 4 + 8 / 128 = 6.0625 bytes per parameter.
    assert _states(1e9, 128, 1, ds) == pytest.approx(6.0625e9)
