import numpy as np
import pytest

from planner.calibration import decompose
from planner.calibration.measurements import Measurement

MS = 1e-3


def run(osl, tpot_ms, ttft_ms, model="qwen3-32b", engine="trtllm", tp=1, batch=64, isl=2048):
    return Measurement(line=0, label=f"{model} {osl}", model=model, system="hgx-h100", gpu=None, engine=engine,
                       tp=tp, pp=1, ep=1, dp=1, batch=batch, quant="fp8", kv_quant=None, isl=isl, osl=osl,
                       tpot_s=tpot_ms * MS, ttft_s=ttft_ms * MS, tok_per_gpu=None, model_name=model)


# Qwen3-32B FP8 / one H100 / TensorRT-LLM, 64 requests of 2,048 in (calibration/silicon_calibration.csv).
QWEN = [run(128, 98.45, 817.8), run(256, 60.45, 841.1), run(512, 41.80, 806.6)]
QWEN_TPOT_S = np.array([m.tpot_s for m in QWEN])


def qwen_prompt_tokens(tpot_s, ttft_s):
    """P of the three Qwen3 runs' lengths (64 requests of 2,048 in, 128 / 256 / 512 out) at these TPOT and TTFT."""
    return decompose.prompt_tokens_per_step([64] * 3, [2048] * 3, [128, 256, 512], tpot_s, ttft_s)


def test_prompt_tokens_per_step_is_littles_law():
    # 64 x 2048 / (127 + 817.8 / 98.45) = 131,072 / 135.307 = 968.7 tokens a step
    p = decompose.prompt_tokens_per_step([64], [2048], [128], np.array([98.45 * MS]), np.array([817.8 * MS]))
    assert p[0] == pytest.approx(968.70, abs=0.01)


def test_split_recovers_a_line_and_the_measured_qwen3_runs():
    # an exact line: 10 ms a step plus 50 us a prompt token, at 100, 300 and 900 tokens a step
    p = np.array([100.0, 300.0, 900.0])
    s = decompose.split(p, 0.010 + 50e-6 * p)
    assert s.decode_s == pytest.approx(0.010, rel=1e-9) and s.prompt_token_s == pytest.approx(50e-6, rel=1e-9)
    # the three Qwen3 runs: P = 968.7, 487.4, 247.2; least squares 22.29 ms + 78.58 us a token (module docstring)
    s = decompose.split(qwen_prompt_tokens(QWEN_TPOT_S, np.array([m.ttft_s for m in QWEN])), QWEN_TPOT_S)
    assert s.decode_s == pytest.approx(22.29 * MS, abs=0.01 * MS)
    assert s.prompt_token_s == pytest.approx(78.58e-6, abs=0.01e-6)


def test_split_needs_prompt_work_that_moves():
    # 400 to 590 tokens a step: a spread of 1.475, under MIN_SPREAD (1.5): no line
    assert decompose.split(np.array([400.0, 590.0]), np.array([0.02, 0.03])) is None
    assert decompose.split(np.array([400.0]), np.array([0.02])) is None
    assert decompose.split(np.array([400.0, 600.0]), np.array([0.02, 0.03])) is not None  # 1.5: enough


def test_configurations_pair_measured_and_predicted_lines_and_skip_what_cannot_split():
    # a prediction 10 % slower per step and 20 % cheaper per prompt token, built on the measured P
    p = qwen_prompt_tokens(QWEN_TPOT_S, np.array([m.ttft_s for m in QWEN]))
    measured = decompose.split(p, QWEN_TPOT_S)
    pred_tpot = 1.1 * measured.decode_s + 0.8 * measured.prompt_token_s * p
    pred_ttft = p * 0 + 0.5  # P from the predicted TPOT and TTFT: a different P, the same kind of line
    rows = [*QWEN, run(1024, 20.0, 90000.0)]  # the same layout saturated (TTFT 90 s > 1,023 x 20 ms): not counted
    configs = decompose.configurations(rows, np.append(pred_tpot, 0.02), np.append(pred_ttft, 0.1))
    assert len(configs) == 1 and configs[0].runs == 3 and configs[0].gpus == 1
    expected = decompose.split(qwen_prompt_tokens(pred_tpot, pred_ttft), pred_tpot)
    assert configs[0].predicted == expected and configs[0].measured == measured
    (group,) = decompose.by_group(configs)
    assert group.label == "qwen3-32b / hgx-h100 / trtllm" and group.configurations == 1
    assert group.decode_ratio == pytest.approx(expected.decode_s / measured.decode_s)
    assert group.measured_gpu_us == pytest.approx(78.58, abs=0.01)  # one GPU: the slope itself


def test_by_group_takes_medians_and_counts_gpus():
    def config(decode_ratio, prompt_ratio, tp):
        m = decompose.Split(decode_s=0.02, prompt_token_s=40e-6)
        p = decompose.Split(decode_s=0.02 * decode_ratio, prompt_token_s=40e-6 * prompt_ratio)
        return decompose.Configuration(key=("m", "s", "e", tp), runs=3, gpus=tp, measured=m, predicted=p)

    (g,) = decompose.by_group([config(1.0, 0.7, 1), config(1.2, 0.8, 2), config(1.1, 0.9, 4)])
    assert g.configurations == 3
    assert g.decode_ratio == pytest.approx(1.1) and g.prompt_ratio == pytest.approx(0.8)
    assert g.measured_gpu_us == pytest.approx(80.0)  # 40 us x (1, 2, 4) GPUs: median 80
    assert g.predicted_gpu_us == pytest.approx(64.0)  # 28, 64, 144: median 64


def test_a_configuration_its_line_does_not_fit_is_left_out():
    # TPOT 60, 90 and 45 ms at osl 128, 256 and 512 (TTFT 800 ms): P = 64 x 2048 / (127 + 800 / 60) = 934.0,
    # 131,072 / (255 + 800 / 90) = 496.7 and 131,072 / (511 + 800 / 45) = 247.9 tokens; TPOT rises where P falls
    # and falls again, a line explains little of it
    rows = [run(128, 60.0, 800.0), run(256, 90.0, 800.0), run(512, 45.0, 800.0)]
    tpot, ttft = np.array([m.tpot_s for m in rows]), np.array([m.ttft_s for m in rows])
    p = qwen_prompt_tokens(tpot, ttft)
    assert p == pytest.approx([934.0, 496.7, 247.9], abs=0.1)
    assert decompose.split(p, tpot).r_squared < decompose.MIN_R_SQUARED
    assert decompose.configurations(rows, tpot, ttft) == []
