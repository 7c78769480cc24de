"""Prompt work an aggregated-serving step carries (``planner.serving.aggregated``, its module docstring): the
prompts interleaved into an average decode step by Little's law, and their share on the busiest attention group."""

from __future__ import annotations

import numpy as np

from planner.serving.layout import Layout
from specbase.record import record


@record
class PromptWork:
    """Prompt work one iteration carries on one micro-batch (arrays over rows, or scalars where every row carries
    the same: the own prefill's chunk and a full budget, :func:`serving`).

    Attributes:
        group_tokens: prompt tokens in the busiest attention group (on average).
        stage_tokens: prompt tokens through the stage's routed experts, all groups (on average).
        prompts_per_group: prompts of that group whose last token is in this iteration
            (rows of the LM head; fractional on average).
        attention_flop: causal attention FLOPs of the group's prompt tokens, all layers.
        chunk_tokens: tokens of the real chunk behind the average (sets the experts it hits
            and its EP imbalance); ``stage_tokens / chunk_tokens`` chunks join each step.
    """

    group_tokens: np.ndarray
    stage_tokens: np.ndarray
    prompts_per_group: np.ndarray
    attention_flop: np.ndarray
    chunk_tokens: np.ndarray


def interleaved_prompt_tokens(batch: np.ndarray, isl: float, steps: float | np.ndarray) -> np.ndarray:
    """Prompt tokens an average decode step carries: ``batch x isl / steps``.

    ``steps`` is a request's lifetime in decode steps, ``osl - 1 + TTFT / TPOT`` (``osl``
    when TTFT is short). E.g. 64 requests of 4,096 in / 128 out: ``64 x 4096 / 128 = 2,048``.
    """
    return np.asarray(batch, dtype=float) * isl / steps


def prompt_tokens_per_step(batch, isl, osl, tpot_s, ttft_s) -> np.ndarray:
    """:func:`interleaved_prompt_tokens` of runs (measured or predicted) from their own TPOT and TTFT: a lifetime of
    ``osl - 1 + TTFT / TPOT`` steps. E.g. 64 requests of 2,048 in / 128 out at TTFT 817.8 ms and TPOT 98.45 ms:
    ``64 x 2048 / (127 + 8.31) = 968.7``."""
    return interleaved_prompt_tokens(np.asarray(batch, float), np.asarray(isl, float),
                                     np.asarray(osl, float) - 1.0 + np.asarray(ttft_s) / np.asarray(tpot_s))


def critical_group_tokens(stage_tokens: np.ndarray, chunk: float, dp: np.ndarray) -> np.ndarray:
    """Prompt tokens per step on the busiest attention-DP group: ``max(P / dp, min(P, chunk))``.

    Attention-DP ranks run each step in lockstep (every MoE layer's collectives wait for all
    of them), and a prompt is prefilled in whole chunks on one rank. When the stage's ``P``
    prompt tokens per step are fewer than a chunk, a chunk lands on one rank every
    ``chunk / P`` steps while the others wait for it, so the step carries ``P`` tokens on its
    critical path, not ``P / dp``; only when every rank has a chunk in most steps
    (``P >= dp x chunk``) is the work spread evenly. E.g. 32 requests of 8,192 in / 1,024 out
    on 4 ranks: ``P = 256`` tokens per step, on the critical path 256, not 64. ``dp = 1``:
    ``P``, unchanged.
    """
    return np.maximum(stage_tokens / dp, np.minimum(stage_tokens, chunk))


def steady_work(lay: Layout, isl: int, chunk: float, steps_per_life: np.ndarray, prefill_attention_flop: float,
                 during_decode: np.ndarray) -> tuple[PromptWork, np.ndarray]:
    """An average decode step's prompt work and the instance's prompt tokens per step at ``steps_per_life``
    (``during_decode``: the share of the other prompts' work inside a request's decode steps, per row;
    ``planner.serving.aggregated.queued_prompts``)."""
    per_step = interleaved_prompt_tokens(lay.batch, isl, steps_per_life) * during_decode
    prompts = lay.batch / steps_per_life * during_decode  # prompts finishing per step, instance
    stage_tokens = per_step / lay.pp
    group_share = np.divide(critical_group_tokens(stage_tokens, chunk, lay.dp), stage_tokens,  # of the stage's
                            out=np.ones_like(stage_tokens), where=stage_tokens > 0)  # prompts (a burst of one: none)
    return PromptWork(
        group_tokens=stage_tokens * group_share,
        stage_tokens=stage_tokens,
        prompts_per_group=(per_group := prompts / lay.pp * group_share),
        attention_flop=per_group * prefill_attention_flop,
        chunk_tokens=chunk,  # the same on every row (a scalar: the same figures, one array less per round)
    ), per_step
