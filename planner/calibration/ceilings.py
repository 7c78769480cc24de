"""The fastest GEMM rate ever measured on each GPU and tensor-core dtype: a ceiling for screening rows.

The datasheet peak is a hard bound no run can beat; the kernel tables (``calibration/kernels/``,
``gemm_perf``, every engine) say how close any measured kernel came to it. A measured row whose own
figures need more FLOP/s than any GEMM ever measured on its GPU and dtype
(``planner.calibration.screen.below_measured_ceiling``) measured something other than what it
describes (e.g. prompts served from a prefix cache). Each entry is the best ``2 m n k / latency``
over the table's rows of that system and dtype (every engine, every shape), with the row it comes
from; ``tests/planner/calibration/test_ceilings.py`` recomputes them from the tables. FP8 takes the
faster of the per-tensor ``fp8`` and block-scaled ``fp8_block`` rows, FP4 the ``nvfp4`` rows.
GPUs without kernel rows (MI300X, MI325X, MI355X, H800) have no entry: only the datasheet floor
screens their rows.
"""

from __future__ import annotations

from planner import units

# catalogue GPU -> compute dtype -> TFLOP/s. Each from the gemm_perf row (system, engine, gemm_dtype, m x n x k,
# latency) it is 2 m n k / latency of:
#   h100-sxm  bf16 h100_sxm vllm bfloat16 3329 x 1536 x 51200 in 0.5477 ms; fp8 vllm fp8 8192 x 65536 x 16384
#             in 10.99 ms
#   h200-sxm  bf16 h200_sxm vllm bfloat16 3329 x 12288 x 8192 in 0.7129 ms; fp8 vllm fp8 512 x 65536 x 12288 in
#             0.4916 ms
#   b200      bf16 b200_sxm vllm 2304 x 3072 x 65536 in 0.4413 ms; fp8 vllm 3328 x 65536 x 8192 in 1.026 ms;
#             fp4 vllm nvfp4 3584 x 65536 x 16384 in 1.453 ms
#   gb200     bf16 vllm 1024 x 4096 x 65536 in 0.2522 ms; fp8 vllm 3328 x 65536 x 8192 in 0.9193 ms; fp4 sglang
#             nvfp4 3840 x 51200 x 12288 in 0.8186 ms
#   b300      bf16 b300_sxm vllm 2304 x 65536 x 4096 in 0.5564 ms; fp8 vllm 4096 x 65536 x 8192 in 1.205 ms;
#             fp4 trtllm nvfp4 3584 x 51200 x 65536 in 4.017 ms
#   gb300     bf16 vllm 2304 x 51200 x 51200 in 5.176 ms; fp8 vllm 4352 x 65536 x 8192 in 1.166 ms; fp4 trtllm
#             nvfp4 2816 x 51200 x 65536 in 2.924 ms
MEASURED_GEMM_TFLOPS: dict[str, dict[str, float]] = {
    "h100-sxm": {"bf16": 956.0, "fp8": 1600.6},
    "h200-sxm": {"bf16": 940.1, "fp8": 1677.6},
    "b200": {"bf16": 2102.2, "fp8": 3481.8, "fp4": 5298.0},
    "gb200": {"bf16": 2179.5, "fp8": 3887.1, "fp4": 5902.3},
    "b300": {"bf16": 2223.3, "fp8": 3649.9, "fp4": 5988.0},
    "gb300": {"bf16": 2333.8, "fp8": 4007.6, "fp4": 6462.7},
}


def measured_flop_per_s(gpu: str, dtype: str) -> float | None:
    """The fastest GEMM FLOP/s measured on ``gpu`` in ``dtype`` or BF16, whichever is faster (None: no rows).

    A row runs its matrix products in its compute dtype where the part has it, else in BF16
    (``planner.quant.QuantMode.compute_dtype``), so its ceiling is the faster of the two, as the
    datasheet floor takes the faster of the two peaks.
    """
    table = MEASURED_GEMM_TFLOPS.get(gpu)
    if not table:
        return None
    best = max(table.get(dtype, 0.0), table.get("bf16", 0.0))
    return best * units.TERA if best > 0 else None
