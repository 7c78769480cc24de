"""Every command-line option, defined once, in groups: one decorator per group.

Options default to ``None`` ("not given"): the library fills in its defaults
(``planner.studies.serving``, ``planner.training.resolve``), so a default is written in one place;
the help texts quote them from there. Parameter names are the public API's keyword names
(``planner.plan(max_tpot_ms=...)``), so a command hands its options to the API as they are.
Lists take one parser, `comma_list`.
"""

from __future__ import annotations

import click

# emit and pass_catalogue are re-exported: the command modules take every shared option from here
from planner.cli.output import (  # noqa: F401
    emit,
    format_option,
    group,
    html_format_option,
    pass_catalogue,
    report_output_option,
)
from planner.cli.types import (
    FRACTION,
    MAX_BASELINE,
    MAX_POINTS,
    MAX_RACKS,
    MAX_TOKENS,
    MAX_TOP,
    MAX_TRAIN_TOKENS,
    NAME,
    NON_NEGATIVE,
    POSITIVE,
    TOKENS,
    Count,
    FiniteFloat,
    MarginType,
    output_option,
)
from planner.milp.solve import SOLVERS
from planner.quant import MODE_NAMES
from planner.report.tables import FORMATS
from planner.serving.space import DEFAULT_MAX_BATCH
from planner.serving.workload import ARRIVALS
from planner.studies.serving import (
    DEFAULT_MIN_GPUS_RACKS,
    DEFAULT_MODEL,
    DEFAULT_SYSTEM,
    DEFAULT_TOKENS_CACHED,
    DEFAULT_TOP,
)


def comma_list(cast: click.ParamType):
    """A click callback reading ``2,4`` as ``(2, 4)``, each item checked by ``cast`` (``None``: not given)."""
    def callback(ctx, param, value):
        if value is None:
            return None
        try:
            items = tuple(cast.convert(v.strip(), param, ctx) for v in value.split(",") if v.strip())
        except click.BadParameter as exc:
            raise click.BadParameter(f"expected a comma-separated list, got '{value}': {exc.message}", ctx,
                                     param) from None
        if not items:
            raise click.BadParameter(f"expected a comma-separated list, got '{value}'", ctx, param)
        return items
    return callback


def listed(name: str, *decls, cast: click.ParamType = NAME, help: str):
    """An option taking a comma-separated list."""
    return click.option(name, *decls, callback=comma_list(cast), default=None, metavar="LIST", help=help)


def given(options: dict) -> dict:
    """The options the user gave (``None``: not given, the library's default applies)."""
    return {k: v for k, v in options.items() if v is not None}


# --- what runs where -------------------------------------------------------------------------------------------

model_option = click.option("--model", type=NAME, default=None,
                            help="Model name, Hugging Face id, or path to a config.json.")

hardware_options = group(
    click.option("--system", type=NAME, default=None, help="System name (see `rackplan systems`), e.g. gb200-nvl72."),
    click.option("--gpu", type=NAME, default=None,
                 help="GPU name (see `rackplan gpus`); uses that GPU's default system."),
    click.option("--fabric", type=NAME, default=None,
                 help="Replace every fabric tier with this fabric (e.g. 400gbe), or 'default'."),
    click.option("--preset", type=NAME, default=None,
                 help="Apply a catalogue preset; 'seed' sets the seed notes' sustained decode TFLOP/s."),
)

span_option = click.option("--allow-span", is_flag=True, default=False,
                           help="Let an instance cross its scale-up domain; the traffic is charged to the slower tier.")

workload_options = group(
    click.option("--tokens-cached", type=Count(0, MAX_TOKENS), default=None,
                 help="Steady-state decode: tokens of context per sequence."),
    click.option("--isl", type=TOKENS, default=None, help="Prompt length in tokens."),
    click.option("--osl", type=TOKENS, default=None, help="Output length in tokens."),
)

arrivals_option = click.option(
    "--arrivals", type=click.Choice(ARRIVALS), default=None,
    help="How isl/osl requests arrive: steady (a closed loop keeps the batch in flight; default) or burst (the "
         "whole batch at once, served to the end: TTFT is the burst's prefill queue).")

