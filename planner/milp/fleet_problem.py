"""The fleet MILP's input as plain numbers: columns, hardware kinds, models (numpy only).

Everything the fleet formulation, its brute-force oracle and its verifier agree on lives
here, so a test can build a problem from random numbers and hand the same object to all
three. Units are SI (bytes/s, watts, tokens/s); prices are per GPU-hour in the fleet
file's currency.

Roles: ``agg`` instances prefill and decode their own requests (aggregated serving);
``prefill`` instances only prefill and hand each request's KV cache to a ``decode``
instance (disaggregated serving). A column is one candidate instance type of one model,
on one hardware kind, in one role; the MILP chooses how many instances of each to run.

Packing (exact, no approximation): an instance never straddles two scale-up domains, and
instance sizes are powers of two. For sizes that divide one another, a multiset of
instances fits a kind's domains (``D`` full ones of ``S`` GPUs and one partial of ``R``)
if and only if, for every size ``s`` in use, the instances of ``s`` or more GPUs take no
more than ``s x slots(s)`` GPUs, where ``slots(s) = D floor(S/s) + floor(R/s)``.
Necessity: in one domain, instances of ``s`` or more GPUs sum to a multiple of ``s``.
Sufficiency: place sizes largest first; before size ``s`` is placed every domain's load is
a multiple of ``s``, so the free ``s``-slots add up to ``slots(s)`` minus the larger
instances' GPUs over ``s``. For one instance type this is ``planner.budget.max_instances``.
"""

from __future__ import annotations

from dataclasses import field

import numpy as np

from planner.serving.plan import Plan
from specbase.record import record

ROLES = ("agg", "prefill", "decode")
AGG, PREFILL, DECODE = range(3)
OBJECTIVES = ("min_gpus", "min_cost", "min_power", "max_tps")


def is_power_of_two(n: np.ndarray) -> np.ndarray:
    """True where ``n`` is 1, 2, 4, 8, ..."""
    n = np.asarray(n, dtype=np.int64)
    return (n > 0) & ((n & (n - 1)) == 0)


