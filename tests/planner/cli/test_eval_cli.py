"""``rackplan evaluate``: the JSON contract, the help text, and one-line errors on bad input.

Runs the console-script entry point ``planner.cli.main.main`` in-process (it is where library errors
become exit codes), capturing stdout and stderr.
"""

import json

import click
import pytest

from planner.cli.main import cli, main

BASE = ["evaluate", "--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--batch", "64"]


def run(capsys, argv):
    """Exit code, stdout and stderr of ``rackplan <argv>``."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def run_json(capsys, argv):
    code, out, err = run(capsys, [*argv, "--format", "json"])
    assert code == 0 and err == ""
    return json.loads(out)  # stdout is one JSON object and nothing else


# The issue's contract: these keys, with these names, and the nested objects' keys exactly.
TOP_KEYS = {"feasible", "reasons", "tok_per_gpu", "instance_tps", "total_tps", "step_time_s", "tpot_s", "ttft_s",
            "prefill_time_s", "outside_measured_range",
            "limit", "bounds_tok_per_gpu", "fabric_load_gb_per_s", "fabric_utilisation", "memory_per_gpu_bytes"}
TIERS = {"intra_server", "inter_server", "inter_rack"}
NESTED = {
    "bounds_tok_per_gpu": {"compute", "hbm", "comm"},
    "fabric_load_gb_per_s": TIERS,
    "fabric_utilisation": TIERS,
    "memory_per_gpu_bytes": {"weights", "kv_hbm", "kv_offloaded", "activations", "total", "capacity"},
}


def test_json_has_the_contract_keys(capsys):
    r = run_json(capsys, [*BASE, "--tokens-cached", "1024"])
    assert TOP_KEYS <= set(r), f"missing: {TOP_KEYS - set(r)}"
    for key, sub in NESTED.items():
        assert set(r[key]) == sub, key
    assert r["feasible"] is True and r["reasons"] == []
    assert r["ttft_s"] is None  # steady-state decode: no prompt to prefill
    assert r["limit"] in {"compute", "hbm", "comm", "offload", "gemm"}
    # One H200, one instance: tok/GPU = instance TPS = total TPS = batch / step; TPOT = step.
    assert r["tok_per_gpu"] == r["instance_tps"] == r["total_tps"]
    assert r["instance_tps"] == pytest.approx(64 / r["step_time_s"], rel=1e-12)
    assert r["tpot_s"] == r["step_time_s"]
    assert r["bounds_tok_per_gpu"]["comm"] is None  # nothing is sent: an infinite bound prints as null
    assert all(0.0 <= v <= 1.0 for v in r["fabric_utilisation"].values())
    m = r["memory_per_gpu_bytes"]
    assert m["total"] == m["weights"] + m["kv_hbm"] + m["activations"]
    assert m["weights"] == 16_059_990_016  # (32 x 218,103,808 + 2 x 525,336,576) x 2 B, test_eval_hand.py


def test_json_isl_osl_reports_ttft_and_instances(capsys):
    r = run_json(capsys, [*BASE, "--isl", "1024", "--osl", "256", "--instances", "3"])
    assert isinstance(r["ttft_s"], float) and r["ttft_s"] > 0
    assert r["total_tps"] == pytest.approx(3 * r["instance_tps"], rel=1e-12)
    assert r["tok_per_gpu"] == pytest.approx(r["instance_tps"], rel=1e-12)  # average over the 3 GPUs


def test_json_burst_waits_for_the_prompts_sent_before(capsys):
    # 64 prompts of 1,024 tokens at once under the default engine's 8,192-token budget: 8 to an iteration, so on
    # average a request's first token comes after min(64, (64 + 8) / 2) = 36 of the 64 prompts' work
    # (planner.serving.aggregated.burst_prompts): 36 / 64 of the burst's prefill, which prefill_time_s times as one
    # forward pass of all 64 (no chunks, no decode batch: within 10 %). In a closed loop the prompts arrive spread
    # over the requests' lives and wait for far fewer (0.180 s against 0.780 s, hand-checked).
    steady = run_json(capsys, [*BASE, "--isl", "1024", "--osl", "256"])
    burst = run_json(capsys, [*BASE, "--isl", "1024", "--osl", "256", "--arrivals", "burst"])
    assert burst["prefill_time_s"] == steady["prefill_time_s"]  # one forward pass of the 64 prompts: no queue
    assert burst["ttft_s"] == pytest.approx(36 / 64 * burst["prefill_time_s"], rel=0.1)
    assert burst["ttft_s"] > 3.0 * steady["ttft_s"]


def test_json_fabric_what_if_replaces_every_tier(capsys):
    argv = ["evaluate", "--model", "llama-3.1-70b", "--system", "hgx-h200", "--tp", "8", "--batch", "32",
            "--tokens-cached", "2048"]
    nvlink = run_json(capsys, argv)
    eth = run_json(capsys, [*argv, "--fabric", "400gbe"])
    assert nvlink["fabric_names"]["intra_server"] == "nvlink4"
    assert set(eth["fabric_names"].values()) == {"400gbe"}
    assert eth["fabric_load_gb_per_s"]["intra_server"] > 0
    assert eth["step_time_s"] > nvlink["step_time_s"]


def test_json_infeasible_plan_exits_zero_with_reasons(capsys):
    # A verdict, not an error: Llama-3.1-70B in bf16 (141.1 GB of weights) on one H200 (126.9 GB usable).
    r = run_json(capsys, ["evaluate", "--model", "llama-3.1-70b", "--gpu", "h200-sxm", "--tokens-cached", "1024"])
    assert r["feasible"] is False
    (reason,) = r["reasons"]
    excess = r["memory_per_gpu_bytes"]["total"] - r["memory_per_gpu_bytes"]["capacity"]
    assert reason.startswith("hbm_capacity: needs 141.4 GB per GPU but 126.9 GB is usable")
    assert reason.endswith(f"over by {excess:,.0f} bytes")


ISSUE_FLAGS = ["--model", "--system", "--gpu", "--tp", "--pp", "--ep", "--dp", "--batch", "--quant", "--kv-quant",
               "--tokens-cached", "--isl", "--osl", "--kv-offload-fraction", "--instances", "--fabric", "--format"]


def test_help_documents_every_flag(capsys):
    code, out, err = run(capsys, ["evaluate", "--help"])
    assert code == 0 and err == ""
    for flag in ISSUE_FLAGS:
        assert flag in out, flag
    command = cli.commands["evaluate"]
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{param.opts} has no help"
            for opt in param.opts:
                assert opt in out, opt


BAD = [
    (["--model", "no-such-model", "--gpu", "h200-sxm", "--tokens-cached", "8"], 1, "unknown model 'no-such-model'"),
    (["--model", "llama-3.1-8b", "--gpu", "no-such-gpu", "--tokens-cached", "8"], 1, "unknown system or GPU"),
    (["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--batch", "-3", "--tokens-cached", "8"], 2, "'--batch'"),
    (["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--tokens-cached", "8", "--isl", "100", "--osl", "10"], 1,
     "either tokens_cached or isl/osl"),
    (["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--isl", "100"], 1, "isl and osl go together"),
    (["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--quant", "fp5", "--tokens-cached", "8"], 1,
     "unknown quantisation 'fp5'"),
    (["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--kv-offload-fraction", "1.5", "--tokens-cached", "8"], 2,
     "'--kv-offload-fraction'"),
    (["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--fabric", "token-ring", "--tokens-cached", "8"], 1,
     "unknown fabric 'token-ring'"),
    (["--gpu", "h200-sxm", "--tokens-cached", "8"], 1, "evaluate needs --model"),
    (["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--tokens-cached", "8", "--arrivals", "burst"], 1,
     "arrivals = 'burst' needs isl and osl"),
    (["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--isl", "8", "--osl", "8", "--arrivals", "poisson"], 2,
     "'--arrivals'"),
]
# click prints these around a usage error (exit 2); the error itself is one line.
CLICK_USAGE_LINES = ("Usage: rackplan evaluate", "Try 'rackplan evaluate --help' for help.")


@pytest.mark.parametrize(("argv", "code", "message"), BAD, ids=[b[2] for b in BAD])
def test_bad_input_is_one_line_without_traceback(capsys, argv, code, message):
    got, out, err = run(capsys, ["evaluate", *argv, "--format", "json"])
    assert got == code
    assert out == ""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line and not line.startswith(CLICK_USAGE_LINES)]
    assert len(lines) == 1, err
    assert lines[0].lower().startswith("error:") and message in lines[0]
