"""Regenerate every figure the docs quote from a command's output, so that the docs cannot drift.

A page (README.md or docs/*.md) quotes a command's output only inside a generated region::

    <!-- begin output: rackplan plan --top 3 -->
    ```text
    $ rackplan plan --top 3
    ... what the command prints ...
    ```
    <!-- end output -->

This script runs the command in the marker from the repository root and rewrites the region: a
``text`` block holding ``$ COMMAND`` and its output. ``rackplan ...`` runs the console script's entry
point in this process (under click's test isolation, so errors print as the shell would show them);
``python ...`` runs this interpreter in a subprocess. A command must exit 0, unless the marker says
otherwise (``<!-- begin output, exit 1: rackplan plan ... -->``, for a documented error message);
stdout is quoted, and stderr too when the command fails.

Timings differ run to run, so they are masked with ``<t>`` (the solver's ``in 9.7 ms (wall 0.36 s)``
becomes ``in <t> ms (wall <t> s)``; JSON's ``solve_time_s`` and friends become ``"<t>"``). Nothing
else is masked: any other difference is a real change the docs must show.

Speed figures are the exception: a region marked ``timed`` (``<!-- begin output, timed: python
bench/cli.py -->``) quotes a benchmark's output as measured, figures and all, under the benchmark's
first line naming the machine (``bench/machine.py``). Its figures move run to run and machine to
machine, so they are compared masked: every number becomes ``<n>``, every verdict (``yes``/``NO``,
``meets``/``below``/``above``) ``<v>``, the machine line ``machine: <m>`` and a run of spaces (a
figure's width pads its column) one space. ``--check`` reruns the
benchmark and passes when the masked texts agree (the same commands, columns and wording); a plain
run rewrites a timed region only when they differ, and ``--timed`` rewrites every timed region with
this run's figures (run it on the machine the docs should quote, then commit the figures).

A ``--plot FILE`` in a marker's command names a tracked picture (``docs/frontier.png``): the command
draws it into a scratch folder and the script copies it over FILE when the bytes differ. The plot
module writes PNGs without a timestamp or version string, so the same frontier drawn by the same
matplotlib gives the same bytes. Another matplotlib release may anti-alias or hint text differently,
so the script stamps the PNG with the matplotlib version that drew it (a ``Software`` text chunk), and
``--check`` compares the bytes only when the installed version is the stamped one; otherwise it says
so and moves on (the numbers behind the picture are still checked: they are the region's table).

Usage::

    python bench/docs.py           # rewrite the stale regions and pictures, name each file written
    python bench/docs.py --check   # change nothing; exit 1 naming every stale file
    python bench/docs.py --timed   # also re-measure the speed figures of the timed regions

After ``python bench/docs.py``, ``git diff --exit-code docs/ README.md`` is clean.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

# This folder holds bench/planner.py, named like the `planner` package; keep it off the import path.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

ROOT = Path(__file__).resolve().parents[1]
BEGIN = re.compile(r"^<!-- begin output(?:, exit (\d+))?(, timed)?: (.+?) -->$")
END = "<!-- end output -->"
PLACEHOLDER = "<t>"
# "in 9.7 ms (wall 0.36 s)", "in 215 ms (tables 0.83 s, wall 1.06 s)", "scored in 0.2 s".
TIMING_TEXT = re.compile(r"\b(in|tables|wall) [\d,.]+ (ms|s)\b")
TIMING_JSON = re.compile(r'("(?:solve|wall|table|verify)_time_s": )[-+\d.eE]+')
# A timed region's figures, verdicts and machine line (see the module's docstring).
TIMED_MACHINE = re.compile(r"^machine: .*$", re.MULTILINE)
TIMED_NUMBER = re.compile(r"\d[\d,.]*")
TIMED_VERDICT = re.compile(r"\b(yes|NO|meets|below|above)\b")
# A figure's width pads its column ("   878,894" beside "1,012,042"), so runs of spaces compare as one.
TIMED_PADDING = re.compile(r" {2,}")


@dataclass(frozen=True)
class Region:
    """One generated region of a page: the lines between its markers (exclusive), its command."""
    start: int
    end: int
    command: str
    exit_code: int
    timed: bool = False


def pages() -> list[Path]:
    """Every page that may hold generated regions: the README and docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def regions(lines: list[str], name: str) -> list[Region]:
    """The generated regions of a page, in order; a marker left open or an orphan end is an error."""
    found, open_at = [], None
    for i, line in enumerate(lines):
        begin = BEGIN.match(line.strip())
        if begin:
            if open_at is not None:
                raise SystemExit(f"{name}:{i + 1}: a begin output marker inside the region "
                                 f"opened at line {open_at[0] + 1}")
            open_at = (i, begin.group(3), int(begin.group(1) or 0), bool(begin.group(2)))
        elif line.strip() == END:
            if open_at is None:
                raise SystemExit(f"{name}:{i + 1}: '{END}' with no begin output marker")
            found.append(Region(open_at[0] + 1, i, *open_at[1:]))
            open_at = None
    if open_at is not None:
        raise SystemExit(f"{name}:{open_at[0] + 1}: begin output marker never ended")
    return found


def mask(text: str) -> str:
    """The output with its run-to-run timings replaced by the placeholder."""
    text = TIMING_TEXT.sub(lambda m: f"{m.group(1)} {PLACEHOLDER} {m.group(2)}", text)
    return TIMING_JSON.sub(lambda m: f'{m.group(1)}"{PLACEHOLDER}"', text)


