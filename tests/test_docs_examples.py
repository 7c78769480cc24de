"""Every ```bash example in README.md and docs/*.md runs and exits 0 (after pulp's ``test_examples.py``).

One test per block, named after its page and line. A block runs in a fresh temporary directory, so
examples that need a file create it themselves (a heredoc in the same block). Lines starting with
``rackplan `` run in this process through click's ``CliRunner``; any other line (a heredoc, a pipe, a
redirection) runs in bash with this interpreter's ``bin`` first on ``PATH``.

Markers, on the line before a block:

* ``<!-- slow -->``: the block takes more than about 10 s; it runs among the tests marked ``slow``
  (left out of the default run, run by CI), never skipped.
* ``<!-- no-test -->``: not run; only for blocks that cannot run here (they need a Ray cluster).

Not run either: the two set-up blocks at the top of the README (``pip install ...``); the first
test checks they are what CI runs. A block that runs ``--executor ray`` is skipped only when
``import ray`` fails (the optional ``ray`` extra, which CI installs), as in ``test_sweep_ray.py``.
"""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
SETUP_BLOCKS = 2
NO_TEST = "<!-- no-test -->"
SLOW = "<!-- slow -->"
SHELL_SYNTAX = re.compile(r"[|<>;&`$]")
HAS_RAY = importlib.util.find_spec("ray") is not None


def page_blocks(text: str) -> list[tuple[int, list[str], str]]:
    """(first line number, lines, marker) for every ```bash block; the marker is the last non-blank
    line before the fence when it is ``<!-- slow -->`` or ``<!-- no-test -->``, else ''."""
    blocks, previous = [], ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "```bash":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((start + 1, body, previous if previous in (NO_TEST, SLOW) else ""))
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


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


BLOCKS = {page: page_blocks(page.read_text()) for page in PAGES}
SETUP = BLOCKS[README][:SETUP_BLOCKS]
RUNNABLE = [(_name(page), line, body, marker)
            for page, blocks in BLOCKS.items()
            for line, body, marker in (blocks[SETUP_BLOCKS:] if page == README else blocks)
            if marker != NO_TEST]


def _param(page, line, body, marker):
    marks = [pytest.mark.slow] if marker == SLOW else []
    if any("--executor ray" in s for s in body) and not HAS_RAY:
        marks.append(pytest.mark.skip(reason="ray is not importable; install the extra: pip install '.[ray]'"))
    return pytest.param(page, line, body, marks=marks, id=f"{Path(page).stem}-line{line}")


def test_the_setup_blocks_are_the_two_pip_installs_and_the_second_is_what_ci_runs():
    # Guards the exclusion: the first two README blocks, and only they, are the pip install set-up.
    assert [b[1][0].split()[:2] for b in SETUP] == [["pip", "install"], ["pip", "install"]]
    assert all("pip install" not in line for b in RUNNABLE for line in b[2])
    # The README's test command is CI's: the same extras installed, the same pytest line (slow tests included).
    install, pytest_line = (part.strip() for part in SETUP[1][1][0].split("&&"))
    ci = (ROOT / ".ci" / "run").read_text()
    assert install.split("pip install ")[1] in ci
    assert pytest_line in ci.splitlines()
    assert '-m "slow or not slow"' in pytest_line


def test_every_page_contributes_examples():
    # A docs edit cannot drop a page's examples silently.
    pages = {b[0] for b in RUNNABLE}
    assert {"README.md", "docs/usage.md", "docs/catalogues.md", "docs/cost-model.md", "docs/planner.md",
            "docs/studies.md", "docs/training.md", "docs/fleet.md", "docs/accuracy.md"} <= pages


def test_markers_are_read():
    text = ("<!-- slow -->\n```bash\nrackplan gpus\n```\n\n<!-- no-test -->\n\n```bash\nrackplan x\n```\n"
            "```bash\nrackplan y\n```\n")
    assert [(line, marker) for line, _, marker in page_blocks(text)] == [(3, SLOW), (9, NO_TEST), (12, "")]


def _shell(line: str, cwd: Path) -> None:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", line], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{line}\nexit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("page,line,body", [_param(*b) for b in RUNNABLE])
def test_docs_block_runs(page, line, body, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    steps = commands(body)
    assert steps, f"{page} line {line}: a bash block with no command"
    for step in steps:
        if step.startswith("rackplan ") and not SHELL_SYNTAX.search(step):
            result = CliRunner().invoke(cli, shlex.split(step)[1:])
            assert result.exit_code == 0, f"{page} line {line}: {step}\n{result.output[-2000:]}\n{result.exception!r}"
        else:
            _shell(step, tmp_path)
