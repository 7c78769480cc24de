"""Screen measured rows against the catalogue and physics: which rows can be believed.

`planner.calibration.measurements` reads a file into rows; :func:`resolve` then keeps the rows
whose model and system the catalogue knows and counts the others by reason: layouts that
contradict themselves (wider than the scale-up domain, ``tp`` not dividing the heads,
``tp x dp`` not equal to ``moe_tp x moe_ep``) and measurements faster than physics allows for
the described run (:func:`physical_floor`). :func:`saturated` flags runs whose requests mostly
queued, for callers that fit or score TPOT against the stated concurrency.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from hardware.catalogue import Catalogue
from hardware.errors import CatalogueError
from hardware.specs import Hardware
from models.errors import ModelError
from models.spec import ModelSpec
from planner import quant
from planner.calibration import ceilings, kernel_chain, kernels
from planner.calibration.measurements import Measurement, MeasurementSet
from planner.model_file import model as load_model
from planner.serving import parallel
from planner.serving.layout import block_modes, layout
from planner.serving.memory import weight_bytes_per_gpu
from planner.serving.plan import Plan, PlanArrays
from planner.serving.prompt_work import prompt_tokens_per_step
from planner.serving.roofline import dense_read_bytes
from planner.serving.shape import model_shape

# Checkpoints that share a catalogue entry's architecture (same config.json shapes).
SAME_ARCHITECTURE = {"deepseek-v3.1": "deepseek-v3", "deepseek-r1-0528": "deepseek-r1",
                     "llama-3.3-70b": "llama-3.1-70b"}
# Suffixes naming a quantised re-release of a checkpoint, not another architecture.
_CHECKPOINT_SUFFIX = re.compile(r"(-instruct|-fp8|-nvfp4|-fp4|-mxfp4|-fp8-dynamic|-v2)+$", re.IGNORECASE)


def model_spec(name: str) -> ModelSpec:
    """The catalogue model of a checkpoint name, quantised re-releases mapped to their base.

    ``nvidia/Llama-3.1-8B-Instruct-FP8`` -> ``llama-3.1-8b``; ``nvidia/DeepSeek-V3.1-NVFP4`` ->
    ``deepseek-v3`` (same architecture, :data:`SAME_ARCHITECTURE`).

    Raises:
        ModelError: no catalogue entry fits.
    """
    try:
        return load_model(name)
    except ModelError:
        pass
    repo = name.strip().split("/")[-1]
    base = _CHECKPOINT_SUFFIX.sub("", repo).lower()
    base = SAME_ARCHITECTURE.get(base, base)
    return load_model(base)


def check(m: Measurement, spec: ModelSpec, hw: Hardware) -> str | None:
    """Why row ``m`` contradicts itself or the catalogue (None when usable)."""
    if min(m.tp, m.pp, m.ep, m.dp, m.batch, m.isl, m.osl) < 1:
        return "layout or length below 1"
    if m.gpus > hw.scale_up_domain_gpus:
        return "layout wider than the scale-up domain"
    if spec.moe is not None and m.moe_tp is not None and m.moe_tp * m.ep != m.tp * m.dp:
        return "tp x attention_dp differs from moe_tp x moe_ep"
    reasons = parallel.layout_reasons(spec, m.tp, m.pp, m.ep if spec.moe is not None else 1, m.dp, m.batch)
    if reasons:
        return "invalid layout: " + reasons[0].split(" (")[0].split(":")[0]
    return None


def saturated(m: Measurement) -> bool:
    """The run's requests waited longer for their first token than they spent decoding.

    Then most of the stated concurrency sat in the engine's queue, so ``batch`` is not the
    running batch the measured TPOT belongs to (e.g. gpt-oss-120b on H100 with vLLM at
    concurrency 512: TPOT 5 ms, TTFT 20-460 s).
    """
    return m.ttft_s is not None and m.tpot_s is not None and m.ttft_s > (m.osl - 1) * m.tpot_s


@dataclass(frozen=True)
class Floor:
    """Hard lower bounds of one row's measurements (seconds); see :func:`physical_floor`."""

    tpot_s: float
    ttft_s: float
    running: int
    step_flop_s: float = 0.0
    step_bytes_s: float = 0.0
    prompt_flop_s: float = 0.0
    peak_flop_per_s: float = 0.0  # the datasheet peak the FLOP times above are at
    kv_read_s: float = 0.0  # the running sequences' KV cache at isl tokens, per GPU, at the nominal bandwidth
    prompt_attention_s: float = 0.0  # one prompt's causal attention FLOPs per GPU at the peak

    def interleaved_tpot_s(self, batch: int, osl: int, tpot_s: float, ttft_s: float,
                           flop_scale: float = 1.0) -> float:
        """TPOT floor of a step that also carries the prompts the row's own TTFT and TPOT imply.

        A closed loop of ``batch`` requests starts one prompt per request lifetime ``TTFT +
        (osl - 1) x TPOT`` (Little's law), so an average step of ``TPOT`` carries ``batch /
        (osl - 1 + TTFT / TPOT)`` prompts' FLOPs besides its decode FLOPs; the bytes are the
        decode step's (a lower bound). E.g. 64 requests of 2,000 in / 100 out at TTFT 121.7 ms and
        TPOT 9.74 ms carry ``64 / 111.5 = 0.574`` prompts a step. ``flop_scale`` stretches the FLOP
        time (peak over a slower rate: :func:`below_measured_ceiling`).
        """
        prompts = float(prompt_tokens_per_step(batch, 1, osl, tpot_s, ttft_s))
        return max((self.step_flop_s + prompts * self.prompt_flop_s) * flop_scale, self.step_bytes_s)


