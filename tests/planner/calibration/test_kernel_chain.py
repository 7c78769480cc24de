"""Hand-computed: the measured-kernel floor of a measured row's step (planner.calibration.kernel_chain)."""

import numpy as np
import pytest

pytest.importorskip("pyarrow")  # the floor reads the kernel tables (the calibrate extra)

from hardware.catalogue import Catalogue  # noqa: E402
from planner.calibration import kernel_chain, kernels, screen  # noqa: E402
from planner.calibration.measurements import Measurement, MeasurementSet  # noqa: E402

# Llama-3.1-8B FP8 on 4 H200 under vLLM (calibration/silicon_calibration.csv): 64 requests of 4,000 in / 100 out,
# TTFT 124.63 ms, TPOT 7.52 ms. Little's law: 64 / (99 + 124.63 / 7.52) = 64 / 115.573 = 0.55376 prompts a step,
# so the GEMMs run 64 + 0.55376 x 4,000 = 2,279.05 rows (the LM head 64.554: one logit per prompt).
PROMPTS = 64 / (99 + 124.63 / 7.52)
TOKENS = 64 + PROMPTS * 4000


def _row(tpot_s=7.52e-3, ttft_s=124.63e-3, model="llama-3.1-8b", system="hgx-h200", tp=4, pp=1, quant="fp8"):
    return Measurement(line=2, label="hand", model=model, system=system, gpu=None, engine="vllm", tp=tp, pp=pp, ep=1,
                       dp=1, batch=64, quant=quant, kv_quant=None, isl=4000, osl=100, tpot_s=tpot_s, ttft_s=ttft_s,
                       tok_per_gpu=None)


@pytest.fixture(scope="module")
def h200():
    return Catalogue().hardware("hgx-h200")


def test_gemm_floor_is_the_slowest_smaller_shape():
    # Brute force over the raw rows: every FP8 GEMM measured on H200 with m <= 2,279.05, n <= 7,168 and k <= 4,096
    # (gate-up at TP 4: 28,672 / 4 columns), the fastest of all engines per shape, then the slowest shape.
    best = {}
    for f in kernels.load("gemm_perf", "h200_sxm", columns=["gemm_dtype", "m", "n", "k"]):
        for dtype, m, n, k, t in zip(f["gemm_dtype"], f["m"], f["n"], f["k"], f["latency_s"]):
            if dtype in ("fp8", "fp8_block") and m <= TOKENS and n <= 7168 and k <= 4096:
                best[(m, n, k)] = min(t, best.get((m, n, k), np.inf))
    assert kernel_chain.gemm_s("h200_sxm", "fp8", TOKENS, 7168, 4096) == max(best.values())
    assert 100e-6 < max(best.values()) < 110e-6  # 104.9 us
    assert kernel_chain.gemm_s("h200_sxm", "fp8", 0.5, 7168, 4096) == 0.0  # nothing measured below one row


def test_allreduce_floor_is_the_slowest_smaller_message():
    # 2,279.05 rows x 4,096 hidden = 9,334,979 bf16 elements over 4 GPUs: the slowest of the fastest 16-bit times
    # measured for messages up to that size (engines' own all-reduce and NCCL).
    elements = TOKENS * 4096
    best = {}
    for table, column in (("custom_allreduce_perf", "allreduce_dtype"), ("nccl_perf", "nccl_dtype")):
        for f in kernels.load(table, "h200_sxm"):
            ops = f.get("op_name", np.full(len(f["latency_s"]), "all_reduce"))
            for op, dtype, n, size, t in zip(ops, f[column], f["num_gpus"], f["message_size"], f["latency_s"]):
                if op == "all_reduce" and dtype in ("bfloat16", "half") and n == 4 and size <= elements:
                    best[size] = min(t, best.get(size, np.inf))
    assert kernel_chain.allreduce_s("h200_sxm", 4, elements) == max(best.values())
    assert 80e-6 < max(best.values()) < 87e-6  # 83.6 us: 18.7 MB, bus bandwidth 2 x 3/4 x 18.7 MB / 83.6 us = 335 GB/s
    assert kernel_chain.allreduce_s("h200_sxm", 4, 2 * elements) >= max(best.values())
    assert kernel_chain.allreduce_s("h200_sxm", 3, elements) == 0.0  # no 3-GPU rows


