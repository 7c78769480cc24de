"""Parallel layout rules: the one place that says which (tp, pp, ep, dp) a model admits.

Semantics (per instance, see README "Parallel layout"):

* ``tp``: tensor parallel degree of attention (and dense FFN) inside one attention group.
* ``dp``: attention data-parallel groups inside the instance (TensorRT-LLM's attention DP);
  each holds a full copy of attention weights and its own share of the sequences.
* ``pp``: pipeline stages; each stage holds ``ceil(layers / pp)`` layers at most.
* ``ep``: expert parallel degree over the ``tp * dp`` GPUs of a stage; each routed expert
  is tensor-split over ``moe_tp = tp * dp / ep`` GPUs.

GPUs per instance = ``tp * pp * dp``. DEP-n (attention DP n + EP n) is ``tp=1, dp=n, ep=n``.

Rules (``RULES``: each written once as a (name, predicate, message) row; the same row gives the
candidate filter its vectorised mask, and ``rackplan evaluate`` (``planner.serving.evaluate.reasons``),
the verifiers and the calibration loader their human reason):

* tp divides ``num_attention_heads``; tp divides ``num_key_value_heads`` or the KV heads
  divide tp (then KV heads are replicated ``tp / kv_heads`` times). MLA has no KV-head split.
* pp <= ``num_hidden_layers`` (uneven splits allowed; the slowest stage sets the pace).
* ep divides the number of routed experts and divides ``tp * dp``; dense models need ep = 1.
* batch >= ``dp * pp`` so that each attention group has a sequence in every micro-batch.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np

from models.spec import ModelSpec
from specbase.record import record


def _always(model: ModelSpec, x) -> bool:
    return True


@record
class Rule:
    """One layout rule.

    ``holds(model, x)`` and ``message(model, x)`` read the layout's decisions as attributes of
    ``x`` (numpy arrays for the mask, integers for one layout; context such as the scale-up
    domain rides along on ``x``); ``holds`` uses only elementwise operators (``%``, comparisons,
    ``&``, ``|``), so one predicate serves both. ``applies(model, x)`` says whether the rule concerns this model and
    question at all (dense or MoE, spanning allowed or not).
    """

    name: str
    holds: Callable
    message: Callable
    applies: Callable = _always


def rule_mask(rules: tuple[Rule, ...], model: ModelSpec, decisions: dict, **context) -> np.ndarray:
    """Vectorised validity of layouts: every decision >= 1 and every applicable rule holding."""
    arrays = {k: np.asarray(v, dtype=np.int64) for k, v in decisions.items()}
    ok = np.ones(np.broadcast(*arrays.values()).shape, bool)
    for a in arrays.values():
        ok &= a >= 1
    # Rows with a decision below 1 are already rejected; clamping keeps the rules' modulo defined (none to clamp
    # where every row holds, the arrays themselves).
    every = bool(ok.all())
    x = SimpleNamespace(**{k: a if every else np.maximum(a, 1) for k, a in arrays.items()}, **context)
    for r in rules:
        if r.applies(model, x):
            ok &= r.holds(model, x)
    return ok


def rule_reasons(rules: tuple[Rule, ...], model: ModelSpec, decisions: dict, **context) -> list[str]:
    """Human-readable reasons why one layout breaks the rules (empty when valid)."""
    low = [f"{k} must be >= 1 (got {v})" for k, v in decisions.items() if v < 1]
    if low:
        return low
    x = SimpleNamespace(**decisions, **context)
    return [r.message(model, x) for r in rules if r.applies(model, x) and not r.holds(model, x)]


def divides(divisor, number):
    """``number % divisor == 0``, elementwise (whole numbers >= 1). Arrays whose products stay below 2^53 are
    tested by their float quotient, whole where (and only where) the divisor divides: numpy's int64 remainder
    ran about twice as long as the quotient, floor and comparison, and ~8x with two arrays (the same booleans: a
    quotient off a whole number by ``r / divisor`` is off it by more than its rounding, ``number x 2^-53``)."""
    if (np.ndim(divisor) == 0 and np.ndim(number) == 0) or np.size(number) == 0 or np.size(divisor) == 0 \
            or float(np.max(number)) * float(np.max(divisor)) >= 2.0 ** 53:
        return number % divisor == 0
    quotient = number / divisor
    return quotient == np.floor(quotient)


def _gqa(model: ModelSpec, x) -> bool:
    return model.mla is None


def _dense(model: ModelSpec, x) -> bool:
    return model.moe is None


def is_moe(model: ModelSpec, x) -> bool:
    """Applies-to test of the rules that concern routed experts."""
    return model.moe is not None


# tp splits attention heads, and KV heads unless MLA: shared with the training rules.
TP_RULES = (
    Rule("attention_heads", lambda m, x: divides(x.tp, m.num_attention_heads),
         lambda m, x: f"tp {x.tp} does not divide num_attention_heads {m.num_attention_heads}"),
    Rule("kv_heads", lambda m, x: divides(x.tp, m.num_key_value_heads) | divides(m.num_key_value_heads, x.tp),
         lambda m, x: f"tp {x.tp} and num_key_value_heads {m.num_key_value_heads}: neither divides the other", _gqa),
)
# ep on a dense model: shared with the training rules.
DENSE_EP_RULE = Rule("dense_ep", lambda m, x: x.ep == 1, lambda m, x: f"ep {x.ep} on a dense model: ep must be 1",
                     _dense)
EXPERTS_RULE = Rule("experts", lambda m, x: divides(x.ep, m.moe.num_experts),
                    lambda m, x: f"ep {x.ep} does not divide the {m.moe.num_experts} routed experts", is_moe)

RULES = TP_RULES + (
    Rule("pipeline_depth", lambda m, x: x.pp <= m.num_hidden_layers,
         lambda m, x: f"pp {x.pp} exceeds num_hidden_layers {m.num_hidden_layers}"),
    DENSE_EP_RULE,
    EXPERTS_RULE,
    Rule("expert_split", lambda m, x: divides(x.ep, x.tp * x.dp),
         lambda m, x: f"ep {x.ep} does not divide tp x dp = {x.tp * x.dp}", is_moe),
    Rule("batch", lambda m, x: x.batch >= x.dp * x.pp,
         lambda m, x: f"batch {x.batch} is below dp x pp = {x.dp * x.pp} (one sequence per group and micro-batch)"),
)


def layout_mask(model: ModelSpec, tp, pp, ep, dp, batch) -> np.ndarray:
    """Vectorised validity of layouts (True where every rule holds)."""
    return rule_mask(RULES, model, dict(tp=tp, pp=pp, ep=ep, dp=dp, batch=batch))


def layout_reasons(model: ModelSpec, tp: int, pp: int, ep: int, dp: int, batch: int) -> list[str]:
    """Human-readable reasons why one layout breaks the rules (empty when valid)."""
    return rule_reasons(RULES, model, dict(tp=tp, pp=pp, ep=ep, dp=dp, batch=batch))
