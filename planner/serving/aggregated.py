"""Aggregated serving of isl/osl requests: TPOT with interleaved prefill, TTFT with chunked prefill.

One instance keeps ``B`` requests in flight (the plan's ``batch``, the measured concurrency);
each brings a prompt of ``isl`` tokens and generates ``osl`` tokens. The engine batches
continuously: every iteration decodes one token for each running sequence and also takes
some prompt tokens, at most ``prefill_chunk_tokens`` (chunked prefill; vLLM, SGLang and
TensorRT-LLM all do this). Pure, vectorised functions over candidate rows.

Assumptions, each a named term below:

* **Interleaved prefill (TPOT).** In steady state a closed loop of ``B`` requests completes
  ``B`` of them per request lifetime ``TTFT + (osl - 1) x TPOT`` (Little's law), and as many
  new prompts arrive, so each step carries on average ``B x isl / (osl - 1 + TTFT / TPOT)``
  prompt tokens (``planner.serving.prompt_work.interleaved_prompt_tokens``; ``B x isl / osl`` when TTFT is short),
  plus as many prompts' causal attention. TPOT appears on both sides: it is iterated to a
  fixed point (``planner.serving.fixed_point``), starting from ``osl`` steps per lifetime. On the
  attention-DP groups the prompt work is not spread evenly: the groups step in lockstep and
  a chunk runs on one of them (``prompt_work.critical_group_tokens``). Of the ``n - 1`` other
  prompts of its group, the ``q`` a request queued behind (Queueing, below) ran before its first
  token, not during its decode: its steps carry ``1 - q / (n - 1)`` of that prompt work (all of
  it when arrivals are spread out, half in a synchronised wave, where the k-th request of the
  wave decodes through the prefills of the ``n - 1 - k`` after it).
  Prompts are not spread token by token: a chunk of ``c = min(isl, chunk)`` tokens
  joins a decode step every ``c / (prompt tokens per step)`` steps. That step reads the
  routed experts the chunk and the decode tokens hit together (nearly all of them for a
  large chunk) instead of the decode tokens' alone; the difference, and the chunk's EP
  imbalance, are charged per step in proportion. Prompt tokens add compute at the
  prefill-shaped rate, KV writes, activations and collective volume (the messages are the
  decode step's, so no extra latency). TPOT is the average step's time. Engines that run prefill in separate iterations
  (SGLang's default) stall decode for the same work, so the average step is the same to
  first order; only the weight re-read differs, which a compute-bound prefill hides.
* **Prefill FLOPs.** Linear layers ``2 x parameters`` per prompt token; the LM head only for
  each prompt's last token (engines compute no logits for the rest of the prompt); causal
  attention ``sum_{i < isl} attention(i)`` (``models.counts.prefill_attention_flops``). MLA
  prefill runs un-absorbed (per head ``qk_nope + qk_rope`` score and ``v_head`` value widths,
  DeepSeek-V3 report 2.1.1) while decode runs absorbed over the latent: prefill attention is
  scaled by :func:`planner.serving.shape.prefill_attention_scale`. Routed experts pay the EP load imbalance of the
  tokens they receive (``planner.serving.roofline.moe_imbalance``).
* **Eager prompt iterations.** The engines replay CUDA graphs of decode batches; an iteration
  carrying prompt tokens runs outside them, so its host launches every kernel of the stage and
  those launches add to its GPU time (``planner.serving.roofline.eager_iteration_s``, the engine's
  ``eager_kernel_overhead_s`` per kernel): the request's own chunks, the prompts it queues behind,
  and the share of decode steps that take a chunk pay them.
* **Own prefill (TTFT).** A prompt of ``isl`` tokens takes ``n = ceil(isl / chunk)``
  iterations, each carrying one chunk of ``isl / n`` tokens in one attention group, ``1 / n``
  of its causal attention, and the running decode batch; with ``pp`` stages the chunks
  pipeline, ``(n + pp - 1)`` stage times, and every iteration pays the step overhead.
* **Queueing (TTFT).** A new prompt also waits behind ``min(prompts_ahead + q, n - 1)`` other prompts of its
  attention group, where ``n = B / dp`` requests are in flight and
  ``q = min(prompt_queue_scale x sqrt(n - 1) + prefill_wait_fraction x (n - 1), (n - 1) / 2)``
  (:func:`queued_prompts`). A closed loop of fixed-length requests is ``n`` periodic sources, each
  sending one prompt per request lifetime: on average their prompts are served as fast as they arrive,
  and the queue a new one finds is the fluctuation of the other ``n - 1`` arrivals about that average,
  which grows as the square root of their number (the queue of ``n`` periodic sources of random phase,
  n*D/D/1, near full load). The benchmark's first wave, all its clients starting at once, queues in
  proportion to ``n``: ``prefill_wait_fraction``, 0.5 if every request ran in that one wave, about
  ``0.5 / w`` for a run of ``w`` waves. ``prompts_ahead``: the few a spread arrival still finds, the
  requests that finished together arriving together. The cap is one synchronised wave: whatever their
  order, the requests of a wave wait on average behind half of the others. Queued prompts shorter
  than the token budget share iterations, so each costs ``isl / chunk`` of an iteration that carries a
  full budget of prompt tokens (and the decode batch); a longer prompt costs as long as its own
  prefill. The three are fitted (``bench/accuracy.py``; docs/accuracy.md, "The queue as the square root of
  the requests in flight"); ``ttft_overhead_s`` adds fixed costs.
* **Arrival (TTFT).** In a closed loop a new request arrives when the previous one's last token
  is streamed, by which time the engine has already scheduled the next iteration without it
  (two under an overlap scheduler): it waits ``arrival_wait_steps`` average decode steps (TPOT)
  before its first chunk runs. The request lifetime, and so the prompts per step, include them.
* **Burst (TTFT and TPOT).** With ``Workload.arrivals = 'burst'`` the ``B`` requests arrive at once and are
  served to the end, no request replacing them (a batch job's start; a benchmark that sends one wave of its
  concurrency). The engine prefills the prompts in the order sent, a token budget per iteration, before their
  decode (prompt priority): the k-th request's first token comes when the iteration holding the end of its
  prompt completes, and on average over the burst ``M`` prompts' work is done by then
  (:func:`burst_prompts`), so TTFT is ``ttft_overhead_s + max(M x per-prompt time, own prefill)`` with
  no fitted queue and no arrival wait. The prompts sent after a request, ``n - M`` on average, stall its decode:
  its ``osl - 1`` steps carry that share of the burst's prompt work (the lifetime in the fixed point is its own
  decode, no TTFT, as no new prompt arrives while it waits).
* **Admission (KV capacity).** The engine runs at most as many sequences as its KV cache
  holds at their full length ``isl + osl`` (:func:`planner.serving.memory.admitted_sequences`, from the engine's
  ``hbm_usable_fraction`` and ``kv_memory_fraction``); the other ``B - b`` requests queue
  outside. By Little's law in a closed loop the queue adds
  ``(B / b - 1) x (TTFT_b + (osl - 1) x TPOT_b)`` to TTFT, where TPOT and TTFT are those of
  the admitted ``b``. Plans whose batch does not fit are infeasible for the planner anyway;
  this keeps predictions of overloaded measured runs meaningful.
* **Throughput.** Every admitted request is either waiting for its first token or
  decoding, so an instance emits ``b x osl / (TTFT_b + (osl - 1) x TPOT_b)`` output tokens/s.

Steady-state decode (``tokens_cached`` workloads) is the limiting case ``isl / osl -> 0``
with no prompt work at all; the evaluator does not call this module for it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from planner.engine.activations import ACTIVATION_BYTES
from planner.engine.profile import EngineProfile
from planner.engine.rates import Rates
from planner.serving.comm import Comm, CurveCollectives, comm
from planner.serving.distinct import distinct_rows
from planner.serving.fixed_point import BlockGemms, chunk_read_bytes, lifetimes, settle, steady_terms, take_decode
from planner.serving.layout import Layout
from planner.serving.plan import take_rows
from planner.serving.prompt_work import (  # (the step's prompt work, there; its names are this module's too)
    PromptWork,
    critical_group_tokens,  # noqa: F401
    interleaved_prompt_tokens,  # noqa: F401
    steady_work,
)
from planner.serving.roofline import (
    ACTIVATION_PASSES_PER_LAYER,
    GemmSetup,
    attention_s,
    chunked_moe_s,
    combine,
    compute_s,
    eager_iteration_s,
    gemm_s,
    hbm_s,
    launch_overhead_s,
    moe_imbalance,
    moe_s,
    moe_s_at,
    offload_s,
    prompt_attention_s,
)
from planner.serving.shape import ModelShape
from specbase.record import record

# Layout fields the fixed point's rounds do not read where every term is on its curve (:func:`_read_by_rounds`).
ROUNDS_UNREAD = ("ep", "gpus", "stage_gpus", "moe_tp", "weight_bytes", "offload", "dense_weight_bytes",
                 "vocab_weight_bytes")


@record
class DecodeTerms:
    """The decode step's per-stage terms (seconds), as the evaluator computed them; ``moe_s`` and ``moe_chunk_s``
    (with one prompt chunk added, set once by :func:`serving`) as ``roofline.chunked_moe_s`` takes them. The
    fixed point sets the last six once for all its rounds (``planner.serving.fixed_point.steady_terms``)."""

    compute_s: np.ndarray
    hbm_s: np.ndarray
    offload_s: np.ndarray
    attention_s: np.ndarray  # decode attention kernels, outside the overlap blend (roofline.attention_s)
    moe_s: np.ndarray | None = None
    moe_chunk_s: np.ndarray | None = None
    chunk_read_bytes: np.ndarray | None = None  # routed bytes one chunk adds to a step (before moe_scale)
    launch_s: np.ndarray | None = None  # roofline.launch_overhead_s of the step
    gemm_alone_s: np.ndarray | None = None  # dense GEMMs of a step without a chunk (roofline.gemm_s)
    collectives: CurveCollectives | None = None  # the layout's collectives on the curves, tokens aside
    gemm_setup: GemmSetup | None = None  # roofline.gemm_setup of the layout: the GEMM curve's rows aside
    chunk_gemms: BlockGemms | None = None  # the blocks' GEMMs of a step carrying one chunk (fixed_point)
    eager_s: np.ndarray | None = None  # host launch time a step carrying a chunk adds beyond its GPU time

    @classmethod
    def of(cls, shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray,
           experts: np.ndarray | None = None) -> DecodeTerms:
        """The roofline's decode terms of ``lay``'s micro-batch (``experts``: its ``moe_s``, when already known)."""
        return cls(compute_s(shape, lay, r, quant_index), hbm_s(shape, lay, r), offload_s(shape, lay, r),
                   attention_s(shape, lay, r),
                   moe_s(shape, lay, r, quant_index, lay.micro_tokens) if experts is None else experts)


@record
class Iteration:
    """One engine iteration (decode batch plus prompt work) on one stage."""

    compute_s: np.ndarray
    hbm_s: np.ndarray
    comm: Comm
    offload_s: np.ndarray
    stage_time_s: np.ndarray
    gemm_s: np.ndarray  # dense-block GEMMs on their curve (``roofline.gemm_s``), after the blend
    moe_s: np.ndarray  # the routed experts' kernel-curve time, outside the blend (roofline.moe_s)
    attention_s: np.ndarray  # decode and prompt attention kernels, after the blend

    @property
    def terms(self) -> list[np.ndarray]:
        """Compute, HBM, communication and offload time, in ``planner.serving.evaluate.LIMITS`` order."""
        return [self.compute_s, self.hbm_s, self.comm.time_s, self.offload_s]


@record
class ServingTimes:
    """Aggregated-serving figures per row (SI units)."""

    step: Iteration  # the average decode step with its interleaved prompt work (TPOT per stage)
    step_time_s: np.ndarray  # TPOT
    prompt_s: np.ndarray  # the request's own prefill (its chunks' iterations)
    wait_s: np.ndarray  # time queued behind other prompts
    ttft_s: np.ndarray  # time to first token: overhead + waits + own prefill
    prompt_tokens_per_step: np.ndarray  # prompt tokens each decode step carries (instance)
    instance_tps: np.ndarray  # output tokens/s of one instance
    running: np.ndarray  # sequences the engine admits (at most the batch)
    lifetime_s: np.ndarray  # an admitted request's lifetime, TTFT (before the queue outside) + (osl - 1) TPOT


def prompt_compute_s(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray,
                     work: PromptWork) -> np.ndarray | None:
    """Compute time of ``work`` on one stage, per GPU, at the prefill-shaped rates (seconds).

    On the GEMM curve (``r.gemm``) the dense-block GEMMs, on the MoE curve the routed experts, on the
    attention curves the attention are timed in ``iteration`` instead: None where all of them are.
    """
    if r.gemm is not None and (r.moe_curve is not None or not shape.num_moe_layers) \
            and r.attention_kernels is not None:
        return None
    t = 0.0
    if r.gemm is None:
        block = 2.0 * work.group_tokens / lay.tp * (
            shape.attention_params * lay.stage_layers
            + shape.dense_ffn_params * lay.dense_layers
            + shape.shared_params * lay.moe_layers
        )
        lm_head = 2.0 * work.prompts_per_group / lay.tp * shape.vocab_params / lay.pp
        t = block / r.prefill_flop_per_s[lay.dense_quant] + lm_head / r.prefill_flop_per_s[lay.vocab_quant]
    if shape.num_moe_layers and r.moe_curve is None:
        imbalance = moe_imbalance(work.chunk_tokens, shape.top_k, lay.ep)
        routed = 2.0 * shape.expert_params * shape.top_k * work.stage_tokens / lay.stage_gpus * lay.moe_layers \
            * imbalance
        t = t + routed / (r.prefill_flop_per_s[quant_index] * r.moe_scale)
    if r.attention_kernels is None:  # seed preset (otherwise attention is roofline.prompt_attention_s)
        t = t + work.attention_flop / shape.num_layers * lay.stage_layers / lay.tp / r.prefill_attention_flop_per_s
    return t


def iteration(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray, profile: EngineProfile,
              decode: DecodeTerms, work: PromptWork, gpus_per_server: int, gpus_per_rack: int,
              tier_bytes: bool = True) -> Iteration:
    """One stage of an iteration that decodes ``lay``'s micro-batch and carries ``work``.

    Weights are read once for both: in a step that takes a chunk, the routed experts hit by
    decode and chunk tokens together replace the decode-only ones (charged per step by the
    share of steps that take a chunk). Prompt tokens write their KV and move their
    activations; the collectives carry decode and prompt tokens in the same messages.
    ``tier_bytes=False``: on the collective curves, the bytes per tier left for later (``comm.bytes_by_tier`` None,
    its tokens kept: ``comm.CurveCollectives.bytes_at``), for a caller that takes the times only, or the bytes of
    the rows' final rounds alone (the fixed point's rounds).
    """
    micro, group = lay.micro_tokens + work.stage_tokens, lay.group_tokens + work.group_tokens  # decode and prompt
    chunks_per_step = work.stage_tokens / work.chunk_tokens
    experts = chunked_moe_s(shape, lay, r, quant_index, work.chunk_tokens, chunks_per_step, decode.moe_s,
                            decode.moe_chunk_s)
    kv_write = work.group_tokens * shape.kv_new_token_elements / shape.num_layers * lay.stage_layers \
        * lay.kv_bytes / lay.kv_split
    activations = work.group_tokens * shape.hidden_size * ACTIVATION_BYTES * ACTIVATION_PASSES_PER_LAYER \
        * lay.stage_layers
    prompt = prompt_compute_s(shape, lay, r, quant_index, work)
    compute = decode.compute_s if prompt is None else decode.compute_s + prompt
    if shape.num_moe_layers and r.moe_curve is None:  # the chunk's routed bytes (none where the MoE curve reads them)
        extra_bytes = chunk_read_bytes(shape, lay, r, work.chunk_tokens, decode) * chunks_per_step / r.moe_scale
        hbm = decode.hbm_s + (extra_bytes + kv_write + activations) / r.hbm_bytes_per_s
    else:  # (adding their zeros changes no sum)
        hbm = decode.hbm_s + (kv_write + activations) / r.hbm_bytes_per_s
    collectives = decode.collectives if decode.collectives is not None or r.comm_curves is None \
        else CurveCollectives.of(shape, lay, r.comm_curves, gpus_per_server, gpus_per_rack)
    traffic = comm(shape, replace(lay, micro_tokens=micro, group_tokens=group), r, gpus_per_server, gpus_per_rack) \
        if collectives is None else collectives.at(group, micro, tier_bytes)
    # A step that takes a prompt chunk runs its dense GEMMs on the decode and chunk tokens together,
    # one without on the decode tokens; the average step mixes the two by the share of steps that take
    # a chunk (GEMM time is convex in its rows: the average of the two is not the GEMM of the average).
    share = np.minimum(chunks_per_step, 1.0)
    share_floor = np.maximum(share, 1e-12)
    per_chunk = 1.0 / share_floor
    if not np.all(share > 0):  # (rows without prompt work take no chunk's GEMMs)
        per_chunk = np.where(share > 0, per_chunk, 0.0)
    # (where every step takes a chunk, per_chunk is 1.0: the chunked GEMM is the whole step's, bit for bit)
    gemm = gemm_s(shape, lay, r, lay.group_tokens + work.group_tokens * per_chunk,
                  lay.group_tokens + work.prompts_per_group * per_chunk, decode.gemm_setup, decode.chunk_gemms)
    if r.gemm is not None and (partial := share < 1.0).any():
        alone = gemm_s(shape, lay, r, lay.group_tokens, lay.group_tokens, decode.gemm_setup) \
            if decode.gemm_alone_s is None else decode.gemm_alone_s
        gemm = np.where(partial, (1.0 - share) * alone + share * gemm, gemm)
    attention = decode.attention_s + prompt_attention_s(shape, lay, r, work.group_tokens, work.stage_tokens,
                                                        work.chunk_tokens, work.attention_flop, share, share_floor)
    launch = launch_overhead_s(shape, lay, profile.per_layer_overhead_s, profile.per_kernel_overhead_s, r) \
        if decode.launch_s is None else decode.launch_s
    stage = combine([compute, hbm, traffic.time_s, decode.offload_s], profile.overlap_fraction) + launch \
        + gemm + experts + attention  # kernel-curve terms after the blend (zero under the seed preset)
    if decode.eager_s is not None:  # the steps that take a chunk run outside CUDA graphs (roofline.eager_iteration_s)
        stage = stage + share * decode.eager_s
    return Iteration(compute_s=compute, hbm_s=hbm, comm=traffic, offload_s=decode.offload_s, stage_time_s=stage,
                     gemm_s=gemm, moe_s=experts, attention_s=attention)


def serving(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray, profile: EngineProfile,
            decode: DecodeTerms | None, isl: int, osl: int, prefill_attention_flop: float,
            gpus_per_server: int, gpus_per_rack: int, running: np.ndarray | None = None,
            burst: bool = False) -> ServingTimes:
    """TPOT, TTFT and output rate of aggregated serving (module docstring).

    Args:
        shape, lay, r, quant_index: the evaluator's model shape, layout, rates and weight modes.
        profile: engine profile (overheads, chunk size, wait fraction, overlap).
        decode: the decode step's terms at the batch's context (None: computed here, as ``DecodeTerms.of``).
        isl, osl: prompt and output lengths, tokens.
        prefill_attention_flop: causal attention FLOPs of one prompt, already scaled for
            MLA (:func:`planner.serving.shape.prefill_attention_scale`).
        gpus_per_server, gpus_per_rack: placement tiers for the collectives.
        running: sequences the engine admits (:func:`planner.serving.memory.admitted_sequences`); None: the batch.
        burst: the batch arrives at once (``Workload.arrivals``; module docstring, Burst), not in a closed loop.

    Rows whose admitted sequences, layout and modes are the same serve the same way (only the queue outside
    sees the batch): one of them is timed and its figures taken to the others (``planner.serving.distinct``).
    """
    batch = lay.batch
    capped = None if running is None else running < batch
    if capped is not None and capped.any():
        lay, decode = lay.with_batch(running), None
    repeats = None if decode is not None or capped is None else distinct_rows(lay, quant_index, capped)
    if repeats is None:
        sv = _admitted(shape, lay, r, quant_index, profile, decode, isl, osl, prefill_attention_flop, gpus_per_server,
                       gpus_per_rack, burst)
    else:
        first, inverse = repeats
        sv = take_rows(_admitted(shape, take_rows(lay, first), r, np.take(quant_index, first), profile, None, isl, osl,
                                 prefill_attention_flop, gpus_per_server, gpus_per_rack, burst), inverse)
    queued = (batch / lay.batch - 1.0) * sv.lifetime_s
    return replace(sv, wait_s=sv.wait_s + queued, ttft_s=sv.ttft_s + queued)


def _admitted(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray, profile: EngineProfile,
              decode: DecodeTerms | None, isl: int, osl: int, prefill_attention_flop: float, gpus_per_server: int,
              gpus_per_rack: int, burst: bool = False) -> ServingTimes:
    """:func:`serving` of the sequences ``lay`` admits, without the queue outside (``lay.batch`` of them)."""
    chunks = np.ceil(isl / profile.prefill_chunk_tokens)
    chunk = isl / chunks
    budget = float(profile.prefill_chunk_tokens)
    # the routed experts of a decode step, of one with a chunk and (queued prompts sharing iterations) of one
    # with a full budget of prompt tokens, in one pass of the MoE curve
    tokens = [lay.micro_tokens] * (decode is None) + [lay.micro_tokens + chunk] \
        + [lay.micro_tokens + budget] * (isl < profile.prefill_chunk_tokens)
    experts = moe_s_at(shape, lay, r, quant_index, tokens)
    decode = DecodeTerms.of(shape, lay, r, quant_index, experts.pop(0)) if decode is None else decode

    own = PromptWork(group_tokens=chunk, stage_tokens=chunk, prompts_per_group=1.0 / chunks,
                     attention_flop=prefill_attention_flop / chunks, chunk_tokens=chunk)
    decode = replace(decode, moe_chunk_s=experts[0])
    decode = steady_terms(shape, lay, r, profile, decode, chunk, gpus_per_server, gpus_per_rack)  # once for all
    first = iteration(shape, lay, r, quant_index, profile, decode, own, gpus_per_server, gpus_per_rack, False)
    chunk_stage = eager_iteration_s(shape, lay, profile.eager_kernel_overhead_s, first.stage_time_s)
    overhead = profile.iteration_overhead_s(lay.batch / lay.dp)  # per iteration, the running batch's
    prompt = (chunks + lay.pp - 1.0) * chunk_stage + chunks * overhead
    if isl < profile.prefill_chunk_tokens:  # queued prompts share iterations up to the token budget
        share = isl / budget
        full = PromptWork(group_tokens=budget, stage_tokens=budget, prompts_per_group=1.0 / share,
                          attention_flop=prefill_attention_flop / share, chunk_tokens=budget)
        batched = iteration(shape, lay, r, quant_index, profile,
                            replace(decode, moe_chunk_s=experts[1], chunk_read_bytes=None, chunk_gemms=None), full,
                            gpus_per_server, gpus_per_rack, False)
        per_prompt = share * (lay.pp * eager_iteration_s(shape, lay, profile.eager_kernel_overhead_s,
                                                         batched.stage_time_s) + overhead)
    else:
        per_prompt = prompt
    if burst:  # the batch arrived at once: the prompts sent before it, then its own (module docstring, Burst)
        completed, during_decode = burst_prompts(lay.batch, lay.dp, isl, budget)
        wait = np.maximum(completed * per_prompt - prompt, 0.0)
    else:
        queued, during_decode = queued_prompts(lay.batch, lay.dp, profile.prompt_queue_scale,
                                               profile.prefill_wait_fraction, profile.prompts_ahead)
        wait = queued * per_prompt
    ttft = profile.ttft_overhead_s + wait + prompt
    if chunk_stage is not first.stage_time_s:  # the decode steps that take a chunk pay its host launches too
        decode = replace(decode, eager_s=chunk_stage - first.stage_time_s)

    # Little's law: prompts arrive once per request lifetime, TTFT + (osl - 1) TPOT, so the
    # prompt work per step depends on TPOT itself; iterate from osl steps per lifetime.
    # Each row stops on its own: once its TPOT moves by less than the tolerance its round's
    # figures are final and later rounds run over the rows still moving only, so a row scores
    # the same whichever rows are evaluated beside it.
    # a burst's prompts stall the decode steps of the requests ahead of them, over their own osl - 1 steps (at
    # least one: a burst of one-token outputs has no decode step to spread them over, and no TPOT to feel them)
    waited = max(osl - 1.0, 1.0) if burst else osl - 1.0 + profile.arrival_wait_steps
    step, tpot, per_step = _fixed_point(shape, lay, r, quant_index, profile, decode, isl, osl, chunk,
                                        np.zeros(1) if burst else ttft, overhead, prefill_attention_flop,
                                        during_decode, gpus_per_server, gpus_per_rack, chunk_stage, waited)
    if not burst:  # a closed loop's request arrives behind the iterations already scheduled (Arrival)
        ttft = ttft + profile.arrival_wait_steps * tpot
    lifetime = ttft + (osl - 1.0) * tpot
    return ServingTimes(step=step, step_time_s=tpot, prompt_s=prompt, wait_s=wait, ttft_s=ttft,
                        prompt_tokens_per_step=per_step, instance_tps=lay.batch * osl / lifetime, running=lay.batch,
                        lifetime_s=lifetime)


def queued_prompts(batch: np.ndarray, dp: np.ndarray, scale: float, wave: float,
                   ahead: float) -> tuple[np.ndarray, np.ndarray]:
    """The prompts a new request queues behind in its attention group, ``min(ahead + q, n - 1)`` with ``q = min(scale x
    sqrt(n - 1) + wave x (n - 1), (n - 1) / 2)`` and ``n = batch / dp`` (module docstring, Queueing), and the share of
    the other prompts' work its decode steps carry, ``1 - q / (n - 1)`` (1 where it is alone); arrays over the rows.

    E.g. scale 0.5, wave 0.05, no prompts ahead, batch 65: ``q = 0.5 x sqrt(64) + 0.05 x 64 = 7.2`` prompts, and its
    steps carry ``1 - 7.2 / 64 = 0.8875`` of the others' prompt work; batch 2: ``0.5 x 1 + 0.05 = 0.55``, above the cap
    (half of the one other): 0.5, and 0.5 of its work.
    """
    others = np.maximum(np.asarray(batch, float) / dp - 1.0, 0.0)
    q = np.minimum(scale * np.sqrt(others) + wave * others, 0.5 * others)
    share = np.divide(q, others, out=np.zeros_like(q), where=others > 0)
    return np.minimum(ahead + q, others), 1.0 - share


def burst_prompts(batch: np.ndarray, dp: np.ndarray, isl: int, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """A burst of ``n = batch / dp`` prompts per attention group, sent at once (module docstring, Burst): the prompts'
    worth of prefill done, on average over the burst, when a request's own prompt completes, ``M``, and the share of
    the others' prompt work its decode steps carry, ``1 - M / n``; arrays over the rows.

    Prompts shorter than the token budget share iterations of ``budget`` tokens, ``q = budget / isl`` prompts each,
    in the order sent: the k-th (from 1) completes with iteration ``ceil(k / q)``, and on average over the burst
    ``M = min(n, (n + q) / 2)`` prompts' work is done by then (exact where ``q`` is whole and divides ``n``: the
    mean of ``ceil(k / q) x q`` over ``k = 1..n``); a prompt of a budget or more runs its own iterations, ``M = (n +
    1) / 2``. The others' prompts sent after it, ``n - M`` on average, run while it decodes and stall its steps.

    E.g. 16 prompts of 1,024 tokens under an 8,192-token budget (``q = 8``): two iterations, the first eight
    complete with the first and the last eight with the second, ``M = (16 + 8) / 2 = 12`` prompts' work (the mean
    of 8 and 16), and their decode steps carry ``1 - 12 / 16 = 0.25`` of the burst's prompt work (the first eight
    decode through the second iteration's eight prompts, the last eight through none: 4 of the 16, on average).
    """
    n = np.maximum(np.asarray(batch, float) / dp, 1.0)
    completed = np.minimum(n, 0.5 * (n + max(budget / isl, 1.0)))
    return completed, 1.0 - completed / n


def _read_by_rounds(shape: ModelShape, lay: Layout, r: Rates, decode: DecodeTerms) -> tuple[Layout, DecodeTerms]:
    """``lay`` and ``decode`` as the fixed point's rounds read them: where every term is on its curve and the
    collectives are computed once (``steady_terms``), without the layout's fields they do not read (``ROUNDS_UNREAD``)
    nor the collectives' bytes per tier (the final rounds' bytes are the whole layout's, after them), so that rows
    dropped between rounds do not take them; else as they are."""
    if r.gemm is None or r.attention_kernels is None or decode.collectives is None \
            or (shape.num_moe_layers and r.moe_curve is None):
        return lay, decode
    return replace(lay, **dict.fromkeys(ROUNDS_UNREAD)), \
        replace(decode, collectives=replace(decode.collectives, bytes_per_group_token=None, bytes_per_micro_token=None))


def _fixed_point(shape: ModelShape, lay: Layout, r: Rates, quant_index: np.ndarray, profile: EngineProfile,
                 decode: DecodeTerms, isl: int, osl: int, chunk: float, ttft: np.ndarray, overhead: np.ndarray,
                 prefill_attention_flop: float, during_decode: np.ndarray, gpus_per_server: int, gpus_per_rack: int,
                 chunk_stage_s: np.ndarray, waited: float) -> tuple[Iteration, np.ndarray, np.ndarray]:
    """The average decode step, TPOT and prompt tokens per step at each row's fixed point (``serving``;
    ``chunk_stage_s``: the stage time of a step carrying one chunk, the own prefill's; ``waited``: the decode
    steps of a lifetime besides TTFT / TPOT).

    The rounds (``planner.serving.fixed_point.lifetimes``) find each row's lifetime in steps; every row takes
    the figures of the round that ran it at that lifetime (``planner.serving.fixed_point.settle``).
    """
    rows = lay.tp.shape[0]
    ttft, overhead = np.broadcast_to(ttft, (rows,)), np.broadcast_to(overhead, (rows,))

    def step_of(part, steps_per_life: np.ndarray):  # part: (layout, decode terms, modes, overhead, share of
        # the others' prompt work in the decode steps) of some rows
        work, per_step = steady_work(part[0], isl, chunk, steps_per_life, prefill_attention_flop, part[4])
        step = iteration(shape, part[0], r, part[2], profile, part[1], work, gpus_per_server, gpus_per_rack, False)
        return step, per_step, work.stage_tokens, profile.step_time_s(part[0].pp * step.stage_time_s, part[3])

    def take(part, index: np.ndarray):  # rows ``index`` of a part (the LM head's modes the blocks' array where they
        some = take_rows(part[0], index)  # were one: the GEMM curve's setup picks their constants once, gemm_setup)
        if part[0].vocab_quant is part[0].dense_quant:
            some = replace(some, vocab_quant=some.dense_quant)
        return some, take_decode(shape, some, r, part[1], index), np.take(part[2], index), np.take(part[3], index), \
            np.take(part[4], index)

    # the seed preset keeps the plain rounds, bit for bit
    step, per_step = settle(step_of, (*_read_by_rounds(shape, lay, r, decode), quant_index, overhead, during_decode),
                            lifetimes, rows, osl, waited, ttft, chunk,
                            None if r.comm_curves is None else profile.step_time_s(lay.pp * chunk_stage_s, overhead),
                            take)
    if step.comm.bytes_by_tier is None:  # the rounds timed the collectives alone: their bytes at each row's tokens
        c, collectives = step.comm, decode.collectives
        if collectives is None:  # (not computed once for the rounds: as each round computes them)
            collectives = CurveCollectives.of(shape, lay, r.comm_curves, gpus_per_server, gpus_per_rack)
        step = replace(step, comm=replace(c, bytes_by_tier=collectives.bytes_at(c.group_tokens, c.micro_tokens),
                                          group_tokens=None, micro_tokens=None))
    return step, profile.step_time_s(lay.pp * step.stage_time_s, overhead), per_step
