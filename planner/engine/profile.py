"""Serving-engine profiles: efficiency multipliers, overheads and memory reserve, as data.

A profile scales the per-GPU efficiency fractions of the hardware catalogue (a GPU's
achievable HBM bandwidth and FLOP/s are properties of the part; how much of them an engine
reaches is a property of the engine) and adds per-step costs. Profiles live in
``planner/engine/data/*.toml``; a user file is passed with ``--profile FILE``. A profile is a
frozen record whose fields declare their bounds (`specbase.checks`): a wrong value, in a file or
in code (``dataclasses.replace`` checks again), raises one line naming the field and the bound.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np

from hardware.toml_file import read_toml
from planner.errors import InputError
from planner.kept import Kept
from planner.units import from_us
from specbase.checks import FieldError, choice, flag, integer, mapping, number, spec, text

ENGINE_DIR = Path(__file__).parent / "data"


def _scale(most: float):
    """A multiplier of a catalogue efficiency or latency: > 0 and at most ``most``; 1 (neutral) by default."""
    return number(gt=0, le=most, default=1.0)


def _seconds():
    """An overhead in seconds: >= 0; none by default."""
    return number(ge=0, default=0.0)


# The largest error, percent, a profile may record or a plan keep as margin: a prediction 11x short.
MAX_ERROR_PCT = 1000


@spec
class EngineProfile:
    """Achievable-efficiency multipliers and overheads of one serving engine.

    Attributes:
        gemm_efficiency_scale: multiplies the GPU's compute efficiency for dense GEMMs.
        attention_efficiency_scale: multiplies it for attention kernels under the seed preset only;
            otherwise attention runs on the fitted kernel curves (``planner.engine.kernels.attention``)
            and this knob is unused.
        moe_efficiency_scale: multiplies the compute efficiency and the HBM streaming
            efficiency of routed-expert (grouped GEMM) kernels.
        weight_only_efficiency_scale: multiplies the compute rate of weight-only kernels, which
            dequantise weights the part has no tensor cores for (MXFP4 on Hopper) to BF16.
        hbm_efficiency_scale: multiplies the GPU's achievable HBM fraction.
        comm_efficiency_scale: multiplies the fabric's collective efficiency.
        comm_latency_scale: multiplies the fabric's per-message latency (how fast the engine's
            collective kernels are; ``planner.serving.comm``).
        step_overhead_s: fixed cost of each decode step (scheduling, sampling, launch).
        sequence_overhead_s: cost of each step per running sequence of an attention group
            (per-request scheduling, sampling and output handling); see
            :meth:`iteration_overhead_s`.
        per_kernel_overhead_s: fixed cost of each kernel a layer launches, per step (launch gap
            and minimum kernel duration under CUDA graphs; kernels counted from the
            architecture, ``planner.serving.shape.kernels_per_layer``).
        per_layer_overhead_s: fixed cost per layer per step, on top of the per-kernel cost.
        eager_kernel_overhead_s: host time to launch each kernel of an iteration that carries prompt
            tokens. The engines replay CUDA graphs captured for decode batches (TensorRT-LLM's and
            SGLang's decode-only graphs; vLLM's piecewise graphs up to its largest captured token count,
            512 by default), so an iteration with a prompt chunk launches every kernel of the stage from
            the host, and those launches add to its GPU time
            (``planner.serving.roofline.eager_iteration_s``). 0 (the seed preset and neutral profile):
            prompt iterations cost their GPU time alone.
        hbm_usable_fraction: share of HBM the engine lets weights, KV and activations use.
        kv_memory_fraction: share of the HBM left after weights and activations that the engine
            gives its KV cache (TensorRT-LLM's ``free_gpu_memory_fraction``; 1 where the engine
            reserves a share of the whole HBM instead, as vLLM and SGLang do). With
            ``hbm_usable_fraction`` it sets how many sequences the engine admits at once.
        kv_reserved_output_fraction: share of a sequence's output length the engine counts
            when it admits the sequence against its KV cache: 1 when it reserves every block a
            request may need up front (TensorRT-LLM's default ``GUARANTEED_NO_EVICT`` capacity
            policy); 0.5 when blocks are allocated as tokens are generated (vLLM's and SGLang's
            paged caches), so a closed loop's running sequences hold on average their prompt
            and half their output.
        overlap_fraction: 1 = the step takes the max of compute, HBM, comm and offload
            (perfect overlap); 0 = their sum; in between is a linear blend.
        prefill_chunk_tokens: most tokens one engine iteration takes (chunked prefill budget:
            vLLM ``max_num_batched_tokens``, SGLang ``chunked_prefill_size``, TensorRT-LLM
            ``max_num_tokens``); a longer prompt is prefilled over several iterations.
        prefill_chunk_tokens_by_hbm: ``(hbm_gib, tokens)``: on a GPU with at least ``hbm_gib`` GiB of HBM
            the chunk budget is ``tokens`` instead of ``prefill_chunk_tokens`` (SGLang sizes its
            ``chunked_prefill_size`` from the GPU's memory); applied by :meth:`on_gpu`. ``None``: one budget.
        prefill_wait_fraction: share of the other in-flight prompts of its attention group a new
            prompt waits behind in proportion to their number (0 = none; 0.5 = requests arrive in one
            synchronised wave, as when a benchmark starts all its clients at once; a benchmark of ``w`` waves
            whose first one alone queues, about ``0.5 / w``); added to the queue of ``prompt_queue_scale``, the
            two together at most half of the others (``planner.serving.aggregated``, Queueing).
        prompt_queue_scale: the prompts a new request finds queued ahead of it in its attention group per
            square root of the other requests in flight there, ``scale x sqrt(n - 1)`` of ``n = batch / dp``:
            the fluctuation of a closed loop's arrivals about their average. 0 in the seed preset.
        prompts_ahead: prompts a new request finds queued ahead of it even when arrivals are spread out
            (at most the other in-flight prompts of its group): the requests that finished in the same
            or the previous iteration arrive together; 0 in the seed preset and neutral profile.
        ttft_overhead_s: fixed cost added to every time to first token (request parsing,
            tokenisation, scheduling, first-token streaming).
        arrival_wait_steps: decode steps a new request of a closed loop waits before its first
            iteration is scheduled: it arrives when the previous request's last token has been
            streamed, after the engine has scheduled the iterations it holds without it
            (``scheduler_depth_steps``); 0: none (the seed preset and neutral profile). The shipped
            engines fit it within [0, 4] from that depth (``planner.calibration.fit.KNOBS``; also per GPU):
            it then carries as well the steps between the first chunk and the first token reaching the client.
        scheduler_depth_steps: iterations the engine's scheduler holds when a request arrives, which a
            closed-loop arrival waits out: 1 when each iteration is scheduled as the previous one returns,
            2 when iteration ``n + 1`` is scheduled while ``n`` runs (SGLang's and TensorRT-LLM's overlap
            schedulers, vLLM's asynchronous scheduling). Sourced, not fitted: ``arrival_wait_steps`` is fitted
            from it (``planner.calibration.joint.neutral``).
        scheduler_overlap: the engine's host work of an iteration (``step_overhead_s`` and
            ``sequence_overhead_s``: scheduling, batch preparation, output processing) hides behind
            the GPU's work on the previous iteration, so an iteration takes the longer of the two, not
            their sum (:meth:`step_time_s`); each engine profile's source says why it is set or not.
        lm_head_quant: quantisation the engine runs the output projection in (``bf16``: engines
            keep the LM head unquantised); ``None`` follows the plan's weight quantisation.
        default_kv_quant: KV-cache mode the engine picks when a measurement does not say:
            ``bf16``, ``fp8``, or ``weights`` (fp8 when the weights are 8-bit or narrower).
        max_batch: most sequences one instance of the engine runs at once by default (vLLM
            ``max_num_seqs``, TensorRT-LLM ``max_batch_size``): the top of the search space's
            batch ladder unless ``--max-batch`` lifts it. ``None``: no fixed limit (memory bounds it).
        measured_batch: (smallest, largest) concurrency per instance among the measured runs the
            profile was fitted on; a plan outside it is flagged (``planner.serving.coverage``).
            ``None``: no measured range recorded (no flag).
        measured_context_tokens: (shortest, longest) ``isl + osl`` among those runs, likewise.
        measured_tokens_per_step: (fewest, most) tokens one iteration of an instance processed on average
            among those runs: its running sequences' decode tokens plus the prompt tokens interleaved into
            the step (Little's law from the run's TTFT and TPOT, ``planner.serving.coverage.tokens_per_step``),
            likewise.
        measured_streamed_tokens_per_s: (fewest, most) output tokens a second one instance streamed among those
            runs (concurrency / TPOT), likewise: above it the serving front end that streams every token was never
            measured, and in two of the calibration file's three collections TTFT grew with that rate
            (docs/accuracy.md, 'TTFT and the streamed token rate').
        measured_gpus: the catalogue GPUs those runs ran on; a plan on another GPU is flagged, its engine knobs
            taken from the profile's engine-wide values fitted elsewhere. ``None``: not recorded (no flag).
        out_of_family_tpot_mape_pct, out_of_family_tpot_p90_pct, out_of_family_ttft_mape_pct,
        out_of_family_ttft_p90_pct: how far this profile's predictions missed the measured TPOT and TTFT of
            model families its fit never saw: the mean absolute percentage error and its 90th percentile (nine
            runs in ten missed by less), each family's runs predicted by a fit without that family
            (``bench/accuracy.py --lofo``). The reports quote them beside every plan (:meth:`out_of_family_error`).
            ``None``: not measured (a profile file of one's own, and one ``rackplan calibrate`` fits: its fit is not
            the one the figures scored).
        disagg_decode_tpot_mape_pct, disagg_decode_tpot_p90_pct: how far this profile's decode-only instance
            missed the measured TPOT of the decode pools of disaggregated runs, which no fit uses
            (``planner.calibration.decode_pools``; ``bench/accuracy.py``): the mean absolute percentage error and
            its 90th percentile. A disaggregated plan quotes them (:meth:`disagg_decode_error`). ``None``: not
            measured (no such run of the engine, and a calibrated profile, as above).
        gemm_curve: run the dense-block GEMMs (attention projections, dense FFN, shared experts,
            LM head) on the fitted GEMM kernel curve (``planner.engine.kernels.gemm``); ``False``
            keeps them on the FLOP/byte roofline (the GPU's decode/prefill efficiency x
            ``gemm_efficiency_scale``, weights in the HBM term), as the seed preset always does.
        gpus: per-GPU values of the performance knobs (`GPU_KNOBS`), keyed by catalogue GPU
            name: how fast one engine's kernels, launch path and scheduler run differs by part
            and platform (host CPU, CUDA-graph support, kernel maturity per architecture).
            In files: a ``[gpus.NAME]`` table, overheads in microseconds. Applied by
            :meth:`on_gpu`; GPUs not listed use the top-level values.
    """

    name: str = text()
    description: str = text(default="")
    source: str = text()
    gemm_efficiency_scale: float = _scale(2)
    attention_efficiency_scale: float = _scale(2)
    moe_efficiency_scale: float = _scale(2)
    weight_only_efficiency_scale: float = _scale(2)
    hbm_efficiency_scale: float = _scale(1.2)
    comm_efficiency_scale: float = _scale(1.5)
    comm_latency_scale: float = _scale(10)
    step_overhead_s: float = _seconds()
    sequence_overhead_s: float = _seconds()
    per_kernel_overhead_s: float = _seconds()
    per_layer_overhead_s: float = _seconds()
    eager_kernel_overhead_s: float = _seconds()
    hbm_usable_fraction: float = number(gt=0, le=1, default=0.9)
    kv_memory_fraction: float = number(gt=0, le=1, default=1.0)
    kv_reserved_output_fraction: float = number(ge=0, le=1, default=1.0)
    overlap_fraction: float = number(ge=0, le=1, default=0.5)
    prefill_chunk_tokens: int = integer(ge=16, le=100_000_000, default=8192)
    prefill_chunk_tokens_by_hbm: tuple[int, int] | None = None  # (GiB, tokens): checked below
    prefill_wait_fraction: float = number(ge=0, le=1, default=0.0)
    prompt_queue_scale: float = number(ge=0, le=64, default=0.0)
    prompts_ahead: float = number(ge=0, le=2, default=0.0)
    ttft_overhead_s: float = _seconds()
    arrival_wait_steps: float = number(ge=0, le=4, default=0.0)
    scheduler_depth_steps: int = integer(ge=1, le=4, default=1)
    scheduler_overlap: bool = flag(default=False)
    lm_head_quant: str | None = choice(("bf16", "fp8", "int8", "int4", "fp4"), default=None)
    default_kv_quant: str = choice(("bf16", "fp8", "weights"), default="bf16")
    max_batch: int | None = integer(ge=1, le=1_000_000, default=None)
    measured_batch: tuple[int, int] | None = None  # (smallest, largest): checked below
    measured_context_tokens: tuple[int, int] | None = None
    measured_tokens_per_step: tuple[int, int] | None = None
    measured_streamed_tokens_per_s: tuple[int, int] | None = None
    measured_gpus: tuple[str, ...] | None = None  # checked below
    out_of_family_tpot_mape_pct: float | None = number(ge=0, le=MAX_ERROR_PCT, default=None)
    out_of_family_tpot_p90_pct: float | None = number(ge=0, le=MAX_ERROR_PCT, default=None)
    out_of_family_ttft_mape_pct: float | None = number(ge=0, le=MAX_ERROR_PCT, default=None)
    out_of_family_ttft_p90_pct: float | None = number(ge=0, le=MAX_ERROR_PCT, default=None)
    disagg_decode_tpot_mape_pct: float | None = number(ge=0, le=MAX_ERROR_PCT, default=None)
    disagg_decode_tpot_p90_pct: float | None = number(ge=0, le=MAX_ERROR_PCT, default=None)
    gemm_curve: bool = flag(default=True)
    gpus: dict[str, dict[str, float]] = mapping(default_factory=dict)  # each knob checked below, by its own bounds
    sources: dict[str, str] = mapping(text(), default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("measured_batch", "measured_context_tokens", "measured_tokens_per_step",
                     "measured_streamed_tokens_per_s"):
            self.__dict__[name] = _pair(name, getattr(self, name))
        self.__dict__["measured_gpus"] = _names("measured_gpus", self.measured_gpus)
        self.__dict__["prefill_chunk_tokens_by_hbm"] = _pair(
            "prefill_chunk_tokens_by_hbm", self.prefill_chunk_tokens_by_hbm, "[hbm_gib, tokens]", (_GIB, _CHUNK))
        gpus = self.gpus
        if gpus:
            checks = dict(type(self).__spec_checks__)
            for gpu, values in gpus.items():
                if not isinstance(values, dict):
                    raise FieldError(f"gpus.{gpu}", f"must be a table of knobs to values (got {values!r})")
                unknown = sorted(set(values) - set(GPU_KNOBS))
                if unknown:
                    raise FieldError(f"gpus.{gpu}.{unknown[0]}",
                                     f"cannot be set per GPU (allowed: {', '.join(GPU_KNOBS)})")
                # each within its own knob's bounds, as `on_gpu` applies it (a copy: the caller's table is kept)
                gpus[gpu] = {knob: checks[knob](f"gpus.{gpu}.{knob}", value) for knob, value in values.items()}

    def iteration_overhead_s(self, sequences):
        """Fixed cost of one engine iteration running ``sequences`` per attention group:
        ``step_overhead_s + sequence_overhead_s x sequences`` (scalar or array)."""
        return self.step_overhead_s + self.sequence_overhead_s * sequences

    def step_time_s(self, gpu_s, host_s):
        """One iteration's time from its GPU time and its host work (``iteration_overhead_s``): their
        sum, or under ``scheduler_overlap`` the longer of the two (the host prepares iteration ``n + 1``
        while the GPU runs ``n``). E.g. 512 sequences at 40 us of host work each plus 250 us a step
        (20.7 ms) beside 13 ms of GPU work: 20.7 ms with the overlap, 33.7 ms without."""
        return np.maximum(gpu_s, host_s) if self.scheduler_overlap else gpu_s + host_s

    def out_of_family_error(self, prompts: bool = True) -> dict[str, float] | None:
        """The measured out-of-family errors (percent) by name, ``tpot_mape``, ``tpot_p90``, ``ttft_mape``,
        ``ttft_p90``, those recorded (the TTFT ones only for a workload with ``prompts``); None where none is."""
        return self._recorded("out_of_family", OUT_OF_FAMILY if prompts else
                              tuple(n for n in OUT_OF_FAMILY if not n.startswith("ttft")))

    def disagg_decode_error(self) -> dict[str, float] | None:
        """The measured decode-pool TPOT errors (percent) by name, ``tpot_mape`` and ``tpot_p90``, those recorded;
        None where none is."""
        return self._recorded("disagg_decode", DISAGG_DECODE)

    def _recorded(self, prefix: str, names: tuple[str, ...]) -> dict[str, float] | None:
        """The ``<prefix>_<name>_pct`` figures of ``names`` this profile records, by name; None where none is."""
        figures = {name: getattr(self, f"{prefix}_{name}_pct") for name in names}
        figures = {name: value for name, value in figures.items() if value is not None}
        return figures or None

    def on_gpu(self, gpu_name: str, hbm_bytes: float | None = None) -> EngineProfile:
        """This profile with ``gpus[gpu_name]``'s values in place and, on a GPU of ``hbm_bytes`` that reaches
        ``prefill_chunk_tokens_by_hbm``'s memory, its chunk budget (itself when neither applies)."""
        values = self.gpus.get(gpu_name) or {}
        by_hbm = self.prefill_chunk_tokens_by_hbm
        if by_hbm is not None and hbm_bytes is not None and hbm_bytes >= by_hbm[0] * 2**30:
            values = {**values, "prefill_chunk_tokens": by_hbm[1]}
        if not values:
            return self
        return _ON_GPU.get((self,), lambda: dataclasses.replace(self, **values),
                           (gpu_name, values.get("prefill_chunk_tokens")))


# The measured out-of-family errors a profile may record (``out_of_family_<name>_pct``).
OUT_OF_FAMILY = ("tpot_mape", "tpot_p90", "ttft_mape", "ttft_p90")
# The measured decode-pool errors a profile may record (``disagg_decode_<name>_pct``).
DISAGG_DECODE = ("tpot_mape", "tpot_p90")
# Knobs an engine profile may set per GPU: speed and latency, not memory or chunking policy.
GPU_KNOBS = ("gemm_efficiency_scale", "attention_efficiency_scale", "moe_efficiency_scale",
             "weight_only_efficiency_scale", "hbm_efficiency_scale", "comm_efficiency_scale",
             "comm_latency_scale", "step_overhead_s", "sequence_overhead_s", "per_kernel_overhead_s",
             "per_layer_overhead_s", "eager_kernel_overhead_s", "overlap_fraction", "prompt_queue_scale",
             "prefill_wait_fraction", "ttft_overhead_s", "arrival_wait_steps", "prompts_ahead")
_ON_GPU: Kept[EngineProfile] = Kept(limit=256)  # each profile's per-GPU copies, made once (`planner.kept`)
_PAIR = integer().metadata["check"]
_GIB = integer(ge=1, le=100_000).metadata["check"]
_CHUNK = integer(ge=16, le=100_000_000).metadata["check"]  # as prefill_chunk_tokens


def _names(name: str, value) -> tuple[str, ...] | None:
    """``value`` as a sorted tuple of distinct non-empty names (a list from a file becomes a tuple)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise FieldError(name, f"must be a non-empty list of GPU names, e.g. [\"h100-sxm\", \"b200\"] (got {value!r})")
    return tuple(sorted(set(value)))


def _pair(name: str, value, shape: str = "[smallest, largest]", checks=(_PAIR, _PAIR)) -> tuple[int, int] | None:
    """``value`` as a pair of integers, each through its check (a list from a file becomes a tuple)."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise FieldError(name, f"must be a pair {shape} (got {value!r})")
    first, second = (check(f"{name}.{i}", v) for i, (check, v) in enumerate(zip(checks, value)))
    return first, second


def file_key(field: str) -> str:
    """A field's key in a profile file: overheads are written in microseconds (``step_overhead_s`` is
    ``step_overhead_us``), every other field as it is named."""
    return field.removesuffix("_s") + "_us" if field.endswith("_overhead_s") else field


_US_KEYS = tuple((file_key(f.name), f.name) for f in dataclasses.fields(EngineProfile) if file_key(f.name) != f.name)


def _seconds(table: dict, prefix: str = "") -> dict:
    """``table`` with its ``*_us`` keys converted to ``*_s`` seconds; a value that is not a number of microseconds,
    or is negative, is refused under the key the file wrote (``prefix``: a ``[gpus.NAME]`` table's ``gpus.NAME.``)."""
    out = dict(table)
    for key_us, key_s in _US_KEYS:
        if key_us in out:
            value = out.pop(key_us)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"field '{prefix}{key_us}': must be a number of microseconds, got {value!r}")
            if value < 0:
                raise ValueError(f"field '{prefix}{key_us}' must be >= 0 microseconds (got {value!r})")
            out[key_s] = from_us(float(value))
    return out


