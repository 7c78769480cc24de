"""``plan --format html``: one self-contained page with every plan row, the charts and why this plan.

The DOM is checked with the standard library's parser on every run; where a Chromium is installed
(CI installs one from the system packages, ``.ci/run``), the page is also rendered headless and its
rendered DOM and screenshot checked.
"""

import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from planner.cli.main import cli


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.stack, self.rows, self.bars, self.why, self.external = [], [], 0, {}, 0, []
        self._svg = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "tr" and "tbody" in self.stack:
            self.rows += 1
        if tag == "svg":
            self._svg = a.get("id")
            self.bars[self._svg] = 0
        if tag == "rect" and a.get("class") == "bar":
            self.bars[self._svg] += 1
        if tag == "li":
            self.why += 1
        for key in ("src", "href"):
            if key in a:
                self.external.append(a[key])
        if tag not in ("meta", "rect", "line"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "plan.html"
    result = CliRunner().invoke(cli, ["plan", "--top", "3", "--format", "html", "--output", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_the_page_holds_every_plan_the_charts_and_the_explanation(page):
    dom = _Dom()
    dom.feed(page.read_text())
    assert dom.rows == 3  # --top 3: the optimum and two alternatives
    # Step time: 5 terms (compute, HBM, comm, offload, attention) x 3 plans; memory: 3 parts x 3 plans;
    # fabric: 3 tiers of the optimum.
    assert dom.bars == {"step-time": 15, "memory": 9, "fabric": 3}
    # Why this plan: GPU budget and HBM bind, the pace, the runner-up, one move (no latency limit given).
    assert dom.why == 5
    assert dom.external == []  # nothing fetched when viewed
    assert "script" not in dom.tags


def test_html_is_refused_with_disagg_in_one_line(capfd):
    from planner.cli.main import main
    with pytest.raises(SystemExit) as info:
        main(["plan", "--disagg", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus", "8", "--isl", "1024",
              "--osl", "256", "--format", "html"])
    assert info.value.code == 1
    err = capfd.readouterr().err.strip()
    assert err == "error: --format html: not available with --disagg yet; use table, markdown, csv or json"


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (.ci/run installs one)")
def test_headless_chromium_renders_the_page(page, tmp_path):
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"]
    # --enable-logging=stderr prints every console message as a CONSOLE(...) line.
    dom = subprocess.run([*flags, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr
    rendered = _Dom()
    rendered.feed(dom.stdout)
    assert rendered.rows == 3 and rendered.bars == {"step-time": 15, "memory": 9, "fabric": 3}
    assert "CONSOLE(" not in dom.stderr, dom.stderr
    shot = tmp_path / "plan.png"
    done = subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert done.returncode == 0 and shot.stat().st_size > 10_000
