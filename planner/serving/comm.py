"""Communication of one decode micro-batch on one pipeline stage, per GPU, by fabric tier.

Placement: an instance occupies consecutive GPUs, tensor-parallel ranks innermost, then
attention-DP groups, then pipeline stages. A collective over ``n`` consecutive GPUs runs on
the slowest tier its span crosses: inside a server, across servers of a rack, across racks
(``Hardware.tier_for_span``).

Collectives (activations in bf16), costed by ``planner.engine.collectives`` (bytes per GPU
and latency rounds per kind, the same function training uses):

* Attention (every layer) and dense FFN (dense layers) outputs: all-reduce over ``tp``
  of the group's tokens, ``2 (n-1)/n x message`` bytes sent per GPU.
* MoE layers with ``ep > 1`` and attention data-parallel (``dp > 1``): dispatch and combine
  all-to-all over the stage's ``tp * dp`` GPUs; each GPU sends its ``T / (tp dp)`` tokens' hidden
  vectors to ``k`` experts, of which ``(ep - 1) / ep`` live elsewhere.
* MoE layers with ``moe_tp > 1``: all-reduce of the expert outputs inside each expert's
  tensor-parallel group (``T`` tokens when ``ep == 1``, ``T k / ep`` token-expert pairs otherwise).
* MoE layers with ``ep > 1`` and ``dp == 1`` (the curves; the seed preset keeps the all-to-all): every rank
  holds every token after the attention all-reduce, so none is dispatched; each rank runs its experts'
  share and the summed output is all-reduced over the stage's ``tp`` GPUs (``T`` tokens), as the engines
  do (TensorRT-LLM's MoE communication factory selects no all-to-all without attention DP; vLLM's and
  SGLang's expert-parallel layers reduce over the tensor-parallel group).
* Pipeline: each stage hands its micro-batch's hidden vectors to the next (``1 / tp`` each).

Time: the engine's fitted collective curves (``planner.engine.kernels.comm``, :func:`curve_comm`):
an all-reduce pays a floor growing per doubling of its group plus its ring volume at the fitted
efficiency of the tier's link; a MoE dispatch or combine is ONE exchange (floor plus the rank's
share), not ``log2 n`` rounds. The bytes per tier are the same volumes below. A dense model's two collectives
are charged one by one (:func:`curve_comm`); an MoE model's four are folded into linear functions of the tokens
(:class:`CurveCollectives`), which a candidate table's block of many rows of a few layouts computes once per
distinct layout (``planner.serving.distinct.per_layout``): charged one by one they took 26 % of the evaluator's
MoE decode time, about half that folded.

Seed preset (``Rates.comm_curves is None``): decode uses the ``TREE`` latency model, a
collective over ``n`` GPUs costs ``log2 n`` rounds of its tier's per-message latency (a tree or
recursive-doubling all-reduce takes ``log2 n`` rounds; a one-shot kernel waits on ``n - 1`` peers),
times the engine's
``comm_latency_scale`` (how fast its collective kernels are: custom one-shot all-reduce vs
NCCL); a pipeline hand-off is one message. Decode messages are small, so this term dominates
them; the catalogue's latency is an observed per-message cost (aiconfigurator's ``p2p_latency``).
"""

from __future__ import annotations

import numpy as np

from planner.engine.activations import ACTIVATION_BYTES
from planner.engine.collectives import (
    ALL_REDUCE,
    ALL_TO_ALL,
    NUM_TIERS,
    P2P,
    TREE,
    CollectiveCost,
    bandwidth_factor,
    collective_cost,
)
from planner.engine.kernels.comm import (
    CommTiers,
    allreduce_factors,
    allreduce_line_s,
    group_latency_s,
    latency_and_per_byte,
    oneshot_gap_per_byte,
    p2p_s,
    remote_share,
)
from planner.engine.rates import Rates
from planner.serving.distinct import per_layout, table_values, whole_index
from planner.serving.layout import Layout
from planner.serving.shape import ModelShape
from specbase.record import record


