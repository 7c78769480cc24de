"""Measured serving runs: read a CSV of TTFT/TPOT/throughput measurements into checked rows.

Two formats, told apart by their header:

* **silicon** (``silicon_tpot_ms`` column): NVIDIA aiconfigurator's ``silicon_sample.csv``
  (``calibration/silicon_calibration.csv``). Its layout columns mean: ``tp_size`` x
  ``attention_dp_size`` = ``moe_tp_size`` x ``moe_ep_size`` = the GPUs of one instance
  (times ``pp_size``); ours are ``tp = tp_size``, ``dp = attention_dp_size`` (empty or 0:
  1), ``ep = moe_ep_size`` (so ``moe_tp = tp x dp / ep``). Quantisation: ``fp8`` and
  ``fp8_block`` are our ``fp8``, ``nvfp4`` our ``fp4``, empty/``float16``/``bfloat16`` our
  ``bf16``; the MoE mode wins where both are given (routed experts hold most weights). The
  file has no KV-cache column: the engine's ``default_kv_quant`` applies. ``batch_size`` is
  the measured concurrency (requests in flight) of one attention-DP rank, so the instance's is
  ``batch_size x attention_dp_size`` (TensorRT-LLM's batch limit is per rank under attention
  DP): on all 23 aggregated rows with ``attention_dp_size > 1`` the ``silicon_data_source``
  field records exactly that product as ``silicon_concurrency=N``. 23 other aggregated rows
  record an ``N`` 2-32x that product with no attention DP; neither reading is safe (with ``N``
  in flight some would beat the physical floor, `planner.calibration.screen.physical_floor`,
  e.g. Qwen3-32B NVFP4 15000/500 on two GPUs, whose KV cache cannot hold ``N`` sequences; with
  ``batch_size`` others run 2-8x slower than the model at any efficiency the rest of the file
  supports), so such a row is counted out as ambiguous (``AMBIGUOUS_CONCURRENCY``).
* **simple** (``tpot_ms`` or ``ttft_ms`` or ``tok_per_gpu`` column), one run per line:

  ``model, system | gpu, [engine], tp, [pp], [ep], [dp], batch, [quant], [kv_quant], isl, osl,
  [tpot_ms], [ttft_ms], [tok_per_gpu], [campaign], [arrivals]``

  ``model`` is a catalogue name, HF id or config path; ``system`` a catalogue system (or
  ``gpu``: its default system); missing ``pp``/``ep``/``dp`` are 1, ``quant`` is ``bf16``,
  an empty ``kv_quant`` is the engine's default; ``tok_per_gpu`` is output tokens/s per GPU; ``campaign`` names
  the measurement campaign a run belongs to (any text; empty: none), so that a campaign whose runs mostly break a
  physical floor is counted out whole (`planner.calibration.screen.discredited_campaigns`); ``arrivals`` is
  ``steady`` (a closed loop kept the batch in flight; empty: steady) or ``burst`` (the run sent its batch at
  once and timed it to the end: ``Workload.arrivals``).
  At least one of the three measurements must be present on a line.

Rows that cannot be used are counted by reason (:attr:`MeasurementSet.skipped`), never
dropped silently: disaggregated runs, unparsable values and repeat runs of one configuration
that contradict each other (:func:`reproducible`). Checking the rows against the catalogue and
physics is the next step, `planner.calibration.screen`.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from planner import quant
from planner.errors import InputError
from planner.serving.workload import ARRIVALS
from planner.units import from_ms

# silicon_sample.csv system names -> catalogue systems (one instance inside one server or NVL72 rack).
SILICON_SYSTEMS = {
    "h100_sxm": "hgx-h100", "h200_sxm": "hgx-h200", "b200_sxm": "hgx-b200", "b300_sxm": "hgx-b300",
    "gb200": "gb200-nvl72", "gb300": "gb300-nvl72",
}
# aiconfigurator quantisation modes -> ours (``fp8_block`` is block-scaled FP8, same bytes and tensor cores).
SILICON_QUANTS = {"": "bf16", "float16": "bf16", "bfloat16": "bf16", "fp8": "fp8", "fp8_block": "fp8",
                  "fp8_static": "fp8", "nvfp4": "fp4", "mxfp4": "fp4", "w4a16_mxfp4": "fp4", "int8": "int8"}

# Repeat runs of one configuration agree within 20 % in TPOT on 69 of the 71 repeated
# configurations of calibration/silicon_calibration.csv; the other two differ 2.6x and 5.2x.
IRREPRODUCIBLE_RATIO = 2.0
IRREPRODUCIBLE = f"configuration measured more than once, TPOTs more than {IRREPRODUCIBLE_RATIO:g}x apart"

# The concurrency a silicon row's provenance records, when it does.
_SILICON_CONCURRENCY = re.compile(r"silicon_concurrency=(\d+)")
# The campaign it came from: a collection's source file, or a results database's configuration.
_SILICON_CAMPAIGN = re.compile(r"source_file=[^;]+|config_id=\d+")
# Runs of SemiAnalysis InferenceX: its results database (``db-dump/`` provenance) and that database's dated CSV
# exports (``source_file=YYYY-MM-DD.csv``), the file's DeepSeek-V3 and gpt-oss-120b runs. Its benchmark client draws
# each request's prompt and output lengths as whole numbers uniformly from floor(0.8 L) .. L about the run's stated L
# (https://github.com/SemiAnalysisAI/InferenceX: .github/workflows/benchmark-tmpl.yml, ``random-range-ratio`` 0.8;
# utils/bench_serving/benchmark_serving.py, ``sample_random_requests``), so the lengths it sent average
# (floor(0.8 L) + L) / 2: 921.5 tokens of a stated 1,024, 7,372.5 of 8,192 (:func:`sent_length`; :func:`read`'s
# ``sent_lengths``, docs/accuracy.md, "What the InferenceX recipes ran").
INFERENCEX_PROVENANCE = re.compile(r"db-dump/|source_file=\d{4}-\d{2}-\d{2}\.csv")
INFERENCEX_RANGE_RATIO = 0.8
# The day InferenceX's client began warming the server up before its timed requests: 2 x the concurrency of
# requests first (InferenceX PR #480, merged 2026-01-21: ``--num-warmups "$((2 * max_concurrency))"`` in
# benchmarks/benchmark_lib.sh). A run measured before it (its provenance's ``measured=`` date) sent its timed
# requests to a cold server, and its first wave's TTFT (a tenth of its requests) took the cold start: JIT-compiled
# kernels, CUDA-graph capture and memory pools at the run's shapes (:attr:`Measurement.cold_ttft`).
INFERENCEX_WARMUP_FROM = "2026-01-21"
# Campaigns whose runs each sent one burst of their concurrency and measured it to the end (``Workload.arrivals =
# 'burst'``; :attr:`Measurement.burst`), by the source file's path, with the evidence. A burst's signature is in its
# TPOT, which no queue knob fits: its prompts run ahead of the decode (prompt priority), so a request's decode steps
# carry only the prompts sent after it, about half the burst's, where a closed loop's carry every other request's
# prompt once a lifetime (planner.serving.aggregated, Burst; docs/accuracy.md, "One burst, not a closed loop").
BURST_CAMPAIGNS = {
    "/data/h100_sxm/sglang/0.5.1.post1/Qwen_Qwen3-32B.csv":
        "TPOT MAPE 5.1 % as one burst against 7.4 % as a closed loop on the knobs shipped before the label, fitted "
        "with every run a closed loop (the other four campaigns of the collection: 18-22 % against 7-11 %); TTFT "
        "13.1 % as one burst with no queue knob, 16.7 % with them fitted (bench/accuracy.py's rows, 2026-12-06; "
        "today's figures: python bench/accuracy.py --arrivals)",
}
_MEASURED_ON = re.compile(r"measured=(\d{4}-\d{2}-\d{2})")
AMBIGUOUS_CONCURRENCY = "recorded silicon_concurrency differs from batch_size x attention_dp_size"
AGGREGATED_RUN = "aggregated run (no decode pool)"
AMBIGUOUS_POOL_CONCURRENCY = ("no silicon_concurrency recorded, or it differs from decode_batch_size x "
                              "decode_attention_dp_size x decode_num_workers")

SIMPLE_MEASURES = ("tpot_ms", "ttft_ms", "tok_per_gpu")
SIMPLE_REQUIRED = ("model", "tp", "batch", "isl", "osl")


@dataclass(frozen=True)
class Measurement:
    """One measured run (SI units; ``None`` where not measured).

    Attributes:
        line: line in the file (the header is line 1).
        label: the run's id in the file, or ``line N``.
        model: model as written (catalogue name, HF id or path).
        system, gpu: catalogue system or GPU name (one of them).
        engine: serving engine (``trtllm``, ``vllm``, ``sglang``), or None.
        tp, pp, ep, dp, batch: layout and concurrency of one instance.
        quant, kv_quant: weight and KV-cache modes (``kv_quant`` None: the engine default).
        isl, osl: prompt and output lengths, tokens (as stated; :func:`read`'s ``sent_lengths``: as sent).
        tpot_s, ttft_s: measured time per output token and time to first token.
        tok_per_gpu: measured output tokens/s per GPU.
        model_name, hardware: catalogue names once resolved (`planner.calibration.screen.resolve`).
        campaign: the measurement campaign the run belongs to (its provenance's source file or database
            configuration, with the model, engine and system), so that a campaign whose runs mostly
            break a physical floor can be counted out whole (`planner.calibration.screen.resolve`); None
            where the file does not say (the simple format's optional ``campaign`` column).
        cold_ttft: the run's TTFT includes its server's cold start (an InferenceX run measured before its
            client warmed the server up, ``INFERENCEX_WARMUP_FROM``): not a serving figure, so neither fitted
            nor scored (`planner.calibration.fit.measured`), though the screens read it as measured.
        burst: the run sent its concurrency's requests at once and measured them to the end, not a closed loop
            (``BURST_CAMPAIGNS``): predicted with ``Workload.arrivals = 'burst'`` (`planner.calibration.fit`).
    """

    line: int
    label: str
    model: str
    system: str | None
    gpu: str | None
    engine: str | None
    tp: int
    pp: int
    ep: int
    dp: int
    batch: int
    quant: str
    kv_quant: str | None
    isl: int
    osl: int
    tpot_s: float | None
    ttft_s: float | None
    tok_per_gpu: float | None
    moe_tp: int | None = None
    model_name: str | None = None
    campaign: str | None = None
    cold_ttft: bool = False
    burst: bool = False

    @property
    def gpus(self) -> int:
        """GPUs of one instance."""
        return self.tp * self.pp * self.dp


@dataclass(frozen=True)
class MeasurementSet:
    """Rows read from one file, with the count of rows skipped per reason."""

    path: str
    kind: str
    rows: tuple[Measurement, ...]
    skipped: dict[str, int]

    def with_rows(self, rows, more_skipped: Counter | dict | None = None) -> MeasurementSet:
        """Same file, other rows, more skip reasons."""
        skipped = Counter(self.skipped)
        skipped.update(more_skipped or {})
        return replace(self, rows=tuple(rows), skipped=dict(skipped))

    @property
    def num_skipped(self) -> int:
        """Rows skipped for any reason."""
        return sum(self.skipped.values())


WRONG_CELLS = "wrong number of cells"
# A count in a measurement row above this is a damaged cell (no run has 2**31 GPUs or sequences).
MAX_CELL_INT = 2**31


def _int(text: str, default: int | None = None, zero_is_unset: bool = False) -> int | None:
    text = (text or "").strip()
    if not text:
        return default
    number = float(text)
    if not (math.isfinite(number) and abs(number) < MAX_CELL_INT and number == int(number)):
        raise ValueError(f"not a whole number of a plausible size: {text}")
    value = int(number)
    if zero_is_unset and value == 0:
        return default
    return value


def _float(text: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text}")
    return value


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def sent_length(stated: int, range_ratio: float) -> int:
    """The mean length, to the nearest whole number (half to even), of requests whose lengths a benchmark draws
    uniformly from the whole numbers ``floor(range_ratio x stated) .. stated``: e.g. 922 for 1,024 at 0.8 (the mean of
    819 .. 1,024 is 921.5), 7,372 for 8,192 (6,553 .. 8,192: 7,372.5); ``stated`` itself at a ratio of 1."""
    return round((math.floor(range_ratio * stated) + stated) / 2)


def _inferencex(raw: dict) -> str | None:
    """A silicon row's provenance where it is an InferenceX run's (``INFERENCEX_PROVENANCE``), else None."""
    source = (raw.get("silicon_data_source") or "").strip()
    return source if INFERENCEX_PROVENANCE.match(source) else None


def _length(raw: dict, column: str, sent: bool) -> int:
    """A silicon row's prompt (``isl``) or output (``osl``) length: as stated, or with ``sent`` the mean an
    InferenceX run's benchmark sent about the stated one (other runs as stated)."""
    stated = _int(raw[column])
    return sent_length(stated, INFERENCEX_RANGE_RATIO) if sent and _inferencex(raw) else stated


def _silicon_run(raw: dict, line: int, sent: bool = False) -> dict | str:
    """The fields every silicon row gives, pool or not (label, model, system, engine, modes, lengths, measurements
    and campaign), or why the row cannot be used; ``sent``: an InferenceX run's lengths as sent (:func:`_length`)."""
    system = SILICON_SYSTEMS.get(raw["system"].strip())
    if system is None:
        return f"system '{raw['system'].strip()}' not in the catalogue"
    moe_mode = (raw.get("moe_quant_mode") or "").strip()
    gemm_mode = (raw.get("gemm_quant_mode") or "").strip()
    mode = moe_mode or gemm_mode
    if mode not in SILICON_QUANTS:
        return f"quantisation '{mode}' not modelled"
    tpot = _positive(_float(raw.get("silicon_tpot_ms", "")))
    ttft = _positive(_float(raw.get("silicon_ttft_ms", "")))
    if tpot is None and ttft is None:
        return "no measurement"
    return dict(line=line, label=raw.get("id") or f"line {line}", model=raw["model_path"].strip(), system=system,
                gpu=None, engine=raw.get("backend", "").strip() or None, quant=SILICON_QUANTS[mode], kv_quant=None,
                isl=_length(raw, "isl", sent), osl=_length(raw, "osl", sent),
                tpot_s=None if tpot is None else from_ms(tpot), ttft_s=None if ttft is None else from_ms(ttft),
                tok_per_gpu=None, campaign=_campaign(raw), cold_ttft=_cold(raw), burst=_burst(raw))


def _split(raw: dict, prefix: str = "") -> dict:
    """A silicon row's pipeline, attention-DP and expert split (``prefix`` ``decode_``: its decode pool's):
    ``ep`` 1 and ``moe_tp`` None where no expert split is given, ``pp`` and ``dp`` 1 where empty or 0."""
    ep = _int(raw.get(f"{prefix}moe_ep_size", ""), None, zero_is_unset=True)
    moe_tp = _int(raw.get(f"{prefix}moe_tp_size", ""), None, zero_is_unset=True)
    return dict(pp=_int(raw.get(f"{prefix}pp_size", ""), 1, True), ep=ep or 1,
                dp=_int(raw.get(f"{prefix}attention_dp_size", ""), 1, zero_is_unset=True),
                moe_tp=moe_tp if ep else None)


def _recorded_concurrency(raw: dict) -> int | None:
    """The ``silicon_concurrency=N`` a silicon row's provenance records, if it does."""
    recorded = _SILICON_CONCURRENCY.search(raw.get("silicon_data_source") or "")
    return None if recorded is None else int(recorded.group(1))


def _silicon_row(raw: dict, line: int, sent: bool = False) -> Measurement | str:
    if raw.get("mode", "agg").strip() != "agg":
        return "disaggregated run (prefill and decode pools measured together)"
    run = _silicon_run(raw, line, sent)
    if isinstance(run, str):
        return run
    split = _split(raw)
    batch = _int(raw["batch_size"]) * split["dp"]
    recorded = _recorded_concurrency(raw)
    if recorded is not None and recorded != batch:
        return AMBIGUOUS_CONCURRENCY
    return Measurement(**run, **split, tp=_int(raw["tp_size"]), batch=batch)


def _decode_pool_row(raw: dict, line: int, sent: bool = False) -> Measurement | str:
    """The decode pool of a disaggregated silicon run (:func:`read` with ``decode_pools``)."""
    if raw.get("mode", "agg").strip() != "disagg":
        return AGGREGATED_RUN
    run = _silicon_run(raw, line, sent)
    if isinstance(run, str):
        return run
    tp = _int(raw.get("decode_tp_size", ""), None, zero_is_unset=True)
    per_rank = _int(raw.get("decode_batch_size", ""), None, zero_is_unset=True)
    if tp is None or per_rank is None:
        return "no decode-pool layout or batch recorded"
    split = _split(raw, "decode_")
    batch = per_rank * split["dp"]  # one worker's
    recorded = _recorded_concurrency(raw)
    if recorded is None or recorded != batch * _int(raw.get("decode_num_workers", ""), 1, zero_is_unset=True):
        return AMBIGUOUS_POOL_CONCURRENCY
    return Measurement(**run, **split, tp=tp, batch=batch)


def _cold(raw: dict) -> bool:
    """Whether a silicon row is an InferenceX run measured before its client warmed the server up
    (``INFERENCEX_WARMUP_FROM``; a run with no ``measured=`` date is taken as warmed)."""
    on = _MEASURED_ON.search(_inferencex(raw) or "")
    return on is not None and on.group(1) < INFERENCEX_WARMUP_FROM


def _source(raw: dict) -> str | None:
    """A silicon row's provenance source: its ``source_file=`` or ``config_id=`` (``_SILICON_CAMPAIGN``), or None."""
    found = _SILICON_CAMPAIGN.search(raw.get("silicon_data_source") or "")
    return None if found is None else found.group(0).strip()


def _burst(raw: dict) -> bool:
    """Whether a silicon row's campaign sent each run's requests as one burst (``BURST_CAMPAIGNS``)."""
    source = _source(raw)
    return source is not None and any(source.endswith(path) for path in BURST_CAMPAIGNS)


def _campaign(raw: dict) -> str | None:
    """A silicon row's campaign (:attr:`Measurement.campaign`): its provenance's ``source_file=`` or ``config_id=``,
    model, engine and system, e.g. ``config_id=88, nvidia/DeepSeek-V3.1-NVFP4, sglang, b200_sxm``."""
    source = _source(raw)
    if source is None:
        return None
    return ", ".join((source, raw["model_path"].strip(), (raw.get("backend") or "").strip(), raw["system"].strip()))


def _simple_row(raw: dict, line: int) -> Measurement | str:
    measures = {k: _positive(_float(raw.get(k, ""))) for k in SIMPLE_MEASURES}
    if all(v is None for v in measures.values()):
        return "no measurement"
    system = (raw.get("system") or "").strip() or None
    gpu = (raw.get("gpu") or "").strip() or None
    if system is None and gpu is None:
        return "neither system nor gpu given"
    try:
        weight_mode = quant.mode((raw.get("quant") or "").strip() or "bf16").name
        kv_text = (raw.get("kv_quant") or "").strip()
        kv_mode = quant.mode(kv_text).name if kv_text else None
    except InputError:
        return "unknown quantisation"
    arrivals = (raw.get("arrivals") or "").strip().lower() or "steady"
    if arrivals not in ARRIVALS:
        return f"unknown arrivals (give {' or '.join(ARRIVALS)})"
    return Measurement(
        line=line, label=f"line {line}", model=raw["model"].strip(), system=system, gpu=gpu,
        engine=(raw.get("engine") or "").strip().lower() or None,
        tp=_int(raw["tp"]), pp=_int(raw.get("pp", ""), 1), ep=_int(raw.get("ep", ""), 1),
        dp=_int(raw.get("dp", ""), 1), batch=_int(raw["batch"]), quant=weight_mode, kv_quant=kv_mode,
        isl=_int(raw["isl"]), osl=_int(raw["osl"]),
        tpot_s=None if measures["tpot_ms"] is None else from_ms(measures["tpot_ms"]),
        ttft_s=None if measures["ttft_ms"] is None else from_ms(measures["ttft_ms"]),
        tok_per_gpu=measures["tok_per_gpu"], campaign=(raw.get("campaign") or "").strip() or None,
        burst=arrivals == "burst",
    )


def read(path: str | Path, decode_pools: bool = False, sent_lengths: bool = False) -> MeasurementSet:
    """Parse a silicon or simple measurements CSV (module docstring).

    ``decode_pools``: read instead the decode pools of a silicon file's disaggregated runs (``mode`` ``disagg``),
    one row each: the ``decode_*`` layout, ``batch`` one decode worker's concurrency (``decode_batch_size x
    decode_attention_dp_size``), the run's measured TPOT and TTFT. A row counts only where its provenance records
    the concurrency and it equals that batch times ``decode_num_workers`` (e.g. 64 x 32 x 1 = 2,048); the others
    and those with no decode layout or batch (gpt-oss-120b on GB200 records none) are counted out.

    ``sent_lengths``: a silicon file's InferenceX runs (``INFERENCEX_PROVENANCE``) at the mean prompt and output
    lengths their benchmark sent (:func:`sent_length`: 922 of a stated 1,024) instead of the stated ones.

    Raises:
        InputError: the file cannot be read, or its header fits neither format (``decode_pools``: is not silicon).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read measurements ({getattr(exc, 'strerror', None) or exc})") from None
    if not text.strip():
        raise InputError(f"{path}: empty file, no measurement rows")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    if "silicon_tpot_ms" in header:
        kind, parse = "silicon", partial(_decode_pool_row if decode_pools else _silicon_row, sent=sent_lengths)
        needed = ("decode_batch_size", "decode_tp_size") if decode_pools else ("batch_size", "tp_size")
        missing = [c for c in ("model_path", "system", "isl", "osl", *needed) if c not in header]
    elif decode_pools:
        raise InputError(f"{path}: decode pools are read from the silicon format only (silicon_tpot_ms column)")
    elif any(m in header for m in SIMPLE_MEASURES):
        kind, parse = "simple", _simple_row
        missing = [c for c in SIMPLE_REQUIRED if c not in header]
        if "system" not in header and "gpu" not in header:
            missing.append("system or gpu")
    else:
        raise InputError(f"{path}: not a measurements CSV: the header needs tpot_ms, ttft_ms or tok_per_gpu "
                         f"(simple format) or silicon_tpot_ms (silicon format)")
    if missing:
        raise InputError(f"{path}: {kind} measurements CSV lacks column(s): {', '.join(missing)}")
    rows, skipped = [], Counter()
    for line, raw in enumerate(reader, start=2):
        try:
            parsed = WRONG_CELLS if None in raw or None in raw.values() else parse(raw, line)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            parsed = "unparsable value"
        if isinstance(parsed, str):
            skipped[parsed] += 1
        else:
            rows.append(parsed)
    if not rows and not skipped:
        raise InputError(f"{path}: no measurement rows")
    rows, dropped = reproducible(rows)
    if dropped:
        skipped[IRREPRODUCIBLE] += dropped
    return MeasurementSet(path=str(path), kind=kind, rows=tuple(rows), skipped=dict(skipped))


def reproducible(rows: list[Measurement]) -> tuple[list[Measurement], int]:
    """``rows`` less every run of a configuration whose repeat runs contradict each other.

    A configuration (model, system or GPU, engine, layout, concurrency, modes, lengths)
    measured more than once whose TPOTs differ by more than ``IRREPRODUCIBLE_RATIO`` was not
    the same run each time (e.g. Qwen3-32B on two GB200 GPUs at concurrency 1: 8.1 and
    41.9 ms), so none of its runs describes it. Returns the kept rows and how many were dropped.
    """
    def key(m: Measurement) -> tuple:
        return (m.model, m.system, m.gpu, m.engine, m.tp, m.pp, m.ep, m.dp, m.moe_tp, m.batch,
                m.quant, m.kv_quant, m.isl, m.osl)

    tpots: dict[tuple, list[float]] = {}
    for m in rows:
        if m.tpot_s is not None:
            tpots.setdefault(key(m), []).append(m.tpot_s)
    bad = {k for k, v in tpots.items() if max(v) > IRREPRODUCIBLE_RATIO * min(v)}
    kept = [m for m in rows if key(m) not in bad]
    return kept, len(rows) - len(kept)

