"""rackplan's public Python API: the questions the ``rackplan`` command answers, as functions.

Each function takes keyword arguments named after the command's options (``--max-tpot-ms`` is
``max_tpot_ms``) and returns the document that ``--format json`` prints: a dict, or a list of
row dicts for `frontier` (the dicts of `evaluate`, `train_evaluate` and `compare` also carry a
``title`` attribute, the heading their table prints under). Errors are the library's one-line
exceptions: ``planner.errors.InputError`` for bad input, ``planner.errors.InfeasibleError`` when
nothing meets the asked limits (both ``planner.errors.PlannerError``), and
``hardware.errors.CatalogueError`` or ``models.errors.ModelError`` for unknown or malformed
catalogue entries. ``None`` means "the library's default" (written once, in
``planner.studies.serving`` and ``planner.training.resolve``).

Units are SI unless an argument's name says otherwise (``max_tpot_ms`` is milliseconds,
``max_kw`` kilowatts, ``time_limit_s`` seconds). Lists of values (``tp=(2, 4)``) restrict the
search space to those values; a single value pins it. The modules that do the work (numpy,
PuLP, HiGHS) are imported inside the functions, so ``import planner`` stays cheap.

See docs/api.md for an example.
"""

from __future__ import annotations

# The package's version, written here only: pyproject.toml reads it (a dynamic version), and
# `rackplan --version` prints it without importlib.metadata (~0.1 s of email and zipfile imports).
__version__ = "0.1.0"

__all__ = ["plan", "min_gpus", "evaluate", "compare", "frontier", "train_plan", "train_min_gpus", "train_evaluate"]


def plan(*, model=None, system=None, gpu=None, fabric=None, preset=None, tokens_cached=None, isl=None, osl=None,
         racks=None, gpus=None, tp=None, pp=None, ep=None, dp=None, batch=None, quant=None, kv_quant=None,
         kv_offload_fraction=None, max_batch=None, min_tok_per_user=None, max_tpot_ms=None, max_ttft_ms=None,
         max_kw=None, top=None, solver=None, time_limit_s=None, export_mps=None, export_lp=None, engine_name=None,
         profile_path=None, allow_span=False, seed_moe=False, disagg=False, catalogue_dirs=(),
         allow_long_context=False, latency_margin=None, arrivals=None) -> dict:
    """The throughput-optimal serving plan for a budget (``rackplan plan``): MILP optimum, verified.

    Args:
        model: catalogue name, Hugging Face id or config.json path (default ``qwen3-235b-a22b``).
        system, gpu: the hardware, a system name or a GPU name (its default system); default ``gb200-nvl72``.
        fabric: a fabric replacing every scale-out tier, or ``"default"``; preset: a catalogue preset.
        tokens_cached: steady-state decode context, tokens (default 8192); or isl and osl: prompt and
            output lengths, tokens (both together), and arrivals: ``"steady"`` (a closed loop keeps each
            instance's batch in flight; the default) or ``"burst"`` (the batch arrives at once and is served to
            the end; `planner.serving.workload`).
        racks, gpus: the budget in racks or GPUs (default one rack); max_kw: board-power cap, kW.
        tp, pp, ep, dp, batch, quant, kv_quant, kv_offload_fraction: restrict a decision to a value or a
            list of values (quantisation by name: ``"fp8"``); max_batch: largest batch searched (default 256).
        min_tok_per_user: per-user decode floor, tokens/s; max_tpot_ms, max_ttft_ms: latency ceilings, ms.
            With isl/osl (``disagg`` too) the defaults are TPOT <= 80 ms (unless ``min_tok_per_user`` or
            ``max_tpot_ms`` is given) and TTFT <= 2,000 ms, the MLPerf Inference v5.1 server scenario's;
            ``0`` lifts one. ``scenario.limits.defaults`` says which were applied. latency_margin: headroom
            under each latency limit for the cost model's error, percent of the prediction, or ``"p90"``, the
            engine profile's 90th-percentile error on unseen model families (``scenario.limits.margin`` then
            says what the predictions were held to).
        top: plans returned, the optimum and the next best (default 5); solver: ``"highs"`` (default) or
            ``"cbc"``; time_limit_s: per solve, seconds; export_mps, export_lp: paths to write the MILP to.
        engine_name, profile_path: serving-engine profile name, or a profile TOML path; allow_span: let an
            instance cross its scale-up domain; seed_moe: the seed notes' MoE approximation.
        disagg: size a prefill pool and a decode pool together (isl/osl workloads); the document is then
            the fleet document of ``rackplan fleet``.
        catalogue_dirs: extra catalogue directories.
        allow_long_context: accept a context longer than the model's ``max_position_embeddings``
            (a what-if; otherwise an InputError naming both numbers).

    Returns:
        The chosen plan's keys at top level (``plan``, ``total_tps``, ``tok_per_gpu``, ``verification``, ...),
        ``scenario``, ``search_space``, ``alternatives`` (the next best distinct plans, same keys),
        ``footprint`` (servers, racks, board power) and ``explanation`` (``binding``, ``limiting_subsystem``,
        ``runner_up``, ``what_would_move_it``: why this plan).

    Raises:
        InputError, InfeasibleError (e.g. the model does not fit the budget), CatalogueError, ModelError.
    """
    options = dict(locals())
    from planner.studies.serving import plan_document
    return plan_document("max_tps", **options)