engine_choice = group(
    click.option("--engine", "engine_name", type=NAME, default=None,
                 help="Serving-engine profile (default, trtllm, vllm, sglang)."),
    click.option("--profile", "profile_path", type=click.Path(dir_okay=False), default=None,
                 help="Engine profile TOML (e.g. written by `rackplan calibrate`); overrides --engine."),
)
long_context_option = click.option(
    "--allow-long-context", is_flag=True, default=False,
    help="Accept a context longer than the model's max_position_embeddings (a what-if).")
engine_options = group(
    engine_choice,
    span_option,
    long_context_option,
    click.option("--seed-moe", is_flag=True, default=False,
                 help="Use the seed notes' MoE approximation (12 % shared / 88 % experts) for active parameters."),
)

# --- budgets, pins, limits, solver ------------------------------------------------------------------------------

budget_options = group(
    click.option("--racks", type=Count(1, MAX_RACKS), default=None, help="Budget in racks (default 1)."),
    click.option("--gpus", "gpus", type=Count(), default=None, help="Budget in GPUs."),
)

power_option = click.option("--max-kw", type=POSITIVE, default=None, help="Board-power cap over all GPUs in use, kW.")

layout_pins = group(
    listed("--tp", cast=Count(), help="Pin tensor-parallel degree(s), e.g. 4 or 2,4."),
    listed("--pp", cast=Count(), help="Pin pipeline stages."),
    listed("--ep", cast=Count(), help="Pin expert-parallel degree(s)."),
    listed("--dp", cast=Count(), help="Pin attention data-parallel degree(s)."),
)

serving_pins = group(
    listed("--batch", cast=Count(), help="Pin batch size(s) per instance."),
    listed("--kv-quant", help="KV-cache quantisation(s) to consider."),
    listed("--kv-offload-fraction", cast=FRACTION, help="KV-offload level(s), e.g. 0 or 0,0.25,0.5."),
    click.option("--max-batch", type=Count(), default=None,
                 help="Largest batch of the search space (default: the engine's own maximum, vLLM 1024 and "
                      f"TensorRT-LLM 2048 sequences; {DEFAULT_MAX_BATCH} for the default and SGLang profiles)."),
)

latency_options = group(
    click.option("--max-tpot-ms", type=POSITIVE, default=None, help="Time-per-output-token ceiling, ms."),
    click.option("--max-ttft-ms", type=POSITIVE, default=None,
                 help="Time-to-first-token ceiling, ms (isl/osl workloads)."),
)

floor_option = click.option("--min-tok-per-user", type=POSITIVE, default=None,
                            help="Per-user decode speed floor, tokens/s (TPOT <= 1/X).")

# plan and min-gpus also write one self-contained HTML page (planner.report.html).
plan_format_option = group(
    click.option("--format", "fmt", type=click.Choice((*FORMATS, "html")), default="table", show_default=True,
                 help="Output format: text table, markdown, CSV, JSON (JSON prints nothing else) or one "
                      "self-contained HTML page (tables, charts, why this plan)."),
    report_output_option,
)

# plan, min-gpus and compare: headroom under the latency limits (planner.serving.margin.Margin).
latency_margin_option = click.option(
    "--latency-margin", type=MarginType(), default=None,
    help="Headroom under each latency limit for the cost model's error: percent of the prediction, or p90, the "
         "engine profile's 90th-percentile error on model families its fit never saw (with --disagg, TPOT's on "
         "measured decode pools where recorded; rackplan show engine NAME).")

# plan and min-gpus: isl/osl workloads get default limits (planner.studies.serving), 0 lifts one.
plan_latency_options = group(
    click.option("--min-tok-per-user", type=NON_NEGATIVE, default=None,
                 help="Per-user decode speed floor, tokens/s (TPOT <= 1/X). isl/osl default: 12.5 unless "
                      "--max-tpot-ms is given; 0 lifts it."),
    click.option("--max-tpot-ms", type=POSITIVE, default=None, help="Time-per-output-token ceiling, ms."),
    click.option("--max-ttft-ms", type=NON_NEGATIVE, default=None,
                 help="Time-to-first-token ceiling, ms (isl/osl workloads; default 2,000, 0 lifts it)."),
    latency_margin_option,
)

