"""A plan outside its engine profile's measured range says so in its header and JSON."""

import json

from click.testing import CliRunner

from planner.cli.main import cli

ARGS = ["plan", "--model", "qwen3-235b-a22b", "--system", "gb200-nvl72", "--tokens-cached", "8192",
        "--engine", "trtllm", "--batch", "512"]


def test_a_batch_past_the_measured_runs_is_flagged():
    # trtllm.toml: measured_batch [1, 384] (its 612 unsaturated rows), measured_context_tokens [1152, 9216];
    # batch 512 lies past the first, 8,192 tokens inside the second: one line.
    out = CliRunner().invoke(cli, ARGS, obj={})
    assert out.exit_code == 0, out.output
    assert ("measured range: batch 512 outside the 1-384 sequences per instance trtllm was measured at "
            "(extrapolated: nothing measured backs it)") in out.output
    doc = json.loads(CliRunner().invoke(cli, [*ARGS, "--format", "json"], obj={}).output)
    assert doc["outside_measured_range"] == [
        "batch 512 outside the 1-384 sequences per instance trtllm was measured at"]


def test_the_default_engine_has_no_range_and_no_flag():
    # engine "default" records no measured range: nothing to flag, no header line.
    out = CliRunner().invoke(cli, ["plan", "--batch", "512", "--format", "json"], obj={})
    assert json.loads(out.output)["outside_measured_range"] == []
