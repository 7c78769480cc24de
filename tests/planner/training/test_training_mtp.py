"""Multi-token prediction (``TrainingWorkload.mtp_modules``): one more layer and one more LM-head pass on the stage
that runs the head (DeepSeek-V3, arXiv 2412.19437 section 2.2)."""

import numpy as np
import pytest

from hardware.catalogue import Catalogue
from models import counts
from models.catalogue import model
from planner import quant
from planner.engine.kernels import gemm
from planner.studies.training_anchors import ANCHORS, predict
from planner.training.evaluate import TrainingScenario, evaluate_training_plan
from planner.training.memory import mtp_stage_layers, split_layers
from planner.training.workload import TrainingPlan, TrainingWorkload

H100 = Catalogue().hardware("hgx-h100")


def test_the_module_sits_on_the_head_stage():
    # DeepSeek-V3's 61 layers on 16 stages: ceil(61 / 16) = 4 on the first and the 14 middle ones, 61 - 60 = 1 on
    # the last; its MTP module makes that 2. Without pipelining the one stage takes it: 62.
    assert [float(x[0]) for x in mtp_stage_layers(split_layers(61, np.array([16.0])), np.array([16.0]), 1)] \
        == [4.0, 4.0, 2.0]
    assert [float(x[0]) for x in mtp_stage_layers(split_layers(61, np.array([1.0])), np.array([1.0]), 1)] \
        == [62.0, 62.0, 62.0]


def test_one_gpu_step_grows_by_one_layer_and_one_head_pass():
    # Llama 3.1 8B on one H100, 8 sequences of 4,096 tokens (m = 8), ZeRO-0, selective recomputation, as in
    # test_training_time.py's by-hand step; one MTP module adds per micro-batch one layer (its four GEMMs, forward
    # and a twice-as-long backward, attention with its recomputed core, its elementwise passes) and one more LM-head
    # GEMM (forward and backward) with its cross-entropy; once per step the layer's Adam update.
    m8 = model("llama-3.1-8b")
    w = dict(global_batch_sequences=8, sequence_tokens=4096)
    plan = TrainingPlan(recompute="selective", zero=0)
    base, mtp = (evaluate_training_plan(TrainingScenario(H100, m8, TrainingWorkload(**w, mtp_modules=k)), plan)
                 for k in (0, 1))
    curve = gemm.curve(H100.gpu, "default").take(quant.mode_index("bf16"))
    layer_gemm_s = sum(gemm.gemm_time_s(4096, n, k, curve)       # QKV, O, gate-up, down (n, k)
                       for n, k in ((6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)))
    head_s = gemm.gemm_time_s(4096, 128256, 4096, curve)
    attn_s = 4 * 32 * 128 * (4096 * 4095 / 2) / (989e12 * H100.gpu.prefill_compute_efficiency_fraction * 0.773)
    hbm = 3.35e12 * H100.gpu.hbm_efficiency_fraction
    # (3 x 139,264 + 45,056) bytes per token of a layer's elementwise passes; 3 x 4 x 128,256 of the loss.
    streamed_s = ((3 * 139_264 + 45_056) + 3 * 4 * 128_256) * 4096 / hbm
    micro = 3 * (layer_gemm_s + head_s + attn_s) + attn_s + streamed_s
    pb = counts.param_breakdown(m8)
    update_s = 28 * (pb.attention_per_layer + pb.dense_ffn_per_layer) / hbm
    assert mtp.step_time_s[0] - base.step_time_s[0] == pytest.approx(8 * micro + update_s, rel=1e-9)
    # The head's second logits tensor is held for its backward: 4 B x 128,256 x 4,096 = 2.10 GB more.
    assert mtp.memory.activations[0] - base.memory.activations[0] > 4 * 128_256 * 4096


def test_deepseek_v3_module_fits_in_the_last_stage_slack():
    # DeepSeek-V3 on 2,048 H800 runs with its MTP module (DEEPSEEK_RECIPE): the last of 16 stages holds 1 layer and
    # the head, so 2 layers and two head passes still finish before a 4-layer middle stage and the step does not
    # move (169.7 K GPU-h per trillion tokens, -5.7 %); the module's weights and logits land on the last stage,
    # not the fullest (58.1 GB, the first stage).
    ds = next(a for a in ANCHORS if a.run.startswith("DeepSeek-V3, 2,048"))
    assert ds.workload["mtp_modules"] == 1
    with_mtp, without = predict(ds), predict(ds, mtp_modules=0)
    assert with_mtp.value == pytest.approx(without.value, rel=1e-12)
    assert with_mtp.value == pytest.approx(169.7e3, rel=1e-3)
    assert float(with_mtp.scores.memory.total[0]) == pytest.approx(float(without.scores.memory.total[0]), rel=1e-12)
