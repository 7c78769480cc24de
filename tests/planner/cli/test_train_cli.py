"""``rackplan train plan|min-gpus|evaluate`` and its alias ``--mode training`` on the serving commands.

The alias forwards to the train command with the same options, so both spellings print the same
bytes (solve timings masked: they differ run to run). Each command's help lists its own mode's
options only; an option of the other mode is refused with one line.
"""

import json
import re

import click
import pytest
from click.testing import CliRunner

from planner.cli.main import cli, main

RUN = CliRunner()
TIMING_TEXT = re.compile(r"in [\d,.]+ ms \(wall [\d,.]+ s\)")
TIMING_KEYS = ("solve_time_s", "wall_time_s")
SMALL_JOB = ["--model", "llama-3.1-8b", "--system", "hgx-h100"]


def _out(args) -> str:
    result = RUN.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _masked(text: str) -> str:
    if text.lstrip().startswith("{"):
        doc = json.loads(text)
        for d in [doc, *doc.get("alternatives", [])]:
            for key in TIMING_KEYS:
                d.pop(key, None)
        return json.dumps(doc, indent=2)
    return TIMING_TEXT.sub("in <t> ms (wall <t> s)", text)


@pytest.mark.parametrize("command,args", [
    ("plan", [*SMALL_JOB, "--gpus", "16", "--zero", "1,3", "--top", "2"]),
    ("min-gpus", [*SMALL_JOB, "--target-tokens-per-s", "200000", "--global-batch", "512", "--top", "1"]),
    ("evaluate", [*SMALL_JOB, "--tp", "2", "--dp", "4", "--global-batch", "64", "--precision", "FP8"]),
])
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_both_spellings_print_the_same(command, args, fmt):
    train = _out(["train", command, *args, "--format", fmt])
    alias = _out([command, "--mode", "training", *args, "--format", fmt])
    alias_eq = _out([command, *args, "--mode=training", "--format", fmt])
    assert _masked(train) == _masked(alias) == _masked(alias_eq)
    assert ("training llama-3.1-8b on hgx-h100" in train) == (fmt == "table")


def test_mode_inference_is_the_serving_command():
    args = ["--model", "llama-3.1-8b", "--gpu", "h200-sxm", "--batch", "8", "--tokens-cached", "1024"]
    assert _out(["evaluate", "--mode", "inference", *args]) == _out(["evaluate", *args])


def _option_names(command: click.Command) -> set[str]:
    return {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}


def test_each_help_shows_its_own_mode_only():
    plan_help, train_help = _out(["plan", "--help"]), _out(["train", "plan", "--help"])
    for flag in ("--micro-batch", "--global-batch", "--zero", "--target-tokens-per-s", "--mode "):
        assert flag not in plan_help, flag
    for flag in ("--quant", "--batch", "--tokens-cached", "--engine", "--min-tok-per-user", "--mode "):
        assert flag not in train_help, flag
    # Every option a command takes is in its help (none hidden).
    train_cmds = cli.commands["train"].commands
    for name in ("plan", "min-gpus", "evaluate"):
        for command, words in ((cli.commands[name], _out([name, "--help"])),
                               (train_cmds[name], _out(["train", name, "--help"]))):
            assert all(opt in words for opt in _option_names(command)), name
    assert set(train_cmds) == {"plan", "min-gpus", "evaluate"}


def _fails(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return info.value.code, err


def test_an_option_of_the_other_mode_is_one_line(capsys):
    code, err = _fails(["plan", "--mode", "training", "--quant", "fp8", "--batch", "4"], capsys)
    assert code == 1 and "--batch, --quant apply to serving, not --mode training" in err
    code, err = _fails(["evaluate", "--cp", "2", "--model", "llama-3.1-8b", "--system", "hgx-h100"], capsys)
    assert (code, err) == (1, "error: --cp needs --mode training\n")
    # The train commands simply do not have serving options: a usage error (exit 2).
    code, err = _fails(["train", "plan", "--quant", "fp8"], capsys)
    assert code == 2 and "No such option '--quant'" in err
    code, err = _fails(["plan", "--mode", "serving"], capsys)
    assert code == 2 and "'serving' is not one of 'inference', 'training'" in err and "rackplan plan --help" in err


def test_lists_are_read_by_one_parser(capsys):
    # The same comma-list rules in every command: a bad item or an empty list is a usage error.
    for args in (["plan", "--tp", "2,x"], ["train", "plan", "--zero", ","], ["compare", "--racks", "one"]):
        code, err = _fails(args, capsys)
        assert code == 2 and "expected a comma-separated list" in err, args
