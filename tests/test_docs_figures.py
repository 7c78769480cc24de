"""The figures the docs quote are what the code prints today: ``python bench/docs.py --check`` passes.

``bench/docs.py`` reruns the command of every generated region of README.md and docs/*.md
(``<!-- begin output: COMMAND -->`` ... ``<!-- end output -->``) and redraws docs/frontier.png; the check
fails naming each file a regeneration would change. Fix a failure by running ``python bench/docs.py`` and
reviewing the diff (a changed number in the docs is a changed number in the model). Slow: it plans every
quoted scenario again, about 10 s alone.
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
