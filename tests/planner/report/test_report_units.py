"""Reports convert units in one place (``planner.units``) and share one header/table builder."""

import re
from pathlib import Path

import pytest

from planner.report.tables import Column, budget_text, format_ranked, solver_text

ROOT = Path(__file__).resolve().parents[3]
# A unit conversion written inline: x / 1e9, x * 1e3, x / 86400, ...
INLINE_CONVERSION = re.compile(r"[*/]\s*(1e\d+|1000\b|86400|3600\b)")


REPORTING = sorted(p for d in ("cli", "report", "studies") for p in (ROOT / "planner" / d).glob("*.py"))


@pytest.mark.parametrize("path", REPORTING, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_inline_unit_conversions(path):
    hits = [f"{path.name}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
            if INLINE_CONVERSION.search(line) and not line.lstrip().startswith(("#", "*"))]
    assert hits == [], "use planner.units: " + "; ".join(hits)


VERDICT = {"ok": True, "checks": [{"name": "gpu_budget", "slack": 8.0}, {"name": "layout_rules", "slack": 0.0}]}
DOC = {"rank": 1, "value": 2.5, "solver": "highs", "solve_time_s": 0.0012, "wall_time_s": 0.25,
       "verification": VERDICT, "alternatives": [{"rank": 2, "value": 1.25}]}
COLUMNS = [Column("#", "rank"), Column("value", "value", ".2f")]


def test_budget_and_solver_lines():
    assert budget_text({"racks": 2, "gpus": 144, "max_power_kw": None}) == "budget 2 rack(s), 144 GPUs"
    assert budget_text({"racks": None, "gpus": 16, "max_power_kw": 12.5}) == "budget 16 GPUs; max 12.5 kW"
    # 0.0012 s is 1.2 ms; the tightest numeric check is gpu_budget (layout_rules is pass/fail).
    assert solver_text(DOC) == ("solver: highs in 1.2 ms (wall 0.25 s); "
                                "verification: ok (2 checks, tightest gpu_budget slack 8)")


def test_ranked_report_in_every_format():
    header = lambda doc: [f"best {doc['value']}"]  # noqa: E731
    assert format_ranked(DOC, COLUMNS, "table", header) == "best 2.5\n#    value\n---  -------\n1    2.50\n2    1.25"
    assert format_ranked(DOC, COLUMNS, "table", header, gap="\n").startswith("best 2.5\n\n#")
    assert format_ranked(DOC, COLUMNS, "markdown", header).startswith("best 2.5  \n|")
    assert format_ranked(DOC, COLUMNS, "csv", header) == "#,value\n1,2.5\n2,1.25"
    assert format_ranked(DOC, COLUMNS, "json", header).startswith('{\n  "rank": 1')
