"""Fit and score the collective curves (``planner.engine.kernels.comm``) on the measured collective kernels.

Rows used (and why the others are left out):

* all-reduce: ``custom_allreduce_perf`` (each engine's own all-reduce: bf16, 2-8 GPUs; the rows
  launched eagerly, ``*_eager``, are left out: decode runs in CUDA graphs, and an eager launch adds
  ~20-30 us of host time that the engine profile's launch overheads carry), and the ``all_reduce``
  rows of ``nccl_perf`` (engine ``nccl``); ``message_size`` counts elements (bf16 and half 2 bytes,
  int8 1).
* all-to-all (MoE dispatch and combine, each phase one row): the decode (low-latency) kernels the
  serving model prices, in bf16 (the activations' dtype; fp8/nvfp4 rows are left out):
  ``moe_a2a_perf`` rows of backend ``*deepep_ll`` (TensorRT-LLM, vLLM; ``comm_dtype`` bfloat16 or
  default), ``trtllm_alltoall_perf`` dispatch and combine (GB200, 2-64 ranks on the NVL72's NVLink),
  ``wideep_deepep_ll_perf`` (SGLang; one node, so the group is the system's GPUs per server), and
  the ``alltoall`` rows of ``nccl_perf``. The high-throughput (``deepep_ht``, ``wideep_deepep_normal``)
  kernels and the ``alltoall_prepare`` rows are not scored. ``num_tokens`` counts tokens per rank.
  ``moe_a2a_perf`` stores microseconds in ``latency`` (it equals ``transmit_us``), not milliseconds
  (``planner.calibration.kernels.load`` converts it).

Every row measured inside one scale-up domain (NVLink), so the fit is per (engine, system) on the
system's NVLink rate. Each curve is linear in (floor, step, 1 / efficiency): a least-absolute
relative-error fit (iteratively reweighted least squares) with floor, step >= 0 and efficiency <= 1
(a bound that binds is held there and the rest refitted). Where the rows have one group size only,
``step`` is not identifiable and is 0 (the floor carries it). On GB200 the TensorRT-LLM all-to-all is
fitted to ``trtllm_alltoall_perf`` alone (its NVLink kernels for wide EP, 2-64 ranks); its DeepEP
``moe_a2a_perf`` rows, 3-5x slower, are still scored against that curve. GB300 has no
``trtllm_alltoall_perf`` rows; its NVL72 is GB200's NVLink domain and TensorRT-LLM runs the same kernel there,
so its TensorRT-LLM all-to-all is fitted to GB200's native rows (``NATIVE_TRANSFER``).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from hardware.catalogue import default_catalogue
from planner import units
from planner.calibration import kernel_fits, kernels
from planner.calibration.kernel_fits import Score
from planner.engine import collectives
from planner.engine.kernels import comm as curve

ALLREDUCE, ALLTOALL = "all-reduce", "all-to-all"
DTYPE_BYTES = {"bfloat16": 2.0, "half": 2.0, "int8": 1.0, "default": 2.0}
# (table, the engine of the fitted parameters) scored, in print order.
TABLES = ("custom_allreduce_perf", "nccl_perf", "moe_a2a_perf", "trtllm_alltoall_perf", "wideep_deepep_ll_perf")
# TensorRT-LLM's own NVLink all-to-all (what it runs for wide EP on an NVL72); where measured, the
# TensorRT-LLM all-to-all curve is fitted to it alone, not to the DeepEP low-latency rows beside it.
NATIVE_ALLTOALL = "trtllm_alltoall_perf"
# A system without native all-to-all rows whose scale-up domain is a measured system's: its engine runs the same
# kernel on the same links, so the measured system's native rows are fitted for it. The GB300 NVL72 is the GB200
# NVL72's 72-GPU NVLink 5 switch domain (900 GB/s a GPU each way on both, hardware catalogue), and TensorRT-LLM
# picks its NVLink one-sided all-to-all first wherever it runs (its MoE communication factory's auto-selection:
# NVLinkOneSided, then NVLinkTwoSided, then DeepEP); GB300's DeepEP rows are still scored against that curve.
NATIVE_TRANSFER = {"gb300": "gb200"}
IRLS_ROUNDS = 12
SOURCE = ("fitted by bench/kernel_fits.py --fit to calibration/kernels/<system>/comm/ tables custom_allreduce_perf, "
          "nccl_perf, moe_a2a_perf, trtllm_alltoall_perf, wideep_deepep_ll_perf (aiconfigurator-core 0.12.0); "
          "rows as planner/calibration/kernel_fits/comm.py says")


def _hardware(system: str):
    return default_catalogue().hardware(kernels.SYSTEM_GPUS[system])


def _link(system: str) -> float:
    """Per-GPU, per-direction NVLink rate of ``system`` (the scale-up tier every row runs on)."""
    return _hardware(system).fabrics["intra_server"].bytes_per_s


def _rows(kind, n, size, seconds):
    """One block of rows: ``size`` is the all-reduce's message or the all-to-all's share per rank, bytes."""
    n = np.asarray(n, float)
    volume = collectives.bandwidth_factor(collectives.ALL_REDUCE if kind == ALLREDUCE else collectives.ALL_TO_ALL, n)
    return {"kind": np.full(n.size, kind), "n": n, "size": np.asarray(size, float),
            "volume": volume * np.asarray(size, float), "seconds": np.asarray(seconds, float)}


def _frame_rows(table: str, f: dict) -> dict[str, np.ndarray] | None:
    """The scored rows of one kernel-table file (module docstring), or None when it has none."""
    if table == "custom_allreduce_perf":
        keep = ~np.char.endswith(f["kernel_source"].astype(str), "_eager")  # decode runs in CUDA graphs
        size = f["message_size"] * np.vectorize(DTYPE_BYTES.get)(f["allreduce_dtype"])
        n, size = f["num_gpus"][keep], size[keep]
        return _rows(ALLREDUCE, n, size, f["latency_s"][keep])
    if table == "nccl_perf":
        n, size = f["num_gpus"], f["message_size"] * np.vectorize(DTYPE_BYTES.get)(f["nccl_dtype"])
        ar, a2a = f["op_name"] == "all_reduce", f["op_name"] == "alltoall"
        blocks = [_rows(ALLREDUCE, n[ar], size[ar], f["latency_s"][ar]),
                  _rows(ALLTOALL, n[a2a], size[a2a], f["latency_s"][a2a])]
        return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    if table == "moe_a2a_perf":
        keep = np.char.endswith(f["comm_backend"].astype(str), "deepep_ll") & np.isin(f["comm_dtype"],
                                                                                    ("bfloat16", "default"))
        n = f["ep_size"][keep]
        share = f["num_tokens"][keep] * f["topk"][keep] * f["hidden_size"][keep] * 2.0
        return _rows(ALLTOALL, n, share, f["latency_s"][keep])
    if table == "trtllm_alltoall_perf":
        keep = np.isin(f["op_name"], ("alltoall_dispatch", "alltoall_combine")) & (f["moe_dtype"] == "bfloat16")
        n = f["moe_ep_size"][keep]
        share = f["num_tokens"][keep] * f["topk"][keep] * f["hidden_size"][keep] * 2.0
        return _rows(ALLTOALL, n, share, f["latency_s"][keep])
    if table == "wideep_deepep_ll_perf":
        gpus = _hardware(f["system"]).gpus_per_server
        share = np.tile(f["num_token"] * f["num_topk"] * f["hidden_size"] * 2.0, 2)
        seconds = units.from_us(np.concatenate([f["dispatch_avg_t_us"], f["combine_avg_t_us"]]))
        return _rows(ALLTOALL, np.full(share.size, gpus), share, seconds)
    raise ValueError(f"unknown collective table {table!r}")


@cache
def rows(table: str) -> tuple[tuple[str, str, dict], ...]:
    """(system, engine, rows) of every file of ``table`` with scored rows; nccl_perf only under engine nccl."""
    frames = kernels.load(table)
    found = []
    for f in frames:
        if table == "nccl_perf" and f["engine"] != "nccl":
            continue  # one B300 copy sits under trtllm: the nccl files are the NCCL measurements
        r = _frame_rows(table, f)
        if r is not None and r["n"].size:
            found.append((f["system"], f["engine"], r))
    return tuple(found)


def predict(p: curve.CommParams, r: dict, link: float) -> np.ndarray:
    """The curve's seconds for rows ``r`` on a scale-up link of ``link`` bytes/s (volume already per GPU)."""
    n, size = r["n"], r["size"]
    t_ar = curve.allreduce_s(n, size, p.allreduce_floor_s, p.allreduce_step_s, link * p.allreduce_efficiency,
                             p.allreduce_twoshot_s)
    t_a2a = curve.alltoall_s(n, size, n, p.alltoall_floor_s, p.alltoall_step_s, link * p.alltoall_efficiency)
    return np.where(r["kind"] == ALLREDUCE, t_ar, t_a2a)