def min_gpus(target_tps: float, **options) -> dict:
    """The fewest GPUs (then racks) whose plan reaches ``target_tps`` total tokens/s (``rackplan min-gpus``).

    Args:
        target_tps: total tokens/s to reach (all instances together).
        options: `plan`'s keyword arguments; the budget (``racks``, ``gpus``) is the cap searched
            (default 64 racks).

    Returns:
        The document of `plan`, with ``objective`` ``"min_gpus"`` and ``scenario.target_tps``.

    Raises:
        InfeasibleError when no plan within the cap reaches the target; as `plan` otherwise.
    """
    from planner.studies.serving import plan_document
    _check(plan, options)
    return plan_document("min_gpus", target_tps, **options)


def evaluate(*, model, system=None, gpu=None, fabric=None, preset=None, tokens_cached=None, isl=None, osl=None,
             tp=None, pp=None, ep=None, dp=None, batch=None, quant=None, kv_quant=None, kv_offload_fraction=None,
             instances=None, engine_name=None, profile_path=None, allow_span=False, seed_moe=False,
             catalogue_dirs=(), allow_long_context=False, arrivals=None) -> dict:
    """Score one given serving plan with the roofline evaluator (``rackplan evaluate``).

    Args:
        model, system or gpu, fabric, preset, tokens_cached or isl/osl, arrivals, engine_name, profile_path,
            allow_span, seed_moe, catalogue_dirs, allow_long_context: as in `plan` (model and the hardware are
            required).
        tp, pp, ep, dp, batch, instances: the layout (default 1 each); quant, kv_quant: weight and
            KV-cache quantisation names (default ``"bf16"``); kv_offload_fraction: share of the KV cache
            kept in host memory (default 0).

    Returns:
        ``plan`` and the evaluator's keys: ``feasible``, ``reasons``, step time split (s), ``limit``,
        bounds (tokens/s per GPU), fabric load (GB/s), memory per GPU (bytes). An infeasible plan is a
        verdict (``feasible`` false, ``reasons`` say why), not an error.

    Raises:
        InputError (missing model or hardware, unknown quantisation), CatalogueError, ModelError.
    """
    options = dict(locals())
    from planner.studies.serving import evaluation
    return evaluation(**options)


