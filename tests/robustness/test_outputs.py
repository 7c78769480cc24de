"""Output paths: refused before any work when they cannot be written; a failed write changes nothing.

Every option naming a file to write goes through ``planner.files``: a missing directory, a
directory, an empty name or a read-only target is a usage error (exit 2) naming the option; a
write that fails late (``/dev/full``: no space left) is exit 1 naming the path, and the previous
content of a regular target survives because the new one is renamed over it only when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hostile import refused

from planner.errors import InputError
from planner.files import atomic_path, write_text

GRID = 'models = ["llama-3.1-8b"]\nsystems = ["hgx-h200"]\ntokens_cached = [1024]\n[settings]\nmax_batch = 8\n'
CSV = "model,system,tp,batch,isl,osl,tpot_ms\nllama-3.1-8b,hgx-h200,1,8,1024,128,9.0\n"
FLEET = ('[[hardware]]\nsystem = "hgx-h200"\nservers = 1\n'
         '[[model]]\nname = "llama-3.1-8b"\ntokens_cached = 1024\ntarget_tps = 1000\n')
FAST_PLAN = ("--model", "llama-3.1-8b", "--system", "hgx-h200", "--max-batch", "8", "--top", "1")

# command line up to the path option, the option
WRITERS = [
    (("gpus",), "--output"),
    (("systems", "--format", "json"), "--output"),
    (("show", "gpu", "b200"), "--output"),
    (("plan", *FAST_PLAN), "--output"),
    (("plan", *FAST_PLAN), "--export-mps"),
    (("plan", *FAST_PLAN), "--export-lp"),
    (("min-gpus", "--target-tps", "1000", *FAST_PLAN), "--output"),
    (("evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--tokens-cached", "1024"), "--output"),
    (("compare", "--model", "llama-3.1-8b", "--system", "hgx-h200"), "--output"),
    (("frontier", "--model", "llama-3.1-8b", "--system", "hgx-h200"), "--output"),
    (("frontier", "--model", "llama-3.1-8b", "--system", "hgx-h200"), "--plot"),
    (("train", "plan", "--model", "llama-3.1-8b"), "--output"),
    (("train", "evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h200"), "--output"),
    (("fleet", "fleet.toml"), "--output"),
    (("sweep", "grid.toml"), "--output"),
    (("calibrate", "runs.csv"), "--out"),
]
# Paths refused before any work (relative to the case's directory).
BAD_PATHS = ("", " ", "missing-dir/out.txt", ".", "a-dir", "a-file.txt/below.txt")


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "a-file.txt").write_text("x")
    (tmp_path / "grid.toml").write_text(GRID)
    (tmp_path / "runs.csv").write_text(CSV)
    (tmp_path / "fleet.toml").write_text(FLEET)
    return tmp_path


CASES = [(argv, opt, path) for argv, opt in WRITERS for path in BAD_PATHS]


@pytest.mark.parametrize("argv,option,path", CASES, ids=[f"{' '.join(a)} {o}={p!r}" for a, o, p in CASES])
def test_unwritable_output_is_refused_before_the_work(rackplan, workdir, argv, option, path):
    refused(rackplan(*argv, option, path), 2, option)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
@pytest.mark.parametrize("argv,option", WRITERS[:4], ids=[" ".join(a) for a, _ in WRITERS[:4]])
def test_read_only_directory_is_refused(rackplan, workdir, argv, option):
    (workdir / "ro").mkdir(mode=0o500)
    refused(rackplan(*argv, option, "ro/out.txt"), 2, option, "not writable")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv,option", [w for w in WRITERS if w[1] not in ("--plot", "--export-mps", "--export-lp")],
                         ids=[" ".join(a) for a, o in WRITERS if o not in ("--plot", "--export-mps", "--export-lp")])
def test_full_disk_is_one_line_naming_the_path(rackplan, workdir, argv, option):
    # /dev/full accepts the open and fails every write with ENOSPC: the report is lost, the run says so.
    if argv[0] == "sweep":
        pytest.skip("a sweep streams rows to its file; covered by the sweep tests")
    refused(rackplan(*argv, option, "/dev/full"), 1, "/dev/full", "no space")


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("previous\n")

    def fails(tmp: str) -> None:
        Path(tmp).write_text("half a rep")
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match=r"report.txt: cannot write the report \(No space left on device\)"):
        with atomic_path(target, "report") as tmp:
            fails(tmp)
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]  # no temporary file left behind


def test_interrupted_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("previous\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            Path(tmp).write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_atomic_write_replaces_and_keeps_the_mode(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old\n")
    target.chmod(0o640)
    write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640


def test_report_to_file_writes_exactly_the_printed_text(rackplan, workdir):
    printed = rackplan("gpus", "--format", "csv")
    written = rackplan("gpus", "--format", "csv", "--output", "gpus.csv")
    assert printed.code == written.code == 0 and written.out == ""
    assert (workdir / "gpus.csv").read_text() == printed.out