solver_options = group(
    click.option("--solver", type=click.Choice(SOLVERS), default=None, help="MILP solver (default highs)."),
    click.option("--time-limit", "time_limit_s", type=POSITIVE, default=None,
                 help="Solver time limit per solve, seconds."),
)

result_options = group(
    click.option("--top", type=Count(1, MAX_TOP), default=None,
                 help=f"Show the optimum and the next best distinct plans, K rows in all (default {DEFAULT_TOP}, "
                      f"at most {MAX_TOP}: each row is one more solve)."),
    output_option("--export-mps", help="Write the MILP as MPS."),
    output_option("--export-lp", help="Write the MILP as LP."),
)

# --- the serving planner: plan, min-gpus ------------------------------------------------------------------------

plan_options = group(
    model_option, hardware_options, workload_options, arrivals_option, budget_options, layout_pins, serving_pins,
    listed("--quant", help="Weight quantisation(s) to consider, e.g. fp8 or fp8,fp4."),
    plan_latency_options, power_option, result_options, solver_options, engine_options, plan_format_option,
)
plan_defaults = (f"Defaults: {DEFAULT_MODEL} on one {DEFAULT_SYSTEM} rack, steady-state decode at "
                 f"{DEFAULT_TOKENS_CACHED:,} tokens cached; min-gpus searches up to {DEFAULT_MIN_GPUS_RACKS} racks.")

# --- evaluate: one given serving plan -------------------------------------------------------------------------

evaluate_options = group(
    model_option, hardware_options, workload_options, arrivals_option,
    click.option("--tp", type=Count(), default=None, help="Tensor-parallel degree (default 1)."),
    click.option("--pp", type=Count(), default=None, help="Pipeline stages (default 1)."),
    click.option("--ep", type=Count(), default=None,
                 help="Expert-parallel degree (divides tp x dp; default 1)."),
    click.option("--dp", type=Count(), default=None,
                 help="Attention data-parallel groups inside the instance (default 1)."),
    click.option("--batch", type=Count(), default=None,
                 help="Concurrent sequences per instance (default 1)."),
    click.option("--quant", type=NAME, default=None,
                 help=f"Weight quantisation: {', '.join(MODE_NAMES)} (default bf16)."),
    click.option("--kv-quant", type=NAME, default=None, help="KV-cache quantisation (default bf16)."),
    click.option("--kv-offload-fraction", type=FRACTION, default=None,
                 help="Share of the KV cache kept in host memory and streamed over the host link each step "
                      "(default 0)."),
    click.option("--instances", type=Count(), default=None, help="Model instances (default 1)."),
    engine_options, html_format_option,
)


# The grid commands' groups (compare, frontier) and the training groups quote defaults of stacks a serving
# command never runs (planner.studies.compare and .frontier, planner.training): each set is built on first use
# (the module's __getattr__), so `rackplan plan` imports neither.
GRID_GROUPS = ("grid_options", "floor_axis", "shared_options", "compare_options", "frontier_options")
TRAINING_GROUPS = ("training_workload_options", "training_scenario_options", "RECOMPUTE_HELP", "training_pins",
                   "train_plan_options", "train_defaults", "train_evaluate_options")


# --- compare and frontier: one list per axis ------------------------------------------------------------------