@record
class Comm:
    """Per-GPU traffic of one micro-batch on one stage.

    Attributes:
        bytes_by_tier: shape (3, rows): bytes sent per GPU on each tier (None: left for later,
            ``CurveCollectives.at``).
        time_s: communication time (bandwidth plus latency terms, all tiers in sequence).
        group_tokens, micro_tokens: where the bytes are left for later, the tokens they are of
            (``CurveCollectives.bytes_at`` of them gives them).
    """

    bytes_by_tier: np.ndarray | None
    time_s: np.ndarray
    group_tokens: np.ndarray | None = None
    micro_tokens: np.ndarray | None = None


def comm(shape: ModelShape, lay: Layout, r: Rates, gpus_per_server: int, gpus_per_rack: int) -> Comm:
    """Traffic and time of the collectives of one micro-batch on one stage."""
    if r.comm_curves is not None:
        if not shape.num_moe_layers:  # a dense model's two collectives: cheaper one by one (bench/evaluator.py)
            return curve_comm(shape, lay, r.comm_curves, gpus_per_server, gpus_per_rack)
        # an MoE model's folded (CurveCollectives) on every row, whatever table it is in, so that a row's figures never
        # depend on the rows beside it; once per distinct layout of a large block (per_layout: each row's own bits)
        return per_layout(lambda part: CurveCollectives.of(shape, part, r.comm_curves, gpus_per_server, gpus_per_rack),
                          lay).at(lay.group_tokens, lay.micro_tokens)
    rows = lay.tp.shape[0]
    volume = np.zeros((NUM_TIERS, rows))
    latency = np.zeros((NUM_TIERS, rows))
    hidden_bytes = shape.hidden_size * ACTIVATION_BYTES

    def add(span, cost: CollectiveCost):
        _, at = _tier_of(span, gpus_per_server, gpus_per_rack, rows)
        volume.reshape(-1)[at] += cost.sent_bytes  # (a view: the tiers' rows one after another)
        latency.reshape(-1)[at] += cost.rounds

    # Attention and dense-FFN all-reduce over tp.
    n_allreduce = lay.stage_layers + lay.dense_layers
    add(lay.tp, collective_cost(ALL_REDUCE, lay.tp, lay.group_tokens * hidden_bytes, TREE,
                                calls=n_allreduce * (lay.tp > 1)))

    if shape.num_moe_layers:
        # Expert-parallel dispatch + combine over the stage's GPUs, (ep - 1) / ep of it remote.
        ep_on = lay.ep > 1
        share = lay.micro_tokens / lay.stage_gpus * shape.top_k * hidden_bytes
        add(lay.stage_gpus, collective_cost(ALL_TO_ALL, lay.stage_gpus, share, TREE, calls=2.0 * lay.moe_layers * ep_on,
                                            destinations=lay.ep))
        # Expert tensor-parallel all-reduce.
        pairs = np.where(ep_on, lay.micro_tokens * shape.top_k / lay.ep, lay.micro_tokens)
        add(lay.moe_tp, collective_cost(ALL_REDUCE, lay.moe_tp, pairs * hidden_bytes, TREE,
                                        calls=lay.moe_layers * (lay.moe_tp > 1)))

    # Pipeline hand-off to the next stage (its span reaches into the next stage's GPUs).
    add(2.0 * lay.stage_gpus, collective_cost(P2P, 2.0, lay.group_tokens * hidden_bytes / lay.tp, TREE,
                                              calls=(lay.pp > 1).astype(float)))

    time = CollectiveCost(volume, latency).time_s(r.fabric_bytes_per_s[:, None], r.fabric_latency_s[:, None])
    return Comm(bytes_by_tier=volume, time_s=time.sum(axis=0))


def _tier_of(span, gpus_per_server: int, gpus_per_rack: int, rows: int):
    """The tier a group of ``span`` GPUs runs on, per row, and where each row's entry on its tier sits in a
    (tiers, rows) array flattened, so that each row's charge lands on its own tier in one scatter (adding
    to every tier a charge masked to zero elsewhere gave the same sums, over three times the arithmetic).
    Every row inside one server (the common case): tier 0 and the slice of its entries."""
    beyond_server = span > gpus_per_server
    if not beyond_server.any():
        return 0, slice(0, rows)
    tier = beyond_server.astype(np.intp) + (span > gpus_per_rack)
    return tier, tier * rows + np.arange(rows)


