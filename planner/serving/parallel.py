"""Parallel layout rules: the one place that says which (tp, pp, ep, dp) a model admits.

Semantics (per instance, see README "Parallel layout"):

* ``tp``: tensor parallel degree of attention (and dense FFN) inside one attention group.
* ``dp``: attention data-parallel groups inside the instance (TensorRT-LLM's attention DP);
  each holds a full copy of attention weights and its own share of the sequences.
* ``pp``: pipeline stages; each stage holds ``ceil(layers / pp)`` layers at most.
* ``ep``: expert parallel degree over the ``tp * dp`` GPUs of a stage; each routed expert
  is tensor-split over ``moe_tp = tp * dp / ep`` GPUs.

GPUs per instance = ``tp * pp * dp``. DEP-n (attention DP n + EP n) is ``tp=1, dp=n, ep=n``.

Rules (each applied both by the plan validator and the candidate filter):

* tp divides ``num_attention_heads``; tp divides ``num_key_value_heads`` or the KV heads
  divide tp (then KV heads are replicated ``tp / kv_heads`` times). MLA has no KV-head split.
* pp <= ``num_hidden_layers`` (uneven splits allowed; the slowest stage sets the pace).
* ep divides the number of routed experts and divides ``tp * dp``; dense models need ep = 1.
* batch >= ``dp * pp`` so that each attention group has a sequence in every micro-batch.
"""

from __future__ import annotations

import numpy as np

from models.spec import ModelSpec


def kv_split(model: ModelSpec, tp: np.ndarray) -> np.ndarray:
    """Number of distinct shares the KV cache is split into across a TP group.

    GQA: ``min(tp, num_key_value_heads)`` (beyond that, KV heads are replicated).
    MLA: 1 (the compressed latent is shared by all heads, so every TP rank holds it all).
    """
    tp = np.asarray(tp)
    if model.mla is not None:
        return np.ones_like(tp)
    return np.minimum(tp, model.num_key_value_heads)


def layout_mask(model: ModelSpec, tp, pp, ep, dp, batch) -> np.ndarray:
    """Vectorised validity of layouts (True where every rule holds)."""
    tp, pp, ep, dp, batch = (np.asarray(a, dtype=np.int64) for a in (tp, pp, ep, dp, batch))
    ok = (tp >= 1) & (pp >= 1) & (ep >= 1) & (dp >= 1) & (batch >= 1)
    ok &= model.num_attention_heads % tp == 0
    if model.mla is None:
        kvh = model.num_key_value_heads
        ok &= (kvh % tp == 0) | (tp % kvh == 0)
    ok &= pp <= model.num_hidden_layers
    if model.moe is None:
        ok &= ep == 1
    else:
        ok &= model.moe.num_experts % ep == 0
        ok &= (tp * dp) % ep == 0
    ok &= batch >= dp * pp
    return ok


def layout_reasons(model: ModelSpec, tp: int, pp: int, ep: int, dp: int, batch: int) -> list[str]:
    """Human-readable reasons why one layout breaks the rules (empty when valid)."""
    reasons = []
    for name, value in (("tp", tp), ("pp", pp), ("ep", ep), ("dp", dp), ("batch", batch)):
        if value < 1:
            reasons.append(f"{name} must be >= 1 (got {value})")
    if reasons:
        return reasons
    heads = model.num_attention_heads
    if heads % tp:
        reasons.append(f"tp {tp} does not divide num_attention_heads {heads}")
    if model.mla is None:
        kvh = model.num_key_value_heads
        if kvh % tp and tp % kvh:
            reasons.append(f"tp {tp} and num_key_value_heads {kvh}: neither divides the other")
    if pp > model.num_hidden_layers:
        reasons.append(f"pp {pp} exceeds num_hidden_layers {model.num_hidden_layers}")
    if model.moe is None:
        if ep != 1:
            reasons.append(f"ep {ep} on a dense model: ep must be 1")
    else:
        if model.moe.num_experts % ep:
            reasons.append(f"ep {ep} does not divide the {model.moe.num_experts} routed experts")
        if (tp * dp) % ep:
            reasons.append(f"ep {ep} does not divide tp x dp = {tp * dp}")
    if batch < dp * pp:
        reasons.append(f"batch {batch} is below dp x pp = {dp * pp} (one sequence per group and micro-batch)")
    return reasons


def moe_tp(tp, dp, ep):
    """Tensor split of each routed expert: ``tp * dp / ep``."""
    return np.asarray(tp) * np.asarray(dp) // np.asarray(ep)


def layers_per_stage(model: ModelSpec, pp) -> np.ndarray:
    """Layers on the slowest pipeline stage: ``ceil(num_hidden_layers / pp)``."""
    pp = np.asarray(pp)
    return -(-model.num_hidden_layers // pp)


def divisors(n: int, limit: int | None = None) -> list[int]:
    """Positive divisors of ``n`` (up to ``limit``), ascending."""
    limit = n if limit is None else min(n, limit)
    return [d for d in range(1, limit + 1) if n % d == 0]