def _fit_one(n, volume, seconds, link) -> tuple[float, float, float]:
    """(floor, step, efficiency) minimising the absolute relative error, bounded (module docstring)."""
    design = np.column_stack([np.ones_like(n), np.log2(n), volume / link])
    theta = _irls(design, seconds, [True, np.unique(n).size > 1, True], np.array([seconds.min(), 0.0, 1.0]))
    return float(theta[0]), float(theta[1]), float(1.0 / theta[2])


def _fit_allreduce(n, size, seconds, link) -> tuple[float, float, float, float]:
    """(floor, step, efficiency, twoshot) of the all-reduce curve (``planner.engine.kernels.comm``): linear in
    (floor, step, 1 / efficiency, twoshot) once each row's algorithm is known, so the rows are assigned to
    the faster of one-shot and two-shot under the current parameters and the fit repeated (from the
    two-shot line everywhere, ``twoshot = 0``) until the assignment holds."""
    twoshot_volume = collectives.bandwidth_factor(collectives.ALL_REDUCE, n) * size / link
    oneshot_volume = (n - 1.0) * size / link
    theta = np.array([seconds.min(), 0.0, 1.0, 0.0])
    free = [True, np.unique(n).size > 1, True, bool((n > 2).any())]
    two = np.ones(n.size, dtype=bool)
    for _ in range(IRLS_ROUNDS):
        design = np.column_stack([np.ones_like(n), np.log2(n), np.where(two, twoshot_volume, oneshot_volume),
                                  two.astype(float)])
        theta = _irls(design, seconds, list(free), theta)
        now = twoshot_volume * theta[2] + theta[3] < oneshot_volume * theta[2]
        if (now == two).all():
            break
        two = now
    return float(theta[0]), float(theta[1]), float(1.0 / theta[2]), float(theta[3])


