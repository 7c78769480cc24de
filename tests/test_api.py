"""The public Python API (``planner/__init__.py``): the same documents the CLI prints as JSON.

Each function is a client of the same study code as its command, so ``planner.plan(...)`` equals
``rackplan plan ... --format json`` key for key (solve timings masked: they differ run to run).
"""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import planner
from models.errors import ModelError
from planner.cli.main import cli
from planner.errors import InfeasibleError, InputError
from planner.report.tables import to_json

RUN = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
TIMING_KEYS = {"solve_time_s", "wall_time_s"}
SERVING = {"model": "qwen3-30b-a3b", "system": "hgx-h200", "tokens_cached": 4096, "max_batch": 256}
SERVING_ARGS = ["--model", "qwen3-30b-a3b", "--system", "hgx-h200", "--tokens-cached", "4096", "--max-batch", "256"]
TRAINING = {"model": "llama-3.1-8b", "system": "hgx-h100", "gpus": 16}
TRAINING_ARGS = ["--model", "llama-3.1-8b", "--system", "hgx-h100", "--gpus", "16"]


def _untimed(d: dict) -> dict:
    # json object_hook: solve timings differ run to run; every other key must match.
    return {k: (0.0 if k in TIMING_KEYS else v) for k, v in d.items()}


def _cli_json(args):
    result = RUN.invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output, object_hook=_untimed)


def _api_json(doc):
    # The CLI prints to_json(document); the API returns the document itself.
    return json.loads(to_json(doc), object_hook=_untimed)


def test_plan_equals_the_cli_json():
    doc = planner.plan(**SERVING, top=3, tp=(1, 2), quant="fp8")
    assert _api_json(doc) == _cli_json(["plan", *SERVING_ARGS, "--top", "3", "--tp", "1,2", "--quant", "fp8"])
    assert doc["plan"]["tp"] in (1, 2) and doc["plan"]["quant"] == "fp8" and len(doc["alternatives"]) == 2


def test_defaults_are_the_librarys():
    # No arguments: Qwen3-235B-A22B on one gb200-nvl72 rack at 8,192 tokens cached; top 5.
    doc = planner.plan()
    sc = doc["scenario"]
    assert (sc["model"], sc["system"], sc["budget"]["gpus"], sc["workload"]["tokens_cached"]) == (
        "qwen3-235b-a22b", "gb200-nvl72", 72, 8192)
    assert len(doc["alternatives"]) == 4


def test_min_gpus_and_the_training_questions_equal_the_cli_json():
    assert _api_json(planner.min_gpus(20000, **SERVING, top=1)) == _cli_json(
        ["min-gpus", *SERVING_ARGS, "--target-tps", "20000", "--top", "1"])
    assert _api_json(planner.train_plan(**TRAINING, zero=(1, 3), top=2)) == _cli_json(
        ["train", "plan", *TRAINING_ARGS, "--zero", "1,3", "--top", "2"])
    assert _api_json(planner.train_min_gpus(model="llama-3.1-8b", system="hgx-h100", target_tokens_per_s=200000,
                                            top=1)) == _cli_json(
        ["train", "min-gpus", "--model", "llama-3.1-8b", "--system", "hgx-h100", "--target-tokens-per-s", "200000",
         "--top", "1"])


def test_evaluate_documents_and_titles():
    doc = planner.evaluate(model="llama-3.1-8b", gpu="h200-sxm", batch=8, tokens_cached=1024)
    assert _api_json(doc) == _cli_json(["evaluate", "--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--batch", "8",
                                        "--tokens-cached", "1024"])
    assert doc.title == "llama-3.1-8b on hgx-h200, ctx 1024, plan 1x1x1x1 (TPxPPxEPxDP)"
    # Unset decisions take Plan's defaults: one GPU, bf16 weights and KV cache.
    assert (doc["plan"]["gpus"], doc["plan"]["quant"], doc["plan"]["kv_quant"]) == (1, "bf16", "bf16")
    train = planner.train_evaluate(model="llama-3.1-8b", system="hgx-h100", dp=8, global_batch=64)
    assert _api_json(train) == _cli_json(["train", "evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h100",
                                          "--dp", "8", "--global-batch", "64"])
    assert train["plan"]["gpus"] == 8 and train["plan"]["recompute"] == "selective"


def test_compare_and_frontier_equal_the_cli_json():
    grid = {"models": ["qwen3-30b-a3b"], "systems": ["hgx-h200", "mi355x-8"], "tokens_cached": [4096]}
    args = ["--model", "qwen3-30b-a3b", "--system", "hgx-h200,mi355x-8", "--tokens-cached", "4096", "--max-batch", "64"]
    doc = planner.compare(**grid, max_batch=64, baseline=2)
    assert _api_json(doc) == _cli_json(["compare", *args, "--baseline", "2"])
    assert doc["baseline"] == 2 and doc.title.startswith("compare: 2 scenarios")
    rows = planner.frontier(**grid, max_batch=64, points=3)
    assert _api_json(rows) == _cli_json(["frontier", *args, "--points", "3"])


def test_errors_are_the_librarys():
    with pytest.raises(ModelError, match="unknown model"):
        planner.plan(model="no-such-model")
    with pytest.raises(InfeasibleError, match="target: the most this budget"):
        planner.min_gpus(1e12, racks=1)
    with pytest.raises(InputError, match="evaluate needs --model"):
        planner.evaluate(model=None)
    with pytest.raises(InputError, match="frontier sweeps the latency floor"):
        planner.frontier(min_tok_per_user=[40])
    with pytest.raises(TypeError, match="quant"):
        planner.train_min_gpus(quant="fp8")


def test_every_function_is_documented():
    for name in planner.__all__:
        doc = inspect.getdoc(getattr(planner, name))
        assert all(part in doc for part in ("Args:", "Returns:", "Raises:")), name


def test_import_planner_stays_cheap():
    # The API imports its machinery inside the functions: importing the package loads none of it.
    heavy = ("numpy", "pulp", "highspy", "click", "tabulate")
    code = f"import sys, planner; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_api_page_example_runs(tmp_path):
    # docs/api.md's bash block (a python heredoc, then the command), as a reader would paste it.
    text = (ROOT / "docs" / "api.md").read_text()
    block = text.split("```bash\n", 1)[1].split("\n```", 1)[0]
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tok/s on 32 GPUs" in done.stdout and "MFU" in done.stdout