def _grid_groups() -> dict:
    from planner.studies.compare import SERVING
    from planner.studies.frontier import DEFAULT_POINTS

    grid_options = group(
        listed("--model", "models", help=f"Model name(s), comma-separated (default {DEFAULT_MODEL})."),
        listed("--system", "systems",
               help=f"System(s), e.g. gb200-nvl72,mi355x-8,hgx-h200 (default {DEFAULT_SYSTEM})."),
        listed("--gpu", "gpus", help="GPU(s) instead of systems; each uses its default system."),
        listed("--fabric", "fabrics", help="Fabric(s) replacing every tier (intra-server too), e.g. default,400gbe."),
        listed("--racks", cast=Count(1, MAX_RACKS), help="Budget(s) in racks, e.g. 1,2,4 (default 1)."),
        listed("--gpus", "gpu_budgets", cast=Count(), help="Budget(s) in GPUs instead of racks, e.g. 8,16."),
        listed("--tokens-cached", cast=Count(0, MAX_TOKENS),
               help=f"Steady-state decode context(s), e.g. 2048,8192 (default {DEFAULT_TOKENS_CACHED})."),
        listed("--isl", cast=TOKENS, help="Prompt length(s); combined with every --osl."),
        listed("--osl", cast=TOKENS, help="Output length(s)."),
        listed("--arrivals", help="How the --isl/--osl requests arrive: steady (a closed loop; default), burst (each "
                                  "instance's batch at once), or steady,burst for both."),
        click.option("--quant", "quants", multiple=True, default=None,
                     help="A weight-quantisation set searched together, e.g. fp8,fp4; repeat the option for one "
                          "scenario per set: --quant bf16 --quant fp8,fp4 (default: every mode the GPU runs)."),
        listed("--serving", help=f"Serving mode(s): {', '.join(SERVING)} (default agg)."),
    )
    floor_axis = listed("--min-tok-per-user", cast=NON_NEGATIVE,
                        help="Per-user decode floor(s), tokens/s, e.g. 0,20,40 (0: no limit).")
    shared_options = group(layout_pins, serving_pins, latency_options, power_option, solver_options, engine_options)
    compare_options = group(
        grid_options, floor_axis, shared_options,
        click.option("--baseline", type=Count(1, MAX_BASELINE), default=None,
                     help="Row number the ratio columns compare against (default 1)."),
        latency_margin_option,
        html_format_option,
    )
    frontier_options = group(
        grid_options, floor_axis, shared_options,
        click.option("--points", type=Count(2, MAX_POINTS), default=None,
                     help=f"Latency floors planned per line (the unconstrained optimum is the first; "
                          f"default {DEFAULT_POINTS}, at most {MAX_POINTS}: each is one more solve)."),
        output_option("--plot", "plot_path",
                      help="Also draw the chart to FILE.png or FILE.svg (needs the plot extra: matplotlib)."),
        html_format_option,
    )
    found = locals()
    return {name: found[name] for name in GRID_GROUPS}


# --- training ---------------------------------------------------------------------------------------------------

