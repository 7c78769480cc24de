"""Hostile flag values on every command: each refused at the edge with the flag named, exit 2 (usage).

The value tables are the root causes of issue 16: text where a number belongs, fractions for whole
numbers, integers beyond int64 (10**30), ``nan``/``inf``, negatives and zero, empty names. Click
parses them (``planner.cli.options``), so the library never sees one; the refusal is a usage error.
"""

from __future__ import annotations

import pytest
from hostile import refused

HUGE = "1" + "0" * 30  # 10**30: beyond int64, the OverflowError of issue 16 (3)

# Values no whole-number option takes (0 and -1 are added where the option's minimum is 1).
BAD_INTS = ("abc", "1.5", HUGE, "-" + HUGE, "nan", "inf", "", "1e3", "0x10", "4 4")
BAD_POSITIVE_INTS = BAD_INTS + ("0", "-1")
# Values no finite-number option takes ("1e400" overflows to inf when parsed).
BAD_FLOATS = ("abc", "nan", "NaN", "inf", "-inf", "infinity", "1e400", "", "--")
BAD_POSITIVE_FLOATS = BAD_FLOATS + ("-1", "-0.5")
BAD_FRACTIONS = BAD_FLOATS + ("-0.1", "1.5", "2")
BAD_NAMES = ("", " ")

# command prefix, option, bad values
TABLE = [
    # rackplan plan (and min-gpus, which shares every option)
    *((("plan",), opt, BAD_POSITIVE_INTS) for opt in ("--racks", "--gpus", "--isl", "--osl", "--max-batch", "--top")),
    (("plan",), "--tokens-cached", BAD_INTS + ("-1",)),
    *((("plan",), opt, BAD_POSITIVE_INTS) for opt in ("--tp", "--pp", "--ep", "--dp", "--batch")),
    (("plan",), "--kv-offload-fraction", BAD_FRACTIONS),
    *((("plan",), opt, BAD_POSITIVE_FLOATS + ("0",)) for opt in ("--max-tpot-ms", "--max-kw", "--time-limit")),
    # 0 lifts the isl/osl default floor and ceiling (docs/usage.md), so only negatives and non-finite fail.
    *((("plan",), opt, BAD_POSITIVE_FLOATS) for opt in ("--max-ttft-ms", "--min-tok-per-user")),
    *((("plan",), opt, BAD_NAMES)
      for opt in ("--model", "--system", "--gpu", "--fabric", "--engine", "--preset", "--quant", "--kv-quant")),
    (("min-gpus",), "--target-tps", BAD_POSITIVE_FLOATS + ("0",)),
    # a percentage from 0 to 1,000, or p90 (the engine profile's measured error)
    *(((cmd,), "--latency-margin", BAD_POSITIVE_FLOATS + ("1001", "p91", "p 90")) for cmd in ("plan", "compare")),
    # rackplan evaluate: one plan, single values
    *((("evaluate",), opt, BAD_POSITIVE_INTS)
      for opt in ("--tp", "--pp", "--ep", "--dp", "--batch", "--instances", "--isl", "--osl")),
    (("evaluate",), "--kv-offload-fraction", BAD_FRACTIONS),
    *((("evaluate",), opt, BAD_NAMES) for opt in ("--model", "--quant", "--kv-quant", "--engine")),
    # rackplan compare / frontier: one list per axis
    *((("compare",), opt, BAD_POSITIVE_INTS) for opt in ("--racks", "--gpus", "--isl", "--osl", "--baseline")),
    (("compare",), "--min-tok-per-user", BAD_FLOATS + ("-1",)),
    *((("compare",), opt, (",", " , ")) for opt in ("--model", "--system", "--gpu", "--fabric", "--serving")),
    (("frontier",), "--points", BAD_INTS + ("1", "0", "101", "100000")),
    (("frontier",), "--max-tpot-ms", BAD_POSITIVE_FLOATS),
    # rackplan train plan / min-gpus / evaluate
    *((("train", "plan"), opt, BAD_POSITIVE_INTS)
      for opt in ("--global-batch", "--seq-len", "--cp", "--vpp", "--micro-batch", "--racks", "--top")),
    (("train", "plan"), "--zero", BAD_INTS + ("-1",)),
    *((("train", "plan"), opt, BAD_POSITIVE_FLOATS + ("0",))
      for opt in ("--train-tokens", "--target-tokens-per-s", "--deadline-days", "--max-kw")),
    *((("train", "plan"), opt, BAD_FRACTIONS) for opt in ("--dp-overlap", "--tp-overlap")),
    *((("train", "evaluate"), opt, BAD_POSITIVE_INTS) for opt in ("--tp", "--micro-batch", "--seq-len")),
    (("train", "evaluate"), "--zero", BAD_INTS + ("-1",)),
    *((("train", "evaluate"), opt, BAD_NAMES) for opt in ("--recompute", "--precision", "--model")),
    # rackplan fleet FILE: its own flags (the file is checked after them)
    *((("fleet", "fleet.toml"), opt, BAD_POSITIVE_FLOATS + ("0",)) for opt in ("--max-kw", "--max-cost-per-hour")),
    # rackplan sweep GRID -o FILE
    (("sweep", "grid.toml", "-o", "out.csv"), "--jobs", BAD_POSITIVE_INTS + ("1025",)),
    # rackplan calibrate CSV --out FILE
    *((("calibrate", "runs.csv", "--output", "p.toml"), opt, BAD_NAMES)
      for opt in ("--system", "--gpu", "--engine", "--name")),
]
CASES = [(prefix, opt, value) for prefix, opt, values in TABLE for value in values]


@pytest.mark.parametrize("prefix,option,value", CASES,
                         ids=[f"{' '.join(p)} {o}={v!r}" for p, o, v in CASES])
def test_bad_flag_value_is_a_usage_error_naming_the_flag(rackplan, prefix, option, value):
    refused(rackplan(*prefix, option, value), 2, option)


# NAME=TPS pairs of `rackplan fleet --model`: the target must be a finite number > 0.
FLEET_TARGETS = ("=", "=100", "m=abc", "m=nan", "m=inf", "m=-5", "m=0", "m=1e400", " =5")


@pytest.mark.parametrize("pair", FLEET_TARGETS)
def test_fleet_model_pairs(rackplan, pair):
    refused(rackplan("fleet", "fleet.toml", "--model", pair), 2, "--model")


def test_corpus_size():
    # Issue 16 asks for at least 300 bad inputs over the whole corpus; the flags alone give more.
    assert len(CASES) + len(FLEET_TARGETS) >= 300