def compare(*, models=None, systems=None, gpus=None, racks=None, gpu_budgets=None, tokens_cached=None, isl=None,
            osl=None, arrivals=None, quants=None, fabrics=None, serving=None, min_tok_per_user=None, baseline=1,
            progress=None, **settings) -> dict:
    """The optimal plan of every scenario of a grid, side by side (``rackplan compare``).

    Args:
        models, systems, gpus (GPU names), racks, gpu_budgets (budgets in GPUs), tokens_cached, isl, osl,
            arrivals (``"steady"``, ``"burst"``: with isl/osl), fabrics, serving (``"agg"``, ``"disagg"``),
            min_tok_per_user (tokens/s; 0: no floor): one list of values per axis; every combination is a
            scenario. Empty axes take `plan`'s defaults.
        quants: weight-quantisation sets, each searched together, e.g. ``[("fp8", "fp4")]`` or ``["bf16"]``.
        baseline: the row number (from 1) the ratio columns compare against.
        progress: ``progress(done, total)`` before the first scenario and after each (None: silent).
        settings: shared by every scenario: engine_name, profile_path, allow_span, seed_moe, allow_long_context,
            catalogue_dirs, max_batch, tp, pp, ep, dp, batch, kv_quant, kv_offload_fraction (value lists),
            max_tpot_ms, max_ttft_ms, latency_margin (as `plan`'s; ``latency_margin`` in the document then says
            what the predictions were held to), max_kw, solver, time_limit_s.

    Returns:
        ``{"baseline": n, "rows": [...], "latency_margin": {...} or None, "disagg_latency_margin": {...} or None}``
        (the second where disaggregated rows hold TPOT by the profile's decode-pool error): one row per scenario
        (``status`` ``ok``, ``infeasible`` or ``error`` with ``reason``; an ok row carries `plan`'s keys and
        ``total_tps_ratio``, ``tok_per_gpu_ratio``).

    Raises:
        InputError for a contradictory grid or a bad baseline; a scenario that fails is a row, not an error.
    """
    axes = {k: v for k, v in locals().items() if k in _GRID_AXES}
    from planner.studies.compare import compare_document
    from planner.studies.grid import scenarios
    from planner.studies.grid import settings as shared
    return compare_document(scenarios(**axes), shared(**settings), baseline, progress)


def frontier(*, points=None, progress=None, **grid) -> list[dict]:
    """The Pareto frontier of tokens/s per GPU against tokens/s per user, one line per scenario
    (``rackplan frontier``), traced by planning a ladder of latency floors.

    Args:
        points: latency floors planned per line (default 10; the unconstrained optimum is the first).
        grid: `compare`'s axes and settings (no ``min_tok_per_user``: the frontier sweeps it).
        progress: ``progress(done, total)`` counting solves, ``points + 1`` per line (None: silent).

    Returns:
        The frontier points, each a `compare` row plus ``series`` (the line), ``point`` (its number in the
        line) and ``floor_tok_per_user``, slowest first within each line.

    Raises:
        InputError for an empty grid or a latency floor given; as `compare` otherwise.
    """
    from planner.studies.frontier import DEFAULT_POINTS
    from planner.studies.frontier import frontier as trace
    from planner.studies.grid import scenarios, settings
    axes = {k: grid.pop(k) for k in _GRID_AXES if k in grid}
    return trace(scenarios(**axes), settings(**grid), DEFAULT_POINTS if points is None else points, progress)