def _training_groups() -> dict:
    from planner.training.resolve import (
        DEFAULT_GLOBAL_BATCH,
        DEFAULT_SEQUENCE_TOKENS,
        DEFAULT_TRAINING_MODEL,
        DEFAULT_TRAINING_SYSTEM,
    )
    from planner.training.resolve import DEFAULT_MIN_GPUS_RACKS as TRAINING_MIN_GPUS_RACKS
    from planner.training.workload import OPTIMISERS, PRECISIONS, RECOMPUTE_MODES

    training_workload_options = group(
        click.option("--global-batch", type=Count(), default=None,
                     help=f"Sequences per optimiser step, all replicas together (default {DEFAULT_GLOBAL_BATCH})."),
        click.option("--seq-len", type=TOKENS, default=None,
                     help=f"Tokens per sequence (default {DEFAULT_SEQUENCE_TOKENS})."),
        click.option("--optimiser", type=click.Choice(tuple(OPTIMISERS)), default=None,
                     help="Optimiser state per parameter: adam 16 B (ZeRO paper), adam-fp32-grads 18 B (Megatron), "
                          "adam-bf16-moments 14 B (DeepSeek-V3), sgd-momentum 12 B (default adam)."),
        click.option("--train-tokens", type=FiniteFloat(min=1, max=MAX_TRAIN_TOKENS), default=None,
                     help="Tokens the whole run consumes: reports time to train."),
        *(click.option(name, type=FRACTION, default=None, help=text) for name, text in (
            ("--dp-overlap", "Share of data-parallel collective time that may hide behind the pass beside it "
                             "(default 1.0)."),
            ("--tp-overlap", "Share of tensor-parallel collective time hidden behind GEMMs (default 0.0)."),
            ("--ep-overlap", "Share of expert all-to-all time hidden behind another micro-batch (DualPipe; "
                             "default 1.0)."),
            ("--jitter-cv", "Per-GPU step-time variation; steps wait for the slowest GPU (default 0.047)."))),
        click.option("--stage-trim", type=click.IntRange(min=0), default=None,
                     help="Layers taken off the first and last pipeline stage (Llama 3: 1; default 0)."),
        click.option("--ep-node-limit", type=click.IntRange(min=1), default=None,
                     help="Node-limited routing: servers one token may reach (DeepSeek-V3: 4; default none)."),
        click.option("--fp8-act-cache", "fp8_act_cache", is_flag=True, default=None,
                     help="FP8 layouts cache MoE SwiGLU inputs in FP8 and attention outputs in E5M6 (DeepSeek-V3)."),
        click.option("--offload-layers", type=click.IntRange(min=0), default=None,
                     help="Layers per pipeline stage whose activations wait in host memory (default 0)."),
        click.option("--mtp-modules", type=click.IntRange(min=0), default=None,
                     help="Multi-token-prediction modules on the last stage (DeepSeek-V3: 1; default 0)."),
    )
    training_scenario_options = group(model_option, hardware_options, span_option, training_workload_options)

    RECOMPUTE_HELP = (f"Activation recomputation: {', '.join(RECOMPUTE_MODES)} "
                      "(selective = fused FlashAttention-style attention).")
    training_pins = group(
        layout_pins,
        listed("--cp", cast=Count(), help="Context-parallel degree(s)."),
        listed("--vpp", cast=Count(), help="Virtual pipeline stages (interleaving) per GPU."),
        listed("--micro-batch", cast=Count(), help="Sequences per micro-batch."),
        listed("--recompute", help=RECOMPUTE_HELP),
        listed("--zero", cast=Count(0), help="ZeRO stage(s) 0-3 (3 = FSDP full sharding)."),
        listed("--precision", help=f"Compute precision(s): {', '.join(PRECISIONS)}."),
    )
    train_plan_options = group(
        training_scenario_options, budget_options, power_option, training_pins,
        click.option("--target-tokens-per-s", type=POSITIVE, default=None,
                     help="Tokens/s the job must reach (min-gpus target; a floor for plan)."),
        click.option("--deadline-days", type=POSITIVE, default=None,
                     help="Finish --train-tokens within this many days (sets the tokens/s target)."),
        result_options, solver_options, html_format_option,
    )
    train_defaults = (f"Defaults: {DEFAULT_TRAINING_MODEL} pre-training on one {DEFAULT_TRAINING_SYSTEM} rack; "
                      f"min-gpus searches up to {TRAINING_MIN_GPUS_RACKS} racks.")

    train_evaluate_options = group(
        training_scenario_options,
        *(click.option(f"--{name}", type=Count(), default=None, help=f"{text} (default 1).")
          for name, text in (("tp", "Tensor-parallel degree"), ("pp", "Pipeline stages"),
                             ("ep", "Expert-parallel degree"), ("dp", "Data-parallel replicas"),
                             ("cp", "Context-parallel degree"), ("vpp", "Virtual pipeline stages per GPU"),
                             ("micro-batch", "Sequences per micro-batch"))),
        click.option("--recompute", type=NAME, default=None, help=RECOMPUTE_HELP[:-1] + " (default selective)."),
        click.option("--zero", type=Count(0), default=None, help="ZeRO stage 0-3 (default 1)."),
        click.option("--precision", type=NAME, default=None,
                     help=f"Compute precision: {', '.join(PRECISIONS)} (default bf16)."),
        html_format_option,
    )
    found = locals()
    return {name: found[name] for name in TRAINING_GROUPS}


_LAZY = {**dict.fromkeys(GRID_GROUPS, _grid_groups), **dict.fromkeys(TRAINING_GROUPS, _training_groups)}


def __getattr__(name: str):
    """A lazily built option group (see `_LAZY`), built with its set on first access."""
    build = _LAZY.get(name)
    if build is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals().update(build())
    return globals()[name]
