"""A plan outside its engine profile's measured range says so in its header, its table row and JSON."""

import csv
import io
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
    assert json.loads(out.output)["outside_measured_range"] is None


# Llama-3.1-8B on 8 H200 under TensorRT-LLM, batch pinned to 384 or 512: the best eight plans mix both, and
# trtllm.toml measured batches 1-384 only, so exactly the rows at 512 lie outside.
RANKED = ["plan", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus", "8", "--isl", "1024", "--osl", "1024",
          "--engine", "trtllm", "--batch", "384,512", "--top", "8"]


def test_every_ranked_plan_says_whether_it_was_measured():
    doc = json.loads(CliRunner().invoke(cli, [*RANKED, "--format", "json"], obj={}).output)
    rows = [doc, *doc["alternatives"]]
    assert len(rows) == 8
    outside = [r["rank"] for r in rows if r["outside_measured_range"]]
    inside = [r["rank"] for r in rows if r["outside_measured_range"] == []]
    assert outside and inside and sorted(outside + inside) == list(range(1, 9))
    for r in rows:  # every row at 512 names its batch; every row at 384 is inside on this workload
        assert (r["plan"]["batch"] == 512) == bool(r["outside_measured_range"])
        if r["plan"]["batch"] == 512:
            assert "batch 512 outside the 1-384 sequences per instance trtllm was measured at" in \
                r["outside_measured_range"]
    # The text table marks the same ranks with a *, and says what the * means under the table.
    text = CliRunner().invoke(cli, RANKED, obj={}).output.splitlines()
    table = [ln for ln in text if ln[:1].isdigit()]
    assert [int(ln.split()[0].rstrip("*")) for ln in table if ln.split()[0].endswith("*")] == outside
    assert ("* outside the range trtllm was measured at: extrapolated (JSON's outside_measured_range says how; "
            "the header, for plan 1)") in text
    # CSV keeps # numeric and says it in a range column.
    csv_rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(cli, [*RANKED, "--format", "csv"], obj={}).output)))
    assert [(int(r["#"]), r["range"]) for r in csv_rows] == \
        [(r["rank"], "out" if r["outside_measured_range"] else "in") for r in rows]


def test_no_mark_and_no_note_where_the_profile_records_no_range():
    out = CliRunner().invoke(cli, ["plan", "--batch", "512"], obj={}).output
    assert "*" not in out and "outside the range" not in out
    csv_rows = list(csv.DictReader(io.StringIO(
        CliRunner().invoke(cli, ["plan", "--batch", "512", "--format", "csv"], obj={}).output)))
    assert {r["range"] for r in csv_rows} == {""}  # "default" records no range: neither in nor out