def physical_floor(m: Measurement, spec: ModelSpec, hw: Hardware) -> Floor:
    """Hard lower bounds on TPOT and TTFT of row ``m``: its work at the part's datasheet peaks.

    Every FLOP runs at the dense tensor-core peak of the row's compute dtype (at least BF16's)
    and every byte moves at the nominal HBM bandwidth, both at once (perfect overlap), with
    no communication, no overhead and perfectly balanced GPUs. A measurement below its floor
    contradicts the row's own description (layout, batch, quantisation, lengths): the run
    was not what the row says (e.g. a prefix-cache hit, a smaller running batch).

    * TPOT: one decode step of the sequences the KV cache can hold at all (``running``: the
      batch, or fewer when even the whole HBM less the weights holds fewer at ``isl`` tokens),
      with no prompt work (a synchronised wave prefills before it decodes): ``running x 2 x
      (active parameters less the input embedding) + attention at context isl`` FLOPs over
      the instance's GPUs; each GPU reads its share of the non-expert weights
      (``planner.serving.roofline.dense_read_bytes``), its sequences' KV cache at ``isl`` tokens, and
      at least ``top_k`` experts per MoE layer spread over all GPUs.
    * TTFT: the request's own prompt, ``isl`` tokens of linear work plus causal attention,
      spread over every GPU of the instance, and one read of each GPU's non-expert weights.
    * Interleaved prefill (:meth:`Floor.interleaved_tpot_s`, from the row's own TTFT and TPOT):
      the decode step's FLOPs plus those of the prompts that arrive per step by Little's law.

    The KV cache is taken at the row's mode, or at one byte per element when the row does not
    say (the smallest any engine stores), so the floor errs low.
    """
    shape = model_shape(spec, m.isl, m.isl, prefill_tokens=m.isl)
    kv_mode = m.kv_quant or "fp8"
    plans = PlanArrays.from_plans([Plan(tp=m.tp, pp=m.pp, ep=m.ep if spec.moe is not None else 1, dp=m.dp,
                                        batch=m.batch, quant=m.quant, kv_quant=kv_mode)])
    lay = layout(shape, plans, *block_modes(spec.native_weight_quant, None))
    peak = max(hw.gpu.peak_flop_per_s.get(quant.mode(m.quant).compute_dtype) or 0.0,
               hw.gpu.peak_flop_per_s.get("bf16") or 0.0)
    bandwidth = hw.gpu.hbm_bytes_per_s
    layers = shape.num_layers
    moe_layers = shape.num_moe_layers
    # Per-token linear FLOPs without the input embedding (a lookup, no multiply).
    linear_flop = 2.0 * (shape.attention_params * layers + shape.dense_ffn_params * (layers - moe_layers)
                         + (shape.shared_params + shape.top_k * shape.expert_params) * moe_layers
                         + shape.vocab_params)
    kv_per_sequence_gpu = (shape.kv_read_sequence_elements / layers * float(lay.stage_layers[0])
                           * quant.mode(kv_mode).bytes_per_element / float(lay.kv_split[0]))
    free = hw.gpu.hbm_bytes - float(weight_bytes_per_gpu(shape, lay)[0])
    running = m.batch if kv_per_sequence_gpu <= 0 else int(min(m.batch, max(free / kv_per_sequence_gpu, 1.0) * m.dp))
    dense = float(dense_read_bytes(shape, lay)[0])
    routed = shape.top_k * shape.expert_params * moe_layers * float(lay.weight_bytes[0]) / m.gpus
    step_flop = running * (linear_flop + shape.attention_flop_per_token) / m.gpus
    step_bytes = dense + running / m.dp * kv_per_sequence_gpu + routed
    tpot = max(step_flop / peak, step_bytes / bandwidth)
    prompt_flop = (m.isl * (linear_flop - 2.0 * shape.vocab_params) + 2.0 * shape.vocab_params
                   + shape.prefill_attention_flop) / m.gpus
    ttft = max(prompt_flop / peak, (dense + routed) / bandwidth)
    return Floor(tpot_s=tpot, ttft_s=ttft, running=running, step_flop_s=step_flop / peak,
                 step_bytes_s=step_bytes / bandwidth, prompt_flop_s=prompt_flop / peak, peak_flop_per_s=peak,
                 kv_read_s=running / m.dp * kv_per_sequence_gpu / bandwidth,
                 prompt_attention_s=shape.prefill_attention_flop / m.gpus / peak)