def mask_timed(lines: list[str]) -> str:
    """A timed region's text with its figures, verdicts and machine line masked."""
    text = TIMED_MACHINE.sub("machine: <m>", "\n".join(lines))
    return TIMED_PADDING.sub(" ", TIMED_VERDICT.sub("<v>", TIMED_NUMBER.sub("<n>", text)))


def run(command: str, scratch: Path) -> tuple[int, str, dict[Path, Path]]:
    """(exit code, output, pictures drawn: tracked path -> scratch path) of one marker's command,
    run from the repository root."""
    argv = shlex.split(command)
    if "--output" in argv or "--export-mps" in argv or "--export-lp" in argv:
        raise SystemExit(f"'{command}': a generated region quotes what a command prints, not a file it writes")
    pictures: dict[Path, Path] = {}
    for i, arg in enumerate(argv[:-1]):
        if arg == "--plot":
            drawn = scratch / f"{len(pictures)}{Path(argv[i + 1]).suffix}"
            pictures[ROOT / argv[i + 1]] = drawn
            argv[i + 1] = str(drawn)
    if argv[0] == "rackplan":
        code, out, err = _in_process(argv[1:])
    elif argv[0] == "python":
        done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
        code, out, err = done.returncode, done.stdout, done.stderr
    else:
        raise SystemExit(f"'{command}': a generated region runs rackplan or python, nothing else")
    return code, (out if code == 0 else out + err), pictures


def _in_process(args: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the console script's entry point, run in this process with
    click's test isolation, so that errors print exactly as ``rackplan`` prints them."""
    from click.testing import CliRunner

    from planner.cli.main import main as rackplan

    with CliRunner().isolation() as (out, err, _):
        try:
            rackplan(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue().decode(), err.getvalue().decode()


def stamp(png: bytes) -> bytes:
    """The PNG with a ``Software`` text chunk naming the matplotlib version, right after its header."""
    import matplotlib

    body = b"Software\0" + f"matplotlib {matplotlib.__version__}".encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    header_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4  # signature, then IHDR: length, type, data, CRC
    return png[:header_end] + chunk + png[header_end:]


def stamped_version(png: bytes) -> str | None:
    """The matplotlib version in the PNG's ``Software`` text chunk, or None."""
    at = 8  # after the signature: chunks of length, type, data, CRC
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I", png[at:at + 4])[0], png[at + 4:at + 8]
        data = png[at + 8:at + 8 + length]
        if kind == b"tEXt" and data.startswith(b"Software\0matplotlib "):
            return data.split(b" ", 1)[1].decode()
        at += 12 + length
    return None


def render(command: str, output: str, timed: bool = False) -> list[str]:
    """The region's lines: a text block with the command and its output (timings masked unless the
    region is timed), trailing spaces cut."""
    body = [line.rstrip() for line in (output if timed else mask(output)).rstrip("\n").splitlines()]
    return ["```text", f"$ {command}", *body, "```"]


def regenerate(page: Path, scratch: Path, remeasure: bool = False) -> tuple[str, dict[Path, bytes]]:
    """The page's text with every region rewritten, and the bytes of every picture its commands draw.
    A timed region keeps its figures when its masked text is unchanged, unless ``remeasure``."""
    lines = page.read_text().splitlines()
    name = page.relative_to(ROOT).as_posix()
    pictures: dict[Path, bytes] = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for region in reversed(regions(lines, name)):
            code, output, drawn = run(region.command, scratch)
            if code != region.exit_code:
                raise SystemExit(f"{name}:{region.start}: '{region.command}' exited {code}, "
                                 f"the marker expects {region.exit_code}\n{output[-2000:]}")
            fresh = render(region.command, output, region.timed)
            kept = lines[region.start:region.end]
            if region.timed and not remeasure and mask_timed(kept) == mask_timed(fresh):
                fresh = kept
            lines[region.start:region.end] = fresh
            pictures.update({path: stamp(tmp.read_bytes()) for path, tmp in drawn.items()})
    finally:
        os.chdir(cwd)
    return "\n".join(lines) + "\n", pictures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming every stale file")
    parser.add_argument("--timed", action="store_true",
                        help="rewrite the timed regions with this run's speed figures (this machine's)")
    args = parser.parse_args(argv)
    if args.check and args.timed:
        parser.error("--timed rewrites figures; --check changes nothing: give one")
    stale = []
    with tempfile.TemporaryDirectory() as scratch:
        for page in pages():
            text, pictures = regenerate(page, Path(scratch), remeasure=args.timed)
            outputs = {page: text.encode(), **pictures}
            for path, data in outputs.items():
                if path.exists() and path.read_bytes() == data:
                    continue
                if args.check and path in pictures and path.exists() and \
                        stamped_version(path.read_bytes()) != stamped_version(data):
                    print(f"note: {path.relative_to(ROOT).as_posix()} was drawn with matplotlib "
                          f"{stamped_version(path.read_bytes())}, this is {stamped_version(data)}: bytes not compared")
                    continue
                stale.append(path.relative_to(ROOT).as_posix())
                if not args.check:
                    path.write_bytes(data)
    for name in stale:
        print(f"{'stale' if args.check else 'wrote'}: {name}")
    if args.check and stale:
        print("regenerate with: python bench/docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
