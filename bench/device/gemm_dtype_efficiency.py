"""Measure bf16 vs fp8 (W8A8, torch._scaled_mm) matmul throughput on the local GPU.

Decode-to-prefill-shaped products M tokens x K=4096 -> N=14336 (the shape of
calibration/h200_microbench.json) for M = 1,024 ... 16,384, plus 8192^3. Prints JSON with
TFLOP/s per dtype and shape, and the fp8/bf16 ratio of achieved fractions of peak.
Run on a GPU: python bench/device/gemm_dtype_efficiency.py [OUT.json]
"""

import json
import sys

import torch


def timed(fn, reps=20):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    times.sort()
    return times[len(times) // 2]


def main():
    dev = "cuda"
    shapes = [(m, 4096, 14336) for m in (1024, 2048, 4096, 8192, 16384)] + [(8192, 8192, 8192)]
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "shapes": []}
    for m, k, n in shapes:
        a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        b = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
        t_bf16 = timed(lambda a=a, b=b: a @ b.t())
        a8, b8 = a.to(torch.float8_e4m3fn), b.to(torch.float8_e4m3fn)
        one = torch.ones((), device=dev, dtype=torch.float32)
        t_fp8 = timed(lambda a8=a8, b8=b8, one=one: torch._scaled_mm(a8, b8.t(), scale_a=one, scale_b=one,
                                                                     out_dtype=torch.bfloat16))
        flop = 2.0 * m * k * n
        out["shapes"].append({"m": m, "k": k, "n": n, "bf16_s": t_bf16, "fp8_s": t_fp8,
                              "bf16_tflops": flop / t_bf16 / 1e12, "fp8_tflops": flop / t_fp8 / 1e12})
    text = json.dumps(out, indent=1)
    print(text)
    if len(sys.argv) > 1:
        open(sys.argv[1], "w").write(text)


if __name__ == "__main__":
    main()
