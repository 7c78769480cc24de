"""Values that parse but name nothing, or ask the impossible: exit 1, one line naming the culprit.

Unknown names reach the catalogue and come back as one line naming the value; requests that parse
but cannot be met (a context past the model's, a tensor-parallel degree that splits no heads, a
latency no layout reaches) say which input is at fault rather than blaming memory or the solver.
"""

from __future__ import annotations

import pytest
from hostile import refused

BOGUS = "no-such-thing"
EVAL = ("--model", "llama-3.1-8b", "--system", "hgx-h200", "--tokens-cached", "1024")

NAME_CASES = [
    (("plan", "--model", BOGUS), BOGUS),
    (("plan", "--system", BOGUS), BOGUS),
    (("plan", "--gpu", BOGUS), BOGUS),
    (("plan", "--fabric", BOGUS), BOGUS),
    (("plan", "--engine", BOGUS), BOGUS),
    (("plan", "--preset", BOGUS), BOGUS),
    (("plan", "--quant", BOGUS), BOGUS),
    (("plan", "--kv-quant", BOGUS), BOGUS),
    (("plan", "--profile", "missing.toml"), "missing.toml"),
    (("evaluate", "--model", BOGUS, "--system", "hgx-h200", "--tokens-cached", "1024"), BOGUS),
    (("evaluate", "--model", "llama-3.1-8b", "--system", BOGUS, "--tokens-cached", "1024"), BOGUS),
    (("evaluate", *EVAL, "--quant", BOGUS), BOGUS),
    (("evaluate", *EVAL, "--kv-quant", BOGUS), BOGUS),
    (("train", "plan", "--model", BOGUS), BOGUS),
    (("train", "plan", "--system", BOGUS), BOGUS),
    (("train", "plan", "--recompute", BOGUS), BOGUS),
    (("train", "plan", "--precision", BOGUS), BOGUS),
    (("train", "evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--recompute", BOGUS), BOGUS),
    (("train", "evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--precision", BOGUS), BOGUS),
    (("show", "gpu", BOGUS), BOGUS),
    (("show", "system", BOGUS), BOGUS),
    (("show", "fabric", BOGUS), BOGUS),
    (("show", "model", BOGUS), BOGUS),
    (("fleet", "missing.toml"), "missing.toml"),
    (("sweep", "missing.toml", "-o", "out.csv"), "missing.toml"),
    (("calibrate", "missing.csv", "--out", "p.toml"), "missing.csv"),
]


@pytest.mark.parametrize("argv,named", NAME_CASES, ids=[" ".join(a) for a, _ in NAME_CASES])
def test_unknown_names_are_refused_by_name(rackplan, argv, named):
    refused(rackplan(*argv), 1, named)


# Requests that parse, each refused with the input at fault named (not the memory, not the solver).
REQUEST_CASES = [
    # qwen3-235b-a22b (the default model) has max_position_embeddings 40,960 (models/data/qwen3-235b-a22b.json).
    (("plan", "--tokens-cached", "99999999"), ("--tokens-cached", "40,960")),
    (("plan", "--isl", "40000", "--osl", "2000"), ("--isl", "--osl", "40,960")),
    (("evaluate", "--system", "hgx-h200", "--model", "qwen3-32b", "--tokens-cached", "50000"),
     ("--tokens-cached", "max_position_embeddings")),
    # llama-3.1-8b: 32 attention heads (models/data/llama-3.1-8b.json); tp 3 divides neither them nor the 8 KV heads.
    (("plan", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--tp", "3"), ("tp 3", "heads 32")),
    (("plan", "--isl", "1024"), ("osl",)),
    (("plan", "--tokens-cached", "1024", "--isl", "1024", "--osl", "1"), ("tokens_cached",)),
    (("min-gpus",), ("--target-tps",)),
    (("fleet", "fleet.toml", "--minimise", "gpus", "--maximise", "tps"), ("--minimise", "--maximise")),
    (("compare", "--racks", "1", "--gpus", "8"), ("--racks", "--gpus")),
    (("compare", "--system", "hgx-h200", "--gpu", "h200-sxm"), ("--system", "--gpu")),
    (("plan", "--system", "hgx-h200", "--gpu", "gb200"), ("--gpu", "--system")),
]


@pytest.mark.parametrize("argv,named", REQUEST_CASES, ids=[" ".join(a) for a, _ in REQUEST_CASES])
def test_impossible_requests_blame_the_input(rackplan, tmp_path, argv, named):
    (tmp_path / "fleet.toml").write_text('[[hardware]]\nsystem = "hgx-h200"\nservers = 1\n')
    refused(rackplan(*argv), 1, *named)