def below_floor(m: Measurement, spec: ModelSpec, hw: Hardware) -> str | None:
    """Why row ``m``'s measurements are physically impossible as described (None when possible)."""
    floor = physical_floor(m, spec, hw)
    if m.tpot_s is not None and m.tpot_s < floor.tpot_s:
        return "TPOT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)"
    if m.ttft_s is not None and m.ttft_s < floor.ttft_s:
        return "TTFT below the physical floor (peak FLOP/s and HBM bandwidth, no overhead)"
    if m.tpot_s is not None and m.ttft_s is not None and \
            m.tpot_s < floor.interleaved_tpot_s(floor.running, m.osl, m.tpot_s, m.ttft_s):
        return "TPOT below the interleaved-prefill floor (decode plus the prompts TTFT and TPOT imply, at peak)"
    return None


MEASURED_CEILING_REASON = ("TPOT below the measured-rate floor (decode plus the prompts TTFT and TPOT imply, "
                           "at the GPU's fastest measured GEMM rate)")


def below_measured_ceiling(m: Measurement, spec: ModelSpec, hw: Hardware) -> str | None:
    """Why row ``m`` needs more FLOP/s than any GEMM ever measured on its GPU and dtype (None when not).

    The interleaved-prefill floor (:meth:`Floor.interleaved_tpot_s`: the decode step's FLOPs plus
    those of the prompts the row's own TTFT and TPOT imply by Little's law, overlapped with the
    decode step's bytes at the nominal bandwidth) with the FLOPs at the fastest rate the kernel
    tables measured on the GPU (``planner.calibration.ceilings``, every engine and shape) instead
    of the datasheet peak. E.g. the H200's best FP8 GEMM is 1,677.6 TFLOP/s (0.848 of 1,979): a
    Llama-3.1-8B FP8 row of 64 requests, 2,000 in / 100 out, at TTFT 121.73 ms and TPOT 9.74 ms
    needs 8.92 ms of FLOPs at the peak, 10.52 ms at that rate, more than its TPOT. Rows without
    both TTFT and TPOT, or on GPUs without kernel rows, pass.
    """
    measured = ceilings.measured_flop_per_s(hw.gpu.name, quant.mode(m.quant).compute_dtype)
    if measured is None or m.tpot_s is None or m.ttft_s is None:
        return None
    floor = physical_floor(m, spec, hw)
    scale = floor.peak_flop_per_s / measured
    if m.tpot_s < floor.interleaved_tpot_s(floor.running, m.osl, m.tpot_s, m.ttft_s, flop_scale=scale):
        return MEASURED_CEILING_REASON
    return None


KERNEL_CHAIN_REASON = ("TPOT below the measured-kernel floor (the step's own GEMMs, all-reduces and attention one "
                       "after another, each at the fastest time the kernel tables measured)")
# Listed with a count of 0 where the tables cannot be read: the rows are kept, unchecked against that floor.
KERNEL_CHAIN_UNCHECKED = ("measured-kernel floor not applied (it reads calibration/kernels/ of a checkout, with "
                          "pyarrow: pip install '.[calibrate]')")


def below_kernel_chain(m: Measurement, spec: ModelSpec, hw: Hardware) -> str | None:
    """Why row ``m``'s TPOT is below the time its own kernels measured (``planner.calibration.kernel_chain``;
    None when not, or where that floor does not apply). Needs the kernel tables (pyarrow).

    E.g. Llama-3.1-8B FP8 on 4 H200 under vLLM, 64 requests of 4,000 in / 100 out at TTFT 124.63 ms and TPOT
    7.52 ms: its steps carry 64 + 64 x 4,000 / (99 + 16.6) = 2,279 tokens, whose GEMMs alone took 7.6 ms in the
    tables and their all-reduces 5.3 ms: 14.1 ms with the KV read and the prompts' attention
    (tests/planner/calibration/test_kernel_chain.py).
    """
    chain = kernel_chain_s(m, spec, hw)
    return KERNEL_CHAIN_REASON if chain is not None and m.tpot_s < chain else None


