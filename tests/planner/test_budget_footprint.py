"""What a plan occupies: servers, racks (the last partial) and board power."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from hardware.catalogue import Catalogue
from planner.budget import TABLE_ROWS, footprint, footprint_text, max_instances
from planner.cli.main import cli

CAT = Catalogue()


def test_servers_racks_and_power_of_a_gpu_count():
    # hgx-h200: 8 GPUs per server, 4 servers (32 GPUs) per rack, 700 W per H200.
    f = footprint(CAT.hardware("hgx-h200"), 376)
    # 376 / 8 = 47 servers; ceil(376 / 32) = 12 racks, the last with 376 - 11 x 32 = 24 GPUs; 376 x 700 W.
    assert (f["servers"], f["racks"], f["partial_rack_gpus"]) == (47, 12, 24)
    assert f["board_power_kw"] == 263.2
    assert footprint_text(f) == "47 servers in 12 racks, the last partial (24 of 32 GPUs), 263.2 kW board power"
    # A full GB200 NVL72 rack: 72 GPUs = 18 servers of 4, 1,200 W each = 86.4 kW; no partial rack.
    full = footprint(CAT.hardware("gb200-nvl72"), 72)
    assert footprint_text(full) == "18 servers in 1 rack, 86.4 kW board power"
    # 9 GPUs: a partly used server still counts (2 servers); a fleet's own power per GPU wins.
    part = footprint(CAT.hardware("hgx-h200"), 9, power_w_per_gpu=1000)
    assert footprint_text(part) == "2 servers in 1 partial rack (9 of 32 GPUs), 9.0 kW board power"


def test_min_gpus_answers_in_servers_racks_and_power():
    out = CliRunner().invoke(cli, ["min-gpus", "--model", "qwen3-235b-a22b", "--system", "hgx-h200",
                                   "--target-tps", "1000000", "--top", "1", "--format", "json"],
                             catch_exceptions=False).output
    doc = json.loads(out)
    f = doc["footprint"]
    assert f["gpus"] == doc["plan"]["gpus"]
    assert f["servers"] == -(-f["gpus"] // 8) and f["racks"] == -(-f["gpus"] // 32)
    assert f["board_power_kw"] == doc["power_kw"]


@pytest.mark.parametrize("gpus,domain", [(72, 72), (144, 72), (100, 8), (7, 8), (1000, 72)])
def test_many_rows_take_each_sizes_bound_from_a_table(gpus, domain):
    # 10,000 rows (more than TABLE_ROWS) of sizes 1..256, inside and beyond the domain: the bound of each row is
    # the one computed for it alone, e.g. 144 GPUs in 72-GPU domains hold 2 x floor(72 / 16) = 8 instances of 16
    sizes = np.random.default_rng(gpus).integers(1, 257, 10_000)
    bounds = max_instances(gpus, domain, sizes)
    assert sizes.size > TABLE_ROWS and bounds.dtype == np.int64
    assert bounds.tolist() == [int(max_instances(gpus, domain, np.array([s]))[0]) for s in sizes]
    if (gpus, domain) == (144, 72):
        assert bounds[sizes == 16][0] == 8 and bounds[sizes == 73][0] == 1  # 73 spans 2 domains: 2 // 2


def test_a_power_cap_binds_as_the_gpus_it_powers():
    # hgx-h200 at 700 W per H200: a 10 kW cap powers floor(10,000 / 700) = 14 GPUs, so under it 32 GPUs plan
    # exactly as 14 do (the power row and the per-row power bound read each candidate's own watts).
    def plan(*extra):
        out = CliRunner().invoke(cli, ["plan", "--system", "hgx-h200", *extra, "--format", "json"],
                                 catch_exceptions=False).output
        return json.loads(out)
    capped, fourteen = plan("--gpus", "32", "--max-kw", "10"), plan("--gpus", "14")
    assert capped["power_kw"] <= 10 and capped["gpus"] <= 14
    assert capped["total_tps"] == pytest.approx(fourteen["total_tps"], rel=1e-9)
    assert capped["total_tps"] < plan("--gpus", "32")["total_tps"]  # the cap binds