def _from_file(path: Path) -> EngineProfile:
    raw = read_toml(path, InputError, "the profile")
    try:
        raw = _seconds(raw)
        if isinstance(raw.get("gpus"), dict):
            raw["gpus"] = {name: _seconds(t, f"gpus.{name}.") if isinstance(t, dict) else t
                           for name, t in raw["gpus"].items()}
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
    known = {f.name for f in dataclasses.fields(EngineProfile)}
    for key in raw:
        if key not in known:
            import difflib  # only for the hint of an error

            written = (known - {key_s for _, key_s in _US_KEYS}) | {key_us for key_us, _ in _US_KEYS}  # as files do
            close = difflib.get_close_matches(key, sorted(written), n=1)
            raise InputError(f"{path}: field '{key}' is not a profile key; "
                             + (f"did you mean '{close[0]}'?" if close else "remove it"))
    for key in ("name", "source"):
        if key not in raw:
            raise InputError(f"{path}: field '{key}' is required; give a string")
    try:
        return EngineProfile(**raw)
    except ValueError as exc:  # specbase.checks.FieldError: the field, its bound and the value
        raise InputError(f"{path}: {exc}") from None


def engine_names() -> list[str]:
    """Names of the shipped engine profiles."""
    return sorted(p.stem for p in ENGINE_DIR.glob("*.toml"))


@cache
def engine(name: str = "default") -> EngineProfile:
    """A shipped engine profile by name."""
    key = name.strip().lower()
    path = ENGINE_DIR / f"{key}.toml"
    if not path.exists():
        import difflib  # only for the hint of an error

        close = difflib.get_close_matches(key, engine_names(), n=3, cutoff=0.3)
        hint = f"; closest: {', '.join(close)}" if close else f"; known: {', '.join(engine_names())}"
        raise InputError(f"unknown engine '{name}'{hint}")
    return _from_file(path)


def load_profile(path: str | Path) -> EngineProfile:
    """An engine profile from a user TOML file (e.g. written by ``rackplan calibrate``)."""
    return _from_file(Path(path))