def test_step_floor_by_hand(h200):
    m = _row()
    spec = screen.model_spec(m.model)
    floor = screen.physical_floor(m, spec, h200)
    # KV: 32 layers x 8 heads x 128 x 2 = 65,536 one-byte elements a token (FP8 where the row does not say), 64
    # sequences x 4,000 tokens over 4 GPUs at 4.8 TB/s: 4.194e9 / 4.8e12 = 0.8738 ms. Causal attention of one
    # 4,000-token prompt: 4 x 32 layers x 4,096 x (4,000 x 3,999 / 2) = 4.193e12 FLOPs, over 4 GPUs at the FP8
    # peak 1,979 TFLOP/s: 0.5297 ms.
    assert floor.kv_read_s == pytest.approx(64 * 4000 * 65536 / 4 / 4.8e12, rel=1e-9)
    assert floor.prompt_attention_s == pytest.approx(4 * 32 * 4096 * (4000 * 3999 / 2) / 4 / 1.979e15, rel=1e-9)
    g = lambda rows, n, k: kernel_chain.gemm_s("h200_sxm", "fp8", rows, n, k)  # noqa: E731
    # TP 4: QKV 4,096 -> 6,144 / 4, O 4,096 / 4 -> 4,096, gate-up 4,096 -> 28,672 / 4, down 14,336 / 4 -> 4,096;
    # LM head 4,096 -> 128,256 / 4 on 64.554 rows; two all-reduces a layer.
    layers = 32 * (g(TOKENS, 1536, 4096) + g(TOKENS, 4096, 1024) + g(TOKENS, 7168, 4096) + g(TOKENS, 4096, 3584))
    head = g(64 + PROMPTS, 32064, 4096)
    reduce = 2 * 32 * kernel_chain.allreduce_s("h200_sxm", 4, TOKENS * 4096)
    expected = layers + head + reduce + floor.kv_read_s + PROMPTS * floor.prompt_attention_s
    got = kernel_chain.step_floor_s(m, spec, h200, floor.running, floor.kv_read_s, floor.prompt_attention_s)
    assert got == pytest.approx(expected, rel=1e-12)
    assert 7.5e-3 < layers < 7.7e-3 and 5.2e-3 < reduce < 5.5e-3  # 7.60 and 5.35 ms
    assert got == pytest.approx(14.14e-3, rel=2e-3)  # 7.60 + 0.02 + 5.35 + 0.87 + 0.29 ms: above the 7.52 measured
    assert screen.below_kernel_chain(m, spec, h200) == screen.KERNEL_CHAIN_REASON
    # At TPOT 20 ms the same run starts 64 / (99 + 6.23) = 0.608 prompts a step: a floor of about 15 ms, below it.
    assert screen.below_kernel_chain(_row(tpot_s=20e-3), spec, h200) is None


def test_not_applied(h200):
    cat = Catalogue()
    moe = _row(model="deepseek-v3", tp=8)
    assert kernel_chain.step_floor_s(moe, screen.model_spec("deepseek-v3"), h200, 64, 0.0, 0.0) is None
    staged = _row(pp=2)
    assert kernel_chain.step_floor_s(staged, screen.model_spec("llama-3.1-8b"), h200, 64, 0.0, 0.0) is None
    mi300x = cat.hardware("mi300x")  # its default system; no kernel tables: only the datasheet floors apply
    assert kernel_chain.step_floor_s(_row(system=None), screen.model_spec("llama-3.1-8b"), mi300x, 64, 0.0,
                                     0.0) is None


def test_without_pyarrow_the_screen_is_listed_not_applied(monkeypatch):
    monkeypatch.setattr(kernels, "readable", lambda: False)
    rows = MeasurementSet(path="hand", kind="simple", rows=(_row(),), skipped={})
    kept, _ = screen.resolve(rows, Catalogue())
    assert len(kept.rows) == 1 and kept.skipped == {screen.KERNEL_CHAIN_UNCHECKED: 0}
    monkeypatch.undo()
    kept, _ = screen.resolve(rows, Catalogue())
    assert not kept.rows and kept.skipped == {screen.KERNEL_CHAIN_REASON: 1}


def test_readable_needs_the_tables_folder(tmp_path):
    assert kernels.readable() and not kernels.readable(tmp_path / "no-such-folder")