def curve_comm(shape: ModelShape, lay: Layout, k: CommTiers, gpus_per_server: int, gpus_per_rack: int) -> Comm:
    """The same collectives timed by the engine's fitted kernel curves (``planner.engine.kernels.comm``).

    Each collective costs its curve on the tier its group spans: an all-reduce its floor, growth
    per doubling of the group and ring volume at the fitted efficiency; a MoE dispatch or combine
    ONE exchange (floor plus its share at the all-to-all efficiency), not ``log2 n`` rounds; a
    pipeline hand-off one message at the all-to-all's floor and rate. Bytes per tier are the
    volumes of the alpha-beta model (the fabric load the fleet problem charges).
    """
    rows = lay.tp.shape[0]
    volume, time = np.zeros((NUM_TIERS, rows)), np.zeros(rows)
    tokens = {"group": lay.group_tokens, "micro": lay.micro_tokens}
    for at, driver, calls, message_of, sent_per_byte, curve, _ in _collectives(shape, lay, k, gpus_per_server,
                                                                              gpus_per_rack):
        message = message_of(tokens[driver])
        volume.reshape(-1)[at] += sent_per_byte * message * calls  # (a view: the tiers' rows one after another)
        time = time + calls * curve(message, 1.0)
    return Comm(bytes_by_tier=volume, time_s=time)


class _Span:
    """The GPUs a collective's group spans, per row, and the tier it runs on (``_tier_of``).

    What depends on the span alone (its tier's curve parameters, latency and volume factors) is computed over
    ``values`` and taken to the rows by :meth:`rows`: where the spans are a few whole numbers (a layout's tp,
    tp x dp, ep; ``planner.serving.distinct.whole_index``) ``values`` are 0 .. the largest and each is computed
    once, otherwise they are the rows' own spans (the same arithmetic on the same values either way).
    """

    def __init__(self, span: np.ndarray, gpus_per_server: int, gpus_per_rack: int, rows: int, tiers: bool = True,
                 index: np.ndarray | None = None, whole: bool = False):
        self.index = whole_index(span, whole) if index is None else index
        self.values = span if self.index is None or index is not None else table_values(self.index)
        self.tier, self.at, self._taken = 0, slice(0, rows), {}
        if tiers and (self.values > gpus_per_server).any():  # (the table's largest value is a row's)
            self.tier = (self.values > gpus_per_server).astype(np.intp) + (self.values > gpus_per_rack)
            self.at = self.rows(self.tier * rows) + np.arange(rows)

    def doubled(self, gpus_per_server: int, gpus_per_rack: int, rows: int) -> _Span:
        """The span of twice as many GPUs (the same rows' table, doubled)."""
        return _Span(2.0 * self.values, gpus_per_server, gpus_per_rack, rows, index=self.index)

    def rows(self, x):
        """Each row's value of ``x``, a function of the span over ``values`` (scalars as they are)."""
        return x if self.index is None or np.ndim(x) == 0 else np.take(x, self.index)

    def t(self, values: np.ndarray):
        """A per-tier parameter at each value's tier, looked up once for all the curve's calls."""
        if id(values) not in self._taken:
            self._taken[id(values)] = np.take(values, self.tier)
        return self._taken[id(values)]