@record
class KindData:
    """One hardware kind of the fleet.

    Attributes:
        label: name in reports and constraint names (``[a-z0-9_]``).
        gpus: GPUs the fleet holds of this kind.
        domain_gpus: GPUs of one scale-up domain.
        power_w_per_gpu: power charged per GPU in use, watts.
        price_per_gpu_hour: price per GPU in use per hour (``None``: not given).
        fabric_bytes_per_s: per-GPU, per-direction link rate of each tier (3,), bytes/s.
    """

    label: str
    gpus: int
    domain_gpus: int
    power_w_per_gpu: float
    price_per_gpu_hour: float | None
    fabric_bytes_per_s: np.ndarray

    def slots(self, size: int) -> int:
        """Instances of ``size`` GPUs that pack into this kind alone (module docstring)."""
        full, rest = divmod(int(self.gpus), int(self.domain_gpus))
        return full * (self.domain_gpus // int(size)) + rest // int(size)

    @property
    def fabric_capacity_bytes_per_s(self) -> np.ndarray:
        """Summed link capacity per tier and direction over all the kind's GPUs (3,)."""
        return np.asarray(self.fabric_bytes_per_s, dtype=float) * self.gpus


@record
class ModelData:
    """One served model's demand.

    Attributes:
        label: name in reports and constraint names.
        isl, osl: prompt and output tokens per request (``None`` for steady-state decode).
        target_tps: output tokens/s the model must get (``None``: no floor).
        weight: value of one output token/s in the weighted-throughput objective.
        share: fixed share of the fleet's output tokens (all models or none give one).
        kv_bytes_per_request: KV-cache bytes one request hands from prefill to decode at
            the end of its prompt, keyed by KV quantisation index (a disaggregated pool pair
            shares one KV format).
    """

    label: str
    isl: int | None = None
    osl: int | None = None
    target_tps: float | None = None
    weight: float = 1.0
    share: float | None = None
    kv_bytes_per_request: dict[int, float] = field(default_factory=dict)


@record
class Columns:
    """One entry per MILP column (candidate instance type), numpy arrays of equal length.

    Attributes:
        names: deterministic ``[a-z0-9_]`` names.
        model, kind, role, kv_quant: indices (role into ``ROLES``; kv_quant into ``quant.MODE_NAMES``).
        gpus: GPUs per instance (powers of two).
        rate: tokens/s one instance serves: output tokens for agg and decode, prompt tokens for prefill.
        fabric_load: (3, n) bytes/s one instance puts on each tier (each direction).
        max_instances: upper bound on the count (packing, budgets, demand).
        plans: the instance's plan (one instance), for reports and re-scoring.
    """

    names: list[str]
    model: np.ndarray
    kind: np.ndarray
    role: np.ndarray
    kv_quant: np.ndarray
    gpus: np.ndarray
    rate: np.ndarray
    fabric_load: np.ndarray
    max_instances: np.ndarray
    plans: list[Plan]

    def __len__(self) -> int:
        return len(self.names)

    def take(self, index: np.ndarray) -> Columns:
        """Columns ``index`` (integer array), in that order."""
        idx = np.asarray(index, dtype=np.int64)
        return Columns(names=[self.names[i] for i in idx], model=self.model[idx], kind=self.kind[idx],
                       role=self.role[idx], kv_quant=self.kv_quant[idx], gpus=self.gpus[idx], rate=self.rate[idx],
                       fabric_load=self.fabric_load[:, idx], max_instances=self.max_instances[idx],
                       plans=[self.plans[i] for i in idx])


@record
class FleetProblem:
    """Columns plus right-hand sides and the objective (one of ``OBJECTIVES``)."""

    kinds: tuple[KindData, ...]
    models: tuple[ModelData, ...]
    columns: Columns
    objective: str
    max_power_w: float | None = None
    max_cost_per_hour: float | None = None

    def power_w(self) -> np.ndarray:
        """Power of one instance of each column, watts."""
        per_gpu = np.array([k.power_w_per_gpu for k in self.kinds])
        return self.columns.gpus * per_gpu[self.columns.kind]

    def cost_per_hour(self) -> np.ndarray:
        """Price of one instance of each column per hour (0 where the kind has no price)."""
        per_gpu = np.array([k.price_per_gpu_hour or 0.0 for k in self.kinds])
        return self.columns.gpus * per_gpu[self.columns.kind]

    def commodities(self) -> list[tuple[int, int]]:
        """(model, kv quant) pairs with both prefill and decode columns: the KV flows' kinds."""
        c = self.columns
        out = []
        for m in range(len(self.models)):
            for q in sorted(set(c.kv_quant[(c.model == m) & (c.role == PREFILL)].tolist())):
                if np.any((c.model == m) & (c.role == DECODE) & (c.kv_quant == q)):
                    out.append((m, int(q)))
        return out

    def flow_kinds(self, m: int, q: int, role: int) -> list[int]:
        """Kinds holding columns of model ``m``, KV format ``q`` and ``role``."""
        c = self.columns
        sel = (c.model == m) & (c.kv_quant == q) & (c.role == role)
        return sorted(set(c.kind[sel].tolist()))

    def packing_sizes(self, k: int) -> list[int]:
        """Distinct instance sizes of kind ``k``'s columns: one packing constraint each."""
        return sorted(set(self.columns.gpus[self.columns.kind == k].tolist()))

    def binding_packing_sizes(self, k: int) -> list[int]:
        """The sizes of ``packing_sizes`` whose constraint a smaller size's does not imply.

        The row of ``s`` sums the GPUs of instances of ``s`` or more, a part of what the row of any
        smaller ``s'`` sums, so it holds whenever that one does and ``s' x slots(s') <= s x slots(s)``
        (e.g. on two full 72-GPU domains every size's bound is 144 GPUs: only the smallest size's row
        can bind). Leaving the implied rows out changes no feasible count vector.
        """
        kind, out, tightest = self.kinds[k], [], np.inf
        for s in self.packing_sizes(k):
            if s * kind.slots(s) < tightest:
                out.append(s)
                tightest = s * kind.slots(s)
        return out

    def most_gpus(self, k: int) -> int:
        """Most GPUs of kind ``k`` the columns can take together: the smallest size's packing bound."""
        sizes = self.packing_sizes(k)
        return sizes[0] * self.kinds[k].slots(sizes[0]) if sizes else 0


def packing_slack(kind: KindData, sizes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """GPU slack of each threshold ``s`` in ``sizes``: ``s x slots(s) - GPUs of instances >= s``.

    ``sizes`` and ``counts`` give instance sizes and how many of each; the packing holds
    when every entry is >= 0 (module docstring).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    out = []
    for s in sorted(set(sizes.tolist())):
        used = int(np.sum(sizes[sizes >= s] * counts[sizes >= s]))
        out.append(s * kind.slots(s) - used)
    return np.array(out, dtype=np.int64)


def first_fit_decreasing(kind: KindData, sizes: list[int]) -> int | None:
    """Place instances of ``sizes`` GPUs into the kind's domains, largest first.

    Returns the GPUs left free, or ``None`` when some instance does not fit. An independent
    check of the packing constraints (it places instances; it never uses ``slots``).
    """
    full, rest = divmod(int(kind.gpus), int(kind.domain_gpus))
    free = [kind.domain_gpus] * full + ([rest] if rest else [])
    for size in sorted(sizes, reverse=True):
        for i, room in enumerate(free):
            if room >= size:
                free[i] = room - size
                break
        else:
            return None
    return int(sum(free))
