"""The figures the docs quote are what the code prints today: ``python bench/docs.py --check`` passes.

``bench/docs.py`` reruns the command of every generated region of README.md and docs/*.md
(``<!-- begin output: COMMAND -->`` ... ``<!-- end output -->``) and redraws docs/frontier.png; the check
fails naming each file a regeneration would change. Fix a failure by running ``python bench/docs.py`` and
reviewing the diff (a changed number in the docs is a changed number in the model). Slow: it plans every
quoted scenario again and reruns the speed benches of the timed regions, about 2 minutes alone.
"""

import importlib.util
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {"PYTHONPATH": str(ROOT), "PATH": ""}  # the checkout's packages, whatever the working directory


@pytest.mark.slow
def test_the_docs_figures_are_current():
    done = subprocess.run([sys.executable, "bench/docs.py", "--check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{done.stdout}{done.stderr}"


def test_the_check_names_a_stale_page(tmp_path):
    # The check is only as good as its failure: a page whose region holds old output is named, and nothing
    # is written. Run on a copy of the repository's layout holding one stale page.
    (tmp_path / "bench").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "bench" / "docs.py").write_text((ROOT / "bench" / "docs.py").read_text())
    stale = "# t\n\n<!-- begin output: rackplan gpus --format csv -->\n```text\nold\n```\n<!-- end output -->\n"
    (tmp_path / "README.md").write_text(stale)
    done = subprocess.run([sys.executable, "bench/docs.py", "--check"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=ENV)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stale: README.md" in done.stdout
    assert (tmp_path / "README.md").read_text() == stale
    # Regenerating rewrites the region with the command and its output; a second check then passes.
    subprocess.run([sys.executable, "bench/docs.py"], cwd=tmp_path, check=True, capture_output=True, timeout=120,
                   env=ENV)
    text = (tmp_path / "README.md").read_text()
    assert "$ rackplan gpus --format csv\nGPU,vendor," in text and "old" not in text
    again = subprocess.run([sys.executable, "bench/docs.py", "--check"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=120, env=ENV)
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_timed_region_keeps_its_measured_figures_until_remeasured(tmp_path):
    # A timed region quotes a benchmark as measured on the machine it names; another run's figures, verdicts
    # and machine differ, and the check still passes (masked), a plain run keeps the quoted figures, and
    # --timed rewrites them with this run's. A change of wording or columns is stale like any other region.
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "docs.py").write_text((ROOT / "bench" / "docs.py").read_text())
    (tmp_path / "speed.py").write_text('print("machine: Fast CPU (64 CPUs, arm64)")\n'
                                       'print("plan   0.92  1.07x  yes")\n')
    marker = "<!-- begin output, timed: python speed.py -->"
    quoted = f"{marker}\n```text\n$ python speed.py\nmachine: Slow CPU (2 CPUs, x86_64)\nplan   2.50  3.10x  NO\n```\n"
    page = f"# t\n\n{quoted}<!-- end output -->\n"
    (tmp_path / "README.md").write_text(page)

    def docs(*args):
        return subprocess.run([sys.executable, "bench/docs.py", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, env=ENV)

    assert docs("--check").returncode == 0
    assert docs().returncode == 0 and (tmp_path / "README.md").read_text() == page
    assert docs("--timed").returncode == 0
    text = (tmp_path / "README.md").read_text()
    assert "machine: Fast CPU (64 CPUs, arm64)\nplan   0.92  1.07x  yes\n```" in text and "Slow" not in text
    # A column the quoted text lacks is a real change: stale.
    (tmp_path / "README.md").write_text(page.replace("  NO\n", "\n"))
    done = docs("--check")
    assert done.returncode == 1 and "stale: README.md" in done.stdout


def test_the_timed_mask_hides_figures_verdicts_and_the_machine_only():
    docs = _script()
    assert docs.mask_timed(["machine: AMD EPYC (2 CPUs, x86_64), Linux, Python 3.11.7",
                            "plan 0.92 1.07x 1.6x yes", "  dense 1,892,614 plans/s (below the 3,000,000 goal)"]) == (
        "machine: <m>\nplan <n> <n>x <n>x <v>\n dense <n> plans/s (<v> the <n> goal)")


def test_the_timed_mask_ignores_the_padding_a_figures_width_moves():
    # bench/evaluator.py right-aligns its rates in 12 columns: "   1,012,042" one run, "     878,894" the next
    # (the CI failure of 2026-12-03); the words around them are the same, so the masked texts must be too.
    docs = _script()
    assert docs.mask_timed(["isl 4096/osl 1024    1,012,042 plans/s"]) == docs.mask_timed(
        ["isl 4096/osl 1024      878,894 plans/s"])
    assert docs.mask_timed(["plan 0.92"]) != docs.mask_timed(["plans 0.92"])


def _script():
    spec = importlib.util.spec_from_file_location("bench_docs", ROOT / "bench" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _png(*chunks: tuple[bytes, bytes]) -> bytes:
    out = b"\x89PNG\r\n\x1a\n"
    for kind, data in chunks:
        out += struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return out


def test_a_picture_is_stamped_with_the_matplotlib_that_drew_it():
    # The stamp is a valid tEXt chunk right after IHDR (CRC over type and data), read back by stamped_version.
    docs = _script()
    import matplotlib

    bare = _png((b"IHDR", bytes(13)), (b"IDAT", b"x"), (b"IEND", b""))
    stamped = docs.stamp(bare)
    assert docs.stamped_version(bare) is None
    assert docs.stamped_version(stamped) == matplotlib.__version__
    body = b"Software\0matplotlib " + matplotlib.__version__.encode()
    assert stamped == bare[:33] + _png((b"tEXt", body))[8:] + bare[33:]
    assert docs.stamped_version(docs.stamp(bare)) == docs.stamped_version(stamped)  # deterministic
