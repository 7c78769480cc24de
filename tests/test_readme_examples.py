"""Every ```bash example in README.md runs and exits 0 (after pulp's ``test_examples.py``).

One test per block, named after its README section and line. A block runs in a fresh temporary
directory, so examples that need a file create it themselves (a heredoc in the same block). Lines
starting with ``rackplan `` run in this process through click's ``CliRunner``; any other line (a
heredoc, a pipe, a redirection) runs in bash with this interpreter's ``bin`` first on ``PATH``.

Not run: the two set-up blocks at the top (``pip install ...``), and any block preceded by the
line ``<!-- no-test -->`` (for examples needing a cluster or taking minutes).
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli

README = Path(__file__).resolve().parents[1] / "README.md"
SETUP_BLOCKS = 2
NO_TEST = "<!-- no-test -->"
SHELL_SYNTAX = re.compile(r"[|<>;&`$]")


def readme_blocks(text: str) -> list[tuple[str, int, list[str], bool]]:
    """(section, first line number, lines, skipped) for every ```bash block."""
    blocks, section, previous = [], "top", ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = re.match(r"<!-- section: ([\w-]+) -->", line.strip())
        if marker:
            section = marker.group(1)
        if line.strip() == "```bash":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((section, start + 1, body, previous == NO_TEST))
        if line.strip():
            previous = line.strip()
        i += 1
    return blocks


def commands(body: list[str]) -> list[str]:
    """Logical lines: backslash continuations joined, a heredoc kept whole with its body."""
    out, i = [], 0
    while i < len(body):
        line = body[i].rstrip()
        while line.endswith("\\") and i + 1 < len(body):
            i += 1
            line = line[:-1].rstrip() + " " + body[i].strip()
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)", line)
        if heredoc:
            end = heredoc.group(1)
            chunk = [line]
            while i + 1 < len(body):
                i += 1
                chunk.append(body[i])
                if body[i].strip() == end:
                    break
            line = "\n".join(chunk)
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line)
        i += 1
    return out


BLOCKS = readme_blocks(README.read_text())
RUNNABLE = [b for b in BLOCKS[SETUP_BLOCKS:] if not b[3]]


def test_the_setup_blocks_are_the_two_pip_installs():
    # Guards the exclusion: the first two blocks, and only they, are the pip install set-up.
    assert [b[2][0].split()[:2] for b in BLOCKS[:SETUP_BLOCKS]] == [["pip", "install"], ["pip", "install"]]
    assert all("pip install" not in line for b in RUNNABLE for line in b[2])
    # Every section with examples contributes blocks, so a README edit cannot drop them silently.
    assert {"quickstart", "planner", "compare"} <= {b[0] for b in RUNNABLE}


def _shell(line: str, cwd: Path) -> None:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{line}\nexit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("section,line,body,skipped", RUNNABLE, ids=[f"{b[0]}-line{b[1]}" for b in RUNNABLE])
def test_readme_block_runs(section, line, body, skipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    steps = commands(body)
    assert any(s.startswith("rackplan ") for s in steps), f"README line {line}: a bash block with no rackplan command"
    for step in steps:
        if step.startswith("rackplan ") and not SHELL_SYNTAX.search(step):
            result = CliRunner().invoke(cli, shlex.split(step)[1:])
            assert result.exit_code == 0, f"README line {line}: {step}\n{result.output[-2000:]}\n{result.exception!r}"
        else:
            _shell(step, tmp_path)
