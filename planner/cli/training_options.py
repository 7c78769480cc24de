"""Training-mode options of ``plan``, ``min-gpus`` and ``evaluate``, defined once.

Decisions are strings so ``plan`` can take comma lists to search over (``--zero 1,3``) while
``evaluate`` takes one value each; `pop_training` separates them from the serving options.
"""

from __future__ import annotations

import click

from planner.training.workload import OPTIMISERS, PRECISIONS, RECOMPUTE_MODES

MODES = ("inference", "training")

mode_option = click.option(
    "--mode", type=click.Choice(MODES), default="inference", show_default=True,
    help="Serve a model (inference) or train it (training: layouts, MFU, memory, time to train).")


def _stack(*decorators):
    def apply(func):
        for deco in reversed(decorators):
            func = deco(func)
        return func
    return apply


training_options = _stack(
    click.option("--global-batch", type=click.IntRange(min=1), default=None,
                 help="[training] Sequences per optimiser step, all replicas together (default 256)."),
    click.option("--seq-len", type=click.IntRange(min=1), default=None,
                 help="[training] Tokens per sequence (default 8192)."),
    click.option("--optimiser", type=click.Choice(tuple(OPTIMISERS)), default=None,
                 help="[training] Optimiser state per parameter: adam 16 B (ZeRO paper), adam-fp32-grads 18 B "
                      "(Megatron), sgd-momentum 12 B (default adam)."),
    click.option("--train-tokens", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="[training] Tokens the whole run consumes: reports time to train."),
    click.option("--dp-overlap", type=click.FloatRange(0.0, 1.0), default=None,
                 help="[training] Share of data-parallel collective time that may hide behind the pass beside it "
                      "(default 1.0)."),
    click.option("--tp-overlap", type=click.FloatRange(0.0, 1.0), default=None,
                 help="[training] Share of tensor-parallel collective time hidden behind GEMMs (default 0.0)."),
    click.option("--cp", default=None, help="[training] Context-parallel degree(s)."),
    click.option("--vpp", default=None, help="[training] Virtual pipeline stages (interleaving) per GPU."),
    click.option("--micro-batch", default=None, help="[training] Sequences per micro-batch."),
    click.option("--recompute", default=None,
                 help=f"[training] Activation recomputation: {', '.join(RECOMPUTE_MODES)} "
                      "(selective = fused FlashAttention-style attention)."),
    click.option("--zero", default=None, help="[training] ZeRO stage(s) 0-3 (3 = FSDP full sharding)."),
    click.option("--precision", default=None, help=f"[training] Compute precision: {', '.join(PRECISIONS)}."),
)

target_options = _stack(
    click.option("--target-tokens-per-s", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="[training] Tokens/s the job must reach (min-gpus target; a floor for plan)."),
    click.option("--deadline-days", type=click.FloatRange(min=0, min_open=True), default=None,
                 help="[training] Finish --train-tokens within this many days (sets the tokens/s target)."),
)

TRAINING_PARAMS = ("global_batch", "seq_len", "optimiser", "train_tokens", "dp_overlap", "tp_overlap", "cp", "vpp",
                   "micro_batch", "recompute", "zero", "precision", "target_tokens_per_s", "deadline_days")
"""Parameter names of the options above (``pop_training`` moves them out of a command's kwargs)."""


def pop_training(kw: dict) -> dict:
    """Remove the training options from ``kw`` and return them."""
    return {name: kw.pop(name) for name in TRAINING_PARAMS if name in kw}