def _collectives(shape: ModelShape, lay: Layout, k: CommTiers, gpus_per_server: int, gpus_per_rack: int) -> list:
    """:func:`curve_comm`'s collectives of ``lay``, its tokens aside: for each, where its bytes land in a (tiers,
    rows) array flattened (``_tier_of``), whose tokens its message scales with (``"group"``: the attention
    group's, ``"micro"``: the micro-batch's), its calls, its message (bytes) of those tokens, bytes sent per
    message byte, its curve ``curve(message_bytes, with_latency)`` on each row's tier
    (``planner.engine.kernels.comm.latency_and_per_byte``), and for an all-reduce a function giving its one-shot
    terms on each row's tier, ``(twoshot_s, oneshot_gap_per_byte)`` (``planner.engine.kernels.comm``: the curve
    is the two-shot line less ``max(0, twoshot - gap x message)``), None for the other collectives.

    What depends on a group's size alone is computed once per size (``_Span``): the curves' latency parts, the
    volume factors, the tiers' parameters.
    """
    rows = lay.tp.shape[0]
    out = []
    hidden_bytes = shape.hidden_size * ACTIVATION_BYTES

    def span(n, whole: bool = False) -> _Span:  # (whole: products of the layout's whole sizes)
        return _Span(n, gpus_per_server, gpus_per_rack, rows, whole=whole and lay.whole_sizes)

    def add(s: _Span, driver: str, calls, message_of, sent_per_byte, curve, oneshot=None):
        out.append((s.at, driver, calls, message_of, sent_per_byte, curve, oneshot))

    def allreduce(s: _Span):
        factors, parts = [s.rows(x) for x in allreduce_factors(s.values)], {}  # (0.0 at n = 1: n - 1 is)

        def curve(m, on):
            if on not in parts:
                latency = group_latency_s(s.values, s.t(k.allreduce_floor_s) * on, s.t(k.allreduce_step_s) * on)
                twoshot_s = s.t(k.allreduce_twoshot_s) * on
                if s.index is not None:  # allreduce_s's zero where n <= 1: the table's latency zero there (and the
                    one = s.values <= 1.0  # two-shot round, unless none is below 0: the minimum is 0.0 then)
                    latency = np.where(one, 0.0, latency)
                    twoshot_s = np.where(one, 0.0, twoshot_s) if np.any(twoshot_s < 0.0) else twoshot_s
                parts[on] = [s.rows(x) for x in (latency, s.t(k.allreduce_bytes_per_s), twoshot_s)]
            latency, bytes_per_s, twoshot_s = parts[on]
            t = allreduce_line_s(latency, factors, m, bytes_per_s, twoshot_s)
            return t if s.index is not None else np.where(s.values > 1, t, 0.0)
        return curve, factors[0]  # (the two-shot factor is the all-reduce's bandwidth factor)

    def oneshot(s: _Span):
        return lambda: (s.rows(s.t(k.allreduce_twoshot_s)),
                        s.rows(oneshot_gap_per_byte(s.values, s.t(k.allreduce_bytes_per_s))))

    # Attention and dense-FFN all-reduce over tp.
    tp = span(lay.tp, True)
    curve, factor = allreduce(tp)
    add(tp, "group", (lay.stage_layers + lay.dense_layers) * (lay.tp > 1), lambda g: g * hidden_bytes,
        factor, curve, oneshot(tp))

    if shape.num_moe_layers:
        # Expert-parallel dispatch + combine over the stage's GPUs, (ep - 1) / ep of it remote, where attention is
        # data-parallel; without attention DP every rank holds every token and no token is dispatched.
        stage = span(lay.stage_gpus, True)
        ep = _Span(lay.ep, gpus_per_server, gpus_per_rack, rows, tiers=False, whole=lay.whole_sizes)
        remote = ep.rows(remote_share(ep.values))
        replicated = (lay.ep > 1) & (lay.dp <= 1)
        add(stage, "micro", 2.0 * lay.moe_layers * ((lay.ep > 1) & ~replicated),
            lambda m: m / lay.stage_gpus * shape.top_k * hidden_bytes, remote, _alltoall(k, stage, ep, lay.ep, remote))
        # The experts' output all-reduce: of the token-expert pairs (top_k / ep of the micro-batch's tokens) over
        # ``moe_tp`` under EP, of the micro-batch's tokens over ``moe_tp`` without EP, and of the micro-batch's
        # tokens over the stage's GPUs where the tokens are replicated (each rank's experts' share summed).
        group = lay.moe_tp
        pairs = ep.rows(np.where(ep.values > 1, float(shape.top_k), 1.0))
        by = ep.rows(np.where(ep.values > 1, ep.values, 1.0))
        if replicated.any():  # (m x pairs / by: the same bits as m x top_k / ep, and m without EP)
            group = np.where(replicated, lay.stage_gpus, lay.moe_tp)
            pairs, by = np.where(replicated, 1.0, pairs), np.where(replicated, 1.0, by)
        moe_tp = span(group)
        curve, factor = allreduce(moe_tp)
        add(moe_tp, "micro", lay.moe_layers * (group > 1), lambda m: m * pairs / by * hidden_bytes, factor, curve,
            oneshot(moe_tp))

    # Pipeline hand-off to the next stage (its span reaches into the next stage's GPUs).
    pipe = stage.doubled(gpus_per_server, gpus_per_rack, rows) if shape.num_moe_layers \
        else span(2.0 * lay.stage_gpus, True)
    add(pipe, "group", (lay.pp > 1).astype(float), lambda g: g * hidden_bytes / lay.tp,
        bandwidth_factor(P2P, 2.0),
        lambda m, on: p2p_s(m, pipe.rows(pipe.t(k.alltoall_floor_s) * on), pipe.rows(pipe.t(k.alltoall_bytes_per_s))))
    return out