def kernel_chain_s(m: Measurement, spec: ModelSpec, hw: Hardware) -> float | None:
    """Row ``m``'s measured-kernel floor (``planner.calibration.kernel_chain.step_floor_s`` of its running
    sequences, KV read and prompt attention as :func:`physical_floor` has them); None where it does not apply."""
    floor = physical_floor(m, spec, hw)
    return kernel_chain.step_floor_s(m, spec, hw, floor.running, floor.kv_read_s, floor.prompt_attention_s)


def resolve(mset: MeasurementSet, cat: Catalogue,
            measured_ceiling: bool = True) -> tuple[MeasurementSet, dict[str, Hardware]]:
    """Keep the rows whose model, system and layout the catalogue accepts; count the others.

    ``measured_ceiling`` also counts out the rows the kernel tables' measurements contradict,
    :func:`below_measured_ceiling` and :func:`below_kernel_chain` (on by default; off scores them, to compare).
    The second reads the tables themselves: without pyarrow or the tables' folder it is not applied, and
    ``KERNEL_CHAIN_UNCHECKED`` is listed among the reasons with a count of 0 (no row is dropped for it).
    Then a campaign (:attr:`Measurement.campaign`) more of whose rows broke one of these floors than passed
    them is counted out whole (:data:`CAMPAIGN_REASON`, :func:`discredited_campaigns`).

    Returns:
        The kept rows (``model_name`` and ``system`` filled in; ``ep`` 1 on dense models) and
        the hardware of each system used.
    """
    hardware: dict[str, Hardware] = {}
    kept, skipped, floored = [], Counter(), Counter()
    chain = measured_ceiling and kernels.readable()
    for m in mset.rows:
        try:
            spec = model_spec(m.model)
        except ModelError:
            skipped[f"model '{m.model}' not in the catalogue"] += 1
            continue
        try:
            system = m.system or cat.hardware(m.gpu).system.name
            if system not in hardware:
                hardware[system] = cat.hardware(system)
        except CatalogueError:
            skipped[f"system '{m.system or m.gpu}' not in the catalogue"] += 1
            continue
        reason = check(m, spec, hardware[system])
        if reason:
            skipped[reason] += 1
            continue
        reason = floor_reason(m, spec, hardware[system], measured_ceiling, chain)
        if reason:
            skipped[reason] += 1
            floored[m.campaign] += 1
            continue
        kept.append(replace(m, model_name=spec.name, system=system, ep=m.ep if spec.moe is not None else 1))
    gone = discredited_campaigns(floored, Counter(m.campaign for m in kept))
    if gone:
        skipped[CAMPAIGN_REASON] += sum(1 for m in kept if m.campaign in gone)
        kept = [m for m in kept if m.campaign not in gone]
    if measured_ceiling and not chain and kept:
        skipped[KERNEL_CHAIN_UNCHECKED] = 0  # (listed, not counted: the rows are kept)
    return mset.with_rows(kept, skipped), hardware


def floor_reason(m: Measurement, spec: ModelSpec, hw: Hardware, measured_ceiling: bool = True,
                 chain: bool = True) -> str | None:
    """The first physical floor row ``m`` breaks (None when none): :func:`below_floor`, then where asked
    :func:`below_measured_ceiling` and :func:`below_kernel_chain` (which needs ``kernels.readable()``)."""
    return below_floor(m, spec, hw) or (below_measured_ceiling(m, spec, hw) if measured_ceiling else None) \
        or (below_kernel_chain(m, spec, hw) if chain else None)


CAMPAIGN_REASON = ("campaign discredited: most of its runs are faster than a physical floor, so its runs timed "
                   "other work than they record")


def discredited_campaigns(floored: Counter, passed: Counter) -> set[str]:
    """The campaigns (:attr:`Measurement.campaign`, ``None`` aside) more of whose rows broke a physical floor
    (:func:`below_floor`, :func:`below_measured_ceiling`, :func:`below_kernel_chain`) than passed them.

    Every floor is a lower bound on what the described run can take, so a row below one timed other work
    than its file records (fewer prompt tokens, a warm prefix cache, another batch). When most of a
    campaign's rows show it, its other rows came from the same method and only happen to sit above floors
    that are not tight: they are no evidence either. E.g. the collection's Llama-3.1-8B FP8 / H200 / vLLM
    file: 12 of its 21 runs are below a floor, and the 9 others measure TTFTs of 111-121 ms for 96-128
    requests of 4,000 tokens, without the queue every other campaign of that engine shows.
    """
    return {s for s, n in floored.items() if s is not None and n > passed.get(s, 0)}
