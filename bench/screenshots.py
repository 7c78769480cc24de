"""Regenerate the pictures of the HTML reports in docs/: docs/plan-report.png is the default plan's page
(``rackplan plan --top 3 --format html``) as headless Chromium draws it at 1400 x 1450 pixels.

Needs a Chromium (``chromium``, ``chromium-browser`` or ``google-chrome`` on PATH; .ci/run installs one
from the system packages); without one it says so and changes nothing. The page's DOM is checked by
tests/planner/report/test_html.py; this script only redraws the picture (rerun it when the plan's
numbers or the page's layout move, and commit the PNG).

Run: python bench/screenshots.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# This folder holds bench/planner.py, named like the `planner` package; keep it off the import path.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

ROOT = Path(__file__).resolve().parents[1]
# (picture, command arguments after `rackplan`, window width, height)
SHOTS = [("docs/plan-report.png", ["plan", "--top", "3", "--format", "html"], 1400, 1450)]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def main() -> int:
    browser = next((shutil.which(n) for n in BROWSERS if shutil.which(n)), None)
    if browser is None:
        print(f"no Chromium on PATH ({', '.join(BROWSERS)}): pictures left as they are")
        return 0
    from click.testing import CliRunner

    from planner.cli.main import cli
    with tempfile.TemporaryDirectory() as tmp:
        for picture, args, width, height in SHOTS:
            page = Path(tmp) / "page.html"
            result = CliRunner().invoke(cli, [*args, "--output", str(page)])
            if result.exit_code != 0:
                print(f"rackplan {' '.join(args)} failed: {result.output.strip()}")
                return 1
            shot = Path(tmp) / "shot.png"
            subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()],
                           capture_output=True, timeout=120, check=True)
            shutil.copyfile(shot, ROOT / picture)
            print(f"{picture}: rackplan {' '.join(args)}, {width} x {height} px, {shot.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
