"""The repository stands alone: no tracked file points into a folder a user's clone lacks.

The project was started next to a team folder of reference notes and raw data; everything the code,
data and tests need has since been copied in or cited at its original source (docs/sources.md).
A path into that folder (the folder's name followed by a slash) in any tracked file would send a
reader, or a test, somewhere a clone does not have.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEEDLE = "shared" + "/"  # split so that this file does not match itself


def tracked_files() -> list[str]:
    """Paths git tracks in this checkout; skips the test outside a git checkout."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    done = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout")
    return [p for p in done.stdout.decode().split("\0") if p]


def references(paths: list[str]) -> list[str]:
    """``path:line`` of every line of ``paths`` that names the outside folder."""
    hits = []
    for rel in paths:
        path = ROOT / rel
        if not path.is_file():  # deleted in the working tree, or a submodule
            continue
        data = path.read_bytes()
        if NEEDLE.encode() not in data:
            continue
        text = data.decode("utf-8", errors="replace")
        hits += [f"{rel}:{n}" for n, line in enumerate(text.splitlines(), 1) if NEEDLE in line]
    return hits


def test_no_tracked_file_points_outside_the_repository():
    assert references(tracked_files()) == []


def test_every_source_key_of_the_catalogue_resolves_in_docs():
    # The catalogue's [sources] cite short keys ([N1], [A2]=[N2], [E8], ...); docs/sources.md lists each.
    cited = set()
    for path in sorted((ROOT / "hardware" / "data").rglob("*.toml")):
        cited |= set(re.findall(r"\[([NAESG]\d+b?)\]", path.read_text()))
    listed = set(re.findall(r"^- \[([NAESG]\d+b?)\]", (ROOT / "docs" / "sources.md").read_text(), flags=re.M))
    assert cited, "no keys found: the pattern is out of date"
    assert sorted(cited - listed) == []
