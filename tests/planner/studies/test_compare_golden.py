"""Golden outputs: every report format of ``plan``, ``evaluate``, ``compare``, ``frontier``, ``train plan``
and ``fleet`` for one scenario each.

The scenario pins its engine profile (tests/golden/profile.toml), so re-calibrating the shipped
defaults does not move these numbers; a deliberate change to the model or the reports does.
Regenerate, then review the diff:

    .venv/bin/pytest tests/planner/studies/test_compare_golden.py --update-golden

Timings (``solve_time_s``, ``wall_time_s`` and the header's "in X ms (wall Y s)") differ run to
run and are masked before comparing; nothing else is. JSON numbers compare to 1e-9 relative,
so a last-ulp difference of a vector math library cannot fail a golden; text compares exactly.
"""

import json
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = ROOT / "tests" / "golden"
PROFILE = "tests/golden/profile.toml"  # relative to the repository root, where the test runs
SCENARIO = ["--model", "qwen3-30b-a3b", "--system", "hgx-h200", "--tokens-cached", "4096", "--max-batch", "256",
            "--profile", PROFILE]
COMMANDS = {
    "plan": ["plan", *SCENARIO, "--racks", "1", "--top", "3"],
    "evaluate": ["evaluate", *SCENARIO[:6], "--tp", "2", "--batch", "64", "--quant", "fp8", "--kv-quant", "fp8",
                 *SCENARIO[8:]],
    # Training has no engine profile: its numbers move only with the hardware catalogue and the model.
    "train": ["train", "plan", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--racks", "1", "--top", "3"],
    "fleet": ["fleet", "tests/golden/fleet.toml", "--profile", PROFILE],
    # The 450 tok/s/user floor gives rows that cannot be planned (with the dense GEMMs on their kernel
    # curve H200 tops out at 305 and MI355X at 337 tok/s per user here), so the golden pins the "why not"
    # column too.
    "compare": ["compare", *SCENARIO[:3], "hgx-h200,mi355x-8", *SCENARIO[4:], "--min-tok-per-user", "0,450"],
    "frontier": ["frontier", *SCENARIO[:3], "hgx-h200,mi355x-8", *SCENARIO[4:], "--points", "5"],
}
SUFFIX = {"table": "txt", "markdown": "md", "csv": "csv", "json": "json", "html": "html"}
# Every command has every format, one self-contained HTML page included (planner/report/html.py).
CASES = [(c, f) for c in COMMANDS for f in SUFFIX]
TIMING_KEYS = {"solve_time_s", "wall_time_s", "table_time_s", "verify_time_s"}
TIMING_TEXT = re.compile(r"in [\d,.]+ ms \((tables [\d,.]+ s, )?wall [\d,.]+ s\)")


def _mask(obj):
    if isinstance(obj, dict):
        return {k: (0.0 if k in TIMING_KEYS else _mask(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mask(v) for v in obj]
    return obj


def _stable(text: str, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(_mask(json.loads(text)), indent=2) + "\n"
    return TIMING_TEXT.sub("in <t> ms (wall <t> s)", text)


def _close(a, b, path="$"):
    if isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, (int, float)) and isinstance(b, (int, float)), path
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{path}: keys differ"
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("command,fmt", CASES)
def test_golden(command, fmt, tmp_path, monkeypatch, update_golden):
    monkeypatch.chdir(ROOT)
    out = tmp_path / f"out.{SUFFIX[fmt]}"
    # --output writes the same report a terminal would get; the goldens check both options at once.
    result = CliRunner().invoke(cli, [*COMMANDS[command], "--format", fmt, "--output", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # with --output nothing reaches stdout
    got = _stable(out.read_text(), fmt)
    golden = GOLDEN / f"{command}.{SUFFIX[fmt]}"
    if update_golden:
        golden.write_text(got)
        return
    assert golden.exists(), f"{golden} is missing: run pytest {Path(__file__).relative_to(ROOT)} --update-golden"
    want = golden.read_text()
    if fmt == "json":
        _close(json.loads(got), json.loads(want))
    else:
        assert got == want, (f"{command} --format {fmt} differs from {golden.relative_to(ROOT)}; if the change is "
                             "intended, rerun with --update-golden and review the diff")


def test_timings_are_masked_and_nothing_else():
    # The mask replaces timing values only: a step time (a modelled number) is left alone.
    doc = {"solve_time_s": 0.0123, "step_time_s": 0.02, "alternatives": [{"wall_time_s": 1.5, "total_tps": 3.0}]}
    assert json.loads(_stable(json.dumps(doc), "json")) == {
        "solve_time_s": 0.0, "step_time_s": 0.02, "alternatives": [{"wall_time_s": 0.0, "total_tps": 3.0}]}
    line = "solver: highs in 1.5 ms (wall 0.02 s); verification: ok"
    assert _stable(line, "table") == "solver: highs in <t> ms (wall <t> s); verification: ok"
