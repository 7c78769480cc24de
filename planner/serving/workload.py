"""Workloads: what the served sequences look like.

Two views:

* steady-state decode with ``tokens_cached`` tokens of context per sequence (the seed notes'
  view: every sequence in the batch is mid-generation at that context length);
* ``isl``/``osl`` requests (prompt and output lengths): decode runs at the average context
  ``isl + osl / 2`` and the KV cache must hold ``isl + osl`` tokens per sequence; the prompt
  is prefilled first (time to first token).

``isl``/``osl`` requests arrive in one of two ways (``arrivals``): ``steady``, a closed loop that keeps the
batch in flight, each finished request replaced by a new one (a serving deployment's steady state, the
default); or ``burst``, the whole batch sent at once and served to the end (a batch job's start, or a
benchmark that sends one wave of its concurrency): every prompt queues behind those sent before it
(``planner.serving.aggregated``, Burst).
"""

from __future__ import annotations

from specbase.checks import choice, integer, spec

# No model has a context near this; a larger value is a typo, and would overflow int64 KV sizes.
MAX_TOKENS = 100_000_000
ARRIVALS = ("steady", "burst")


@spec
class Workload:
    """Sequence shape of the served traffic: a frozen record whose fields are checked when it is built
    (`specbase.checks`; a wrong value raises ``FieldError``, a wrong combination ``ValueError``).

    Attributes:
        tokens_cached: context tokens per sequence in steady-state decode.
        isl: prompt (input sequence) length in tokens.
        osl: output sequence length in tokens.
        arrivals: ``steady`` (a closed loop keeps the batch in flight) or ``burst`` (the batch arrives at once);
            isl/osl workloads only (module docstring).
    """

    tokens_cached: int | None = integer(ge=0, le=MAX_TOKENS, default=None)
    isl: int | None = integer(ge=1, le=MAX_TOKENS, default=None)
    osl: int | None = integer(ge=1, le=MAX_TOKENS, default=None)
    arrivals: str = choice(ARRIVALS, default="steady")

    def __post_init__(self) -> None:
        has_io = self.isl is not None or self.osl is not None
        if self.tokens_cached is not None and has_io:
            raise ValueError("give either tokens_cached or isl/osl, not both")
        if has_io and (self.isl is None or self.osl is None):
            raise ValueError("isl and osl go together: give both")
        if self.tokens_cached is None and not has_io:
            raise ValueError("give tokens_cached, or isl and osl")
        if self.burst and not has_io:
            raise ValueError("arrivals = 'burst' needs isl and osl (a steady-state decode has no arrivals)")

    @property
    def burst(self) -> bool:
        """True when the batch arrives at once (``arrivals = 'burst'``)."""
        return self.arrivals == "burst"

    @property
    def has_prefill(self) -> bool:
        """True for isl/osl workloads (time to first token is modelled)."""
        return self.isl is not None

    @property
    def decode_context_tokens(self) -> float:
        """Average context a decode step attends to, in tokens."""
        if self.tokens_cached is not None:
            return float(self.tokens_cached)
        return self.isl + self.osl / 2.0

    @property
    def kv_context_tokens(self) -> float:
        """Context each sequence's KV cache must hold at its largest, in tokens."""
        if self.tokens_cached is not None:
            return float(self.tokens_cached)
        return float(self.isl + self.osl)

    def label(self) -> str:
        """Short text for tables, e.g. ``ctx 8192``, ``1024/1024`` or ``1024/1024, one burst``."""
        if self.tokens_cached is not None:
            return f"ctx {self.tokens_cached}"
        return f"{self.isl}/{self.osl}" + (", one burst" if self.burst else "")