def _irls(design, seconds, free, theta) -> np.ndarray:
    """Least-absolute relative-error fit of ``seconds ~ design @ theta`` (iteratively reweighted), every
    coefficient >= 0 and the third (1 / efficiency) >= 1, a violated bound held (from then on: ``free`` is
    updated in place) and the rest refitted; ``free[j]`` False holds ``theta[j]``."""
    theta = theta.astype(float).copy()
    k = design.shape[1]
    lower = np.zeros(k)
    lower[2] = 1.0
    weights = 1.0 / seconds
    on = free
    for _ in range(IRLS_ROUNDS):
        for _ in range(k):  # active set: hold a violated bound, refit the rest
            cols = [j for j in range(k) if on[j]]
            held = [j for j in range(k) if not on[j]]
            fixed = design[:, held] @ theta[held]
            a = design[:, cols] * weights[:, None]
            theta[cols] = np.linalg.lstsq(a, (seconds - fixed) * weights, rcond=None)[0]
            violated = [j for j in cols if theta[j] < lower[j]]
            if not violated:
                break
            for j in violated:
                theta[j], on[j] = lower[j], False
        relative = np.abs(design @ theta - seconds) / seconds
        weights = 1.0 / (seconds * np.sqrt(np.maximum(relative, 0.02)))
    return theta


def fit() -> dict[tuple[str, str], curve.CommParams]:
    """Parameters per (engine, catalogue GPU) from every table's rows."""
    pooled: dict[tuple[str, str], dict[str, dict]] = {}
    for table in TABLES:
        for system, engine, r in rows(table):
            pooled.setdefault((engine, system), {})[table] = r
    out = {}
    for (engine, system), by_table in sorted(pooled.items()):
        donor_system = NATIVE_TRANSFER.get(system)
        donor = pooled.get((engine, donor_system), {})
        if NATIVE_ALLTOALL not in by_table and NATIVE_ALLTOALL in donor and _link(system) == _link(donor_system):
            by_table = {**by_table, NATIVE_ALLTOALL: donor[NATIVE_ALLTOALL]}
        if NATIVE_ALLTOALL in by_table:  # the engine's own wide-EP kernel replaces DeepEP's on this system
            by_table.pop("moe_a2a_perf", None)
        blocks = list(by_table.values())
        r = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
        link = _link(system)
        ar, a2a = r["kind"] == ALLREDUCE, r["kind"] == ALLTOALL
        values = list(_fit_allreduce(r["n"][ar], r["size"][ar], r["seconds"][ar], link) if ar.any()
                      else (0.0, 0.0, 1.0, 0.0))
        values += _fit_one(r["n"][a2a], r["volume"][a2a], r["seconds"][a2a], link) if a2a.any() else (0.0, 0.0, 1.0)
        out[(engine, kernels.SYSTEM_GPUS[system])] = curve.CommParams(*values)
    return out


def fit_text() -> str:
    """A fresh fit as the text of ``planner/engine/data/kernels/comm.toml``."""
    lines = ["# Collective kernel curves per (engine, GPU): planner/engine/kernels/comm.py.", "",
             "[sources]", f'all = "{SOURCE}"']
    for (engine, gpu), p in fit().items():
        lines += ["", f"[{engine}.{gpu}]"]
        lines += [f"{name} = {getattr(p, name):.4g}" for name in (
            "allreduce_floor_s", "allreduce_step_s", "allreduce_efficiency", "allreduce_twoshot_s",
            "alltoall_floor_s", "alltoall_step_s", "alltoall_efficiency")]
    return "\n".join(lines) + "\n"


def score() -> list[Score]:
    """The shipped parameters against every scored row, one score per (table, system, engine)."""
    out = []
    for table in TABLES:
        for system, engine, r in rows(table):
            p = curve.params(engine, kernels.SYSTEM_GPUS[system])
            out.append(kernel_fits.score("comm", table, system, engine, predict(p, r, _link(system)), r["seconds"]))
    return out