def _alltoall(k: CommTiers, stage: _Span, ep: _Span, ep_rows: np.ndarray, remote: np.ndarray):
    """The MoE dispatch's (or combine's) curve ``curve(message_bytes, with_latency)``, its group the stage's GPUs
    (``stage``), its destinations the EP ranks (``ep``, each row's ``ep_rows``; ``remote``: their remote share per
    row); zero without EP (``alltoall_s``; where the ranks are a table, the curve, >= 0, times 0.0 there)."""
    parts = {}

    def curve(m, on):
        if on not in parts:
            latency = group_latency_s(stage.values, stage.t(k.alltoall_floor_s) * on, stage.t(k.alltoall_step_s) * on)
            parts[on] = (stage.rows(latency), stage.rows(stage.t(k.alltoall_bytes_per_s)))
        latency, bytes_per_s = parts[on]
        t = latency + remote * m / bytes_per_s
        return np.where(ep_rows > 1, t, 0.0) if ep.index is None else t * (ep_rows > 1)
    return curve


def _saving(oneshot_s: np.ndarray, gap_s_per_token: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """``max(0, oneshot_s - gap_s_per_token x tokens)``, in one array (``CurveCollectives.at``)."""
    out = gap_s_per_token * tokens
    np.subtract(oneshot_s, out, out=out)
    return np.maximum(0.0, out, out=out)


@record
class CurveCollectives:
    """:func:`curve_comm`'s collectives of a layout as linear functions of its tokens (arrays over rows).

    Every message is a multiple of the attention group's tokens (the TP all-reduce, the pipeline
    hand-off) or of the micro-batch's (the MoE dispatch, combine and expert all-reduce), and every
    curve is a latency part plus seconds per byte (``planner.engine.kernels.comm.latency_and_per_byte``; an
    all-reduce's two-shot line, less its one-shot saving ``max(0, twoshot - gap x message)``), so
    the tiers, parameter look-ups and latency parts are summed once per layout (:meth:`of`) and
    :meth:`at` times any number of tokens in a few products: the serving fixed point's rounds change
    only the tokens, and :func:`comm` times an MoE model's collectives so, folded once per distinct layout of a
    block. (:func:`curve_comm` charges the same collectives one by one: a dense model's two cost less so.)

    Attributes:
        latency_s: every call's latency part, summed.
        s_per_group_token, s_per_micro_token: seconds per token of the group and of the micro-batch.
        bytes_per_group_token, bytes_per_micro_token: shape (3, rows): bytes sent per GPU on each tier per token.
        (The micro-batch's are None where no collective scales with it: a dense model's.)
        oneshot_s: shape (2, rows): the all-reduces' two-shot latency times their calls, of the group's
            all-reduce (the attention and dense-FFN one over ``tp``) and the micro-batch's (the experts' over
            ``moe_tp``); ``oneshot_gap_s_per_token``: their one-shot gaps per token times their calls.
    """

    latency_s: np.ndarray
    s_per_group_token: np.ndarray
    s_per_micro_token: np.ndarray | None
    bytes_per_group_token: np.ndarray
    bytes_per_micro_token: np.ndarray | None
    oneshot_s: np.ndarray
    oneshot_gap_s_per_token: np.ndarray

    def at(self, group_tokens: np.ndarray, micro_tokens: np.ndarray, tier_bytes: bool = True) -> Comm:
        """Traffic and time of the collectives of ``micro_tokens`` per micro-batch, ``group_tokens`` per group
        (``tier_bytes=False``: the time, the bytes left for later, ``bytes_by_tier`` None and the tokens kept:
        :meth:`bytes_at` of them gives the bytes ``at`` gives)."""
        # latency + s x g - max(0, oneshot - gap x g) [+ s x m - max(0, ...)], each step in a temporary of its own
        time = self.s_per_group_token * group_tokens
        time += self.latency_s  # (a sum's operands commute: the same bits)
        time -= _saving(self.oneshot_s[0], self.oneshot_gap_s_per_token[0], group_tokens)
        if self.s_per_micro_token is not None:  # (none scales with the micro-batch: adding zeros changes nothing)
            time += self.s_per_micro_token * micro_tokens
            time -= _saving(self.oneshot_s[1], self.oneshot_gap_s_per_token[1], micro_tokens)
        if tier_bytes:
            return Comm(bytes_by_tier=self.bytes_at(group_tokens, micro_tokens), time_s=time)
        return Comm(bytes_by_tier=None, time_s=time, group_tokens=group_tokens, micro_tokens=micro_tokens)

    def bytes_at(self, group_tokens: np.ndarray, micro_tokens: np.ndarray) -> np.ndarray:
        """Bytes sent per GPU on each tier, shape (3, rows), by the collectives of those tokens (:meth:`at`)."""
        sent = self.bytes_per_group_token * group_tokens
        return sent if self.bytes_per_micro_token is None else sent + self.bytes_per_micro_token * micro_tokens

    @classmethod
    def of(cls, shape: ModelShape, lay: Layout, k: CommTiers, gpus_per_server: int,
           gpus_per_rack: int) -> CurveCollectives:
        """The collectives of ``lay`` (its tokens aside) on the curves ``k`` (:func:`_collectives`)."""
        rows = lay.tp.shape[0]
        per_token = {"group": np.zeros((NUM_TIERS, rows)), "micro": np.zeros((NUM_TIERS, rows))}
        seconds = {"group": np.zeros(rows), "micro": np.zeros(rows)}
        latency, oneshot_s, gap = np.zeros(rows), np.zeros((2, rows)), np.zeros((2, rows))
        collectives = _collectives(shape, lay, k, gpus_per_server, gpus_per_rack)
        for at, driver, calls, message_of, sent_per_byte, curve, oneshot in collectives:
            message_per_token = message_of(1.0)
            oneshot = None if oneshot is None else oneshot()
            call_latency, per_byte = latency_and_per_byte(curve)
            per_token[driver].reshape(-1)[at] += sent_per_byte * message_per_token * calls
            latency = latency + calls * call_latency
            seconds[driver] = seconds[driver] + calls * per_byte * message_per_token
            if oneshot is not None:  # one all-reduce per driver: the two-shot line, its saving apart
                twoshot_s, gap_per_byte = oneshot
                latency = latency + calls * twoshot_s
                row = ("group", "micro").index(driver)
                oneshot_s[row] = calls * twoshot_s
                gap[row] = calls * gap_per_byte * message_per_token
        micro = any(driver == "micro" for _, driver, *_ in collectives)
        return cls(latency_s=latency, s_per_group_token=seconds["group"],
                   s_per_micro_token=seconds["micro"] if micro else None, bytes_per_group_token=per_token["group"],
                   bytes_per_micro_token=per_token["micro"] if micro else None,
                   oneshot_s=oneshot_s, oneshot_gap_s_per_token=gap)