def train_plan(*, model=None, system=None, gpu=None, fabric=None, preset=None, racks=None, gpus=None, max_kw=None,
               global_batch=None, seq_len=None, optimiser=None, train_tokens=None, dp_overlap=None, tp_overlap=None,
               ep_overlap=None, jitter_cv=None, stage_trim=None, ep_node_limit=None, fp8_act_cache=None,
               offload_layers=None, mtp_modules=None, tp=None, pp=None, ep=None, dp=None, cp=None, vpp=None,
               micro_batch=None, recompute=None, zero=None,
               precision=None, target_tokens_per_s=None, deadline_days=None, top=None, solver=None,
               time_limit_s=None, export_mps=None, export_lp=None, allow_span=False, catalogue_dirs=()) -> dict:
    """The fastest layout of a training job within a budget (``rackplan train plan``): MILP optimum, verified.

    Args:
        model: default ``llama-3.1-70b``; system, gpu, fabric, preset, catalogue_dirs, allow_span: as in `plan`
            (default one ``gb200-nvl72`` rack); racks, gpus: the budget; max_kw: board-power cap, kW.
        global_batch: sequences per optimiser step (default 256); seq_len: tokens per sequence (default 8192);
            optimiser: ``"adam"`` (default), ``"adam-fp32-grads"``, ``"adam-bf16-moments"``,
            ``"sgd-momentum"``; train_tokens: tokens
            the run consumes (reports time to train); dp_overlap, tp_overlap: fractions 0..1 of the
            data- and tensor-parallel collective time hidden behind compute; ep_overlap: of the expert
            all-to-all time hidden behind another micro-batch (default 1.0); jitter_cv: per-GPU step-time
            variation behind the straggler factor (default 0.047); stage_trim: layers taken off the first
            and last pipeline stage (default 0); ep_node_limit: servers a token may reach (default none);
            fp8_act_cache: FP8 layouts cache MoE SwiGLU inputs in FP8 and attention outputs in E5M6
            (DeepSeek-V3; default off); offload_layers: layers per stage whose activations wait in host
            memory (default 0); mtp_modules: multi-token-prediction modules on the last stage, one layer and
            one LM-head pass each (DeepSeek-V3: 1; default 0).
        tp, pp, ep, dp, cp, vpp, micro_batch, zero, recompute, precision: restrict a decision to a value or
            a list of values.
        target_tokens_per_s: a tokens/s floor; deadline_days: with train_tokens, the floor that finishes
            in time (days). top, solver, time_limit_s, export_mps, export_lp: as in `plan`.

    Returns:
        The chosen layout's keys at top level (``plan``, ``tokens_per_s``, ``mfu``, ``step_time_s``,
        ``time_to_train_s``, ``verification``, ...), ``scenario``, ``search_space`` and ``alternatives``.

    Raises:
        InputError (bad workload, target and deadline both given), InfeasibleError (nothing fits in
        memory or meets the floor), CatalogueError, ModelError.
    """
    options = dict(locals())
    from planner.studies.training import plan_document
    return plan_document("max_tokens_per_s", **options)


def train_min_gpus(**options) -> dict:
    """The fewest GPUs whose training job reaches a tokens/s target (``rackplan train min-gpus``).

    Args:
        options: `train_plan`'s keyword arguments; give ``target_tokens_per_s``, or ``train_tokens`` with
            ``deadline_days``. The budget is the cap searched (default 1024 racks).

    Returns:
        The document of `train_plan`, with ``objective`` ``"min_gpus"``.

    Raises:
        InputError when no target is given; InfeasibleError when the cap cannot reach it; as `train_plan`.
    """
    from planner.studies.training import plan_document
    _check(train_plan, options)
    return plan_document("min_gpus", **options)


def train_evaluate(*, model, system=None, gpu=None, fabric=None, preset=None, global_batch=None, seq_len=None,
                   optimiser=None, train_tokens=None, dp_overlap=None, tp_overlap=None, ep_overlap=None,
                   jitter_cv=None, stage_trim=None, ep_node_limit=None, fp8_act_cache=None, offload_layers=None,
                   mtp_modules=None, tp=None, pp=None, ep=None,
                   dp=None, cp=None, vpp=None, micro_batch=None, recompute=None, zero=None, precision=None,
                   allow_span=False, catalogue_dirs=()) -> dict:
    """Score one training layout with the evaluator (``rackplan train evaluate``).

    Args:
        model, system or gpu (required), fabric, preset, the workload figures, allow_span, catalogue_dirs:
            as in `train_plan`.
        tp, pp, ep, dp, cp, vpp, micro_batch (default 1 each), zero (ZeRO stage, default 1), recompute
            (default ``"selective"``), precision (default ``"bf16"``): one value each.

    Returns:
        ``plan`` and the evaluator's keys: ``feasible``, ``reasons``, tokens/s, step time (s), ``mfu``,
        the time split (s), bounds, fabric load (GB/s), memory per GPU (bytes), power (kW).

    Raises:
        InputError (missing model or hardware, unknown recompute mode, ZeRO stage out of range),
        CatalogueError, ModelError.
    """
    options = dict(locals())
    from planner.studies.training import evaluation
    return evaluation(**options)


_GRID_AXES = ("models", "systems", "gpus", "racks", "gpu_budgets", "tokens_cached", "isl", "osl", "arrivals",
              "quants", "fabrics", "serving", "min_tok_per_user")


def _check(function, options: dict) -> None:
    """Refuse keywords ``function`` does not take, as a call to it would."""
    import inspect
    unknown = set(options) - set(inspect.signature(function).parameters)
    if unknown:
        raise TypeError(f"{function.__name__}() got unexpected keyword arguments {sorted(unknown)}")
