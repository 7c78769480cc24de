"""Every example a command's --help gives runs as written (issue 17: help text that is true)."""

import re
import shlex

import click
import pytest
from click.testing import CliRunner

from planner.cli.main import cli

# Measured runs for the calibrate example (--gpu h100 --engine vllm): three vLLM rows on H100 SXM.
RUNS = """model,gpu,engine,tp,batch,quant,isl,osl,tpot_ms
llama-3.1-8b,h100-sxm,vllm,1,16,bf16,1024,256,9.6
llama-3.1-8b,h100-sxm,vllm,1,64,bf16,1024,256,13.9
llama-3.1-8b,h100-sxm,vllm,2,32,bf16,1024,256,8.1
"""


def _commands(group, prefix=()):
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def _examples():
    found = []
    for path, cmd in _commands(cli):
        text = " ".join(line.strip() for line in (cmd.help or "").splitlines())
        found += [(path, m.group(1).strip()) for m in re.finditer(r"Example: (rackplan .+?)(?:$|(?<=\S)\s{2,})", text)]
    return found


EXAMPLES = _examples()


def test_the_help_texts_have_examples():
    # evaluate and calibrate carry one each; a new example is picked up without editing this test.
    assert {p for p, _ in EXAMPLES} >= {("evaluate",), ("calibrate",)}


@pytest.mark.parametrize("path,example", EXAMPLES, ids=[" ".join(p) for p, _ in EXAMPLES])
def test_every_help_example_runs(path, example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs.csv").write_text(RUNS)
    args = shlex.split(example)[1:]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, f"{example}: {result.output}"
