"""``plan --format html``: one self-contained page with every plan row, the charts and why this plan.

The DOM is checked with the standard library's parser on every run; where a Chromium is installed
(CI installs one from the system packages, ``.ci/run``), the page is also rendered headless and its
rendered DOM and screenshot checked.
"""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli.main import cli


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.stack, self.rows, self.bars, self.why, self.external = [], [], 0, {}, 0, []
        self.table_rows, self.points, self.lines = {}, 0, 0
        self._svg = self._table = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "table":
            self._table = a.get("id")
            self.table_rows[self._table] = 0
        if tag == "tr" and "tbody" in self.stack:
            self.rows += 1
            self.table_rows[self._table] += 1
        if tag == "svg":
            self._svg = a.get("id")
            self.bars[self._svg] = 0
        if tag == "rect" and a.get("class") == "bar":
            self.bars[self._svg] += 1
        self.points += tag == "circle" and a.get("class") == "point"
        self.lines += tag == "polyline" and a.get("class") == "line"
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
    # Step time: 7 terms (compute, HBM, comm, offload, dense GEMMs, MoE experts, attention kernels) x 3
    # plans; memory: 3 parts x 3 plans; fabric: 3 tiers of the optimum.
    assert dom.bars == {"step-time": 21, "memory": 9, "fabric": 3}
    # Why this plan: GPU budget and HBM bind, the pace, the runner-up, one move (no latency limit given).
    assert dom.why == 5
    assert dom.external == []  # nothing fetched when viewed
    assert "script" not in dom.tags


def test_disagg_writes_the_fleet_page_with_its_limits_and_why(tmp_path):
    # plan --disagg --format html: the pools' fleet page, the limits line in its header and why this plan.
    out = tmp_path / "disagg.html"
    result = CliRunner().invoke(cli, ["plan", "--disagg", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--gpus",
                                      "8", "--isl", "1024", "--osl", "256", "--batch", "8,64,256,1024", "--format",
                                      "html", "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    dom = _Dom()
    text = out.read_text()
    dom.feed(text)
    # One prefill and one decode pool; one model; the KV hand-off between them over the inter-server tier.
    assert dom.table_rows == {"pools": 2, "models": 1, "kv": 1, "fabric": 1}
    assert dom.bars == {"memory": 2, "fabric": 1}
    # 5 limits (GPU budget, 2 pools' HBM, TPOT, TTFT), the runner-up note, 3 moves (one more rack, TPOT and
    # TTFT relaxed): 9 lines.
    assert dom.why == 9
    assert "limits: TPOT &lt;= 80.0 ms" in text and dom.external == []


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                None)


def rendered(page: Path, shot: Path) -> _Dom:
    """``page`` as headless Chromium renders it (its DOM after layout), with no console message, and
    its screenshot written to ``shot`` (a real picture: over 10 kB)."""
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"]
    # --enable-logging=stderr prints every console message as a CONSOLE(...) line.
    dom = subprocess.run([*flags, "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr
    assert "CONSOLE(" not in dom.stderr, dom.stderr
    done = subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert done.returncode == 0 and shot.stat().st_size > 10_000
    out = _Dom()
    out.feed(dom.stdout)
    return out


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (.ci/run installs one)")
def test_headless_chromium_renders_the_page(page, tmp_path):
    dom = rendered(page, tmp_path / "plan.png")
    assert dom.rows == 3 and dom.bars == {"step-time": 21, "memory": 9, "fabric": 3}


# Every command's page (the goldens of tests/planner/studies/test_compare_golden.py, same scenarios):
# rows per table, bars per chart, frontier points and lines. The counts come from the JSON goldens.
GOLDEN = Path(__file__).resolve().parents[2] / "golden"
PAGES = {
    # Every flattened field of the JSON golden is a row (evaluate.txt: title, header, rule and 50 fields);
    # step time 7 terms, memory 3 parts, fabric 3 tiers.
    "evaluate": ({"fields": "flatten"}, {"step-time": 7, "memory": 3, "fabric": 3}, 0, 0),
    # --top 3: three layouts; step time 5 terms x 3, memory 5 parts x 3, fabric 3 tiers of the optimum.
    "train": ({"plans": 3}, {"step-time": 15, "memory": 15, "fabric": 3}, 0, 0),
    # One pool, one model, no KV hand-off, no fabric load (one GPU): memory is one bar.
    "fleet": ({"pools": 1, "models": 1}, {"memory": 1}, 0, 0),
    # 4 scenarios, 2 with a plan (the 450 tok/s/user floor rules out the other two): 7 step terms and
    # 3 memory parts each.
    "compare": ({"rows": 4}, {"step-time": 14, "memory": 6}, 0, 0),
    # 2 lines of 5 points (--points 5), each point a table row and a circle.
    "frontier": ({"points": 10}, {}, 10, 2),
    # --top 3 plans; charts as in test_the_page_holds_every_plan_the_charts_and_the_explanation.
    "plan": ({"plans": 3}, {"step-time": 21, "memory": 9, "fabric": 3}, 0, 0),
}


def _expected_rows(command: str) -> dict:
    rows = dict(PAGES[command][0])
    if rows.get("fields") == "flatten":
        from planner.report.tables import flatten
        rows["fields"] = len(flatten(json.loads((GOLDEN / "evaluate.json").read_text())))
    return rows


def test_the_expected_counts_agree_with_the_json_goldens():
    # The table rows above are the rows of each JSON golden; a golden with more rows must move them too.
    docs = {c: json.loads((GOLDEN / f"{c}.json").read_text()) for c in ("train", "fleet", "compare", "frontier")}
    assert len(docs["train"]["alternatives"]) + 1 == 3
    assert (len(docs["fleet"]["pools"]), len(docs["fleet"]["models"]), docs["fleet"]["fabric"]) == (1, 1, [])
    assert [r["status"] == "ok" for r in docs["compare"]["rows"]] == [True, False, True, False]
    assert len(docs["frontier"]) == 10 and len({r["series"] for r in docs["frontier"]}) == 2
    # plan 10 + 41 scalars and nested figures (time_split_s: 7 terms; out_of_family_error_pct null: one field)
    assert _expected_rows("evaluate")["fields"] == 51


def _check(dom: _Dom, command: str) -> None:
    rows, bars, points, lines = PAGES[command]
    assert {k: v for k, v in dom.table_rows.items() if k in rows} == _expected_rows(command)
    assert {k: v for k, v in dom.bars.items() if k in bars} == bars
    assert (dom.points, dom.lines) == (points, lines)


@pytest.mark.parametrize("command", PAGES)
def test_every_command_page_holds_its_rows_and_charts(command):
    dom = _Dom()
    dom.feed((GOLDEN / f"{command}.html").read_text())
    _check(dom, command)
    assert dom.external == [] and "script" not in dom.tags  # self-contained, nothing fetched


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (.ci/run installs one)")
@pytest.mark.parametrize("command", PAGES)
def test_headless_chromium_renders_every_command_page(command, tmp_path):
    _check(rendered(GOLDEN / f"{command}.html", tmp_path / f"{command}.png"), command)
