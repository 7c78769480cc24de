"""min-gpus past its cap says what the target needs, and the suggestion holds when rerun."""

import re

import pytest

import planner
from planner.errors import InfeasibleError


def test_a_target_past_the_cap_names_the_racks_it_needs_and_they_suffice():
    # Default scenario (Qwen3-235B-A22B, GB200 NVL72, 8,192 cached): 64 racks reach ~25 M tok/s.
    with pytest.raises(InfeasibleError) as info:
        planner.min_gpus(1e8, top=1)
    msg = str(info.value)
    m = re.search(r"\(about ([\d,]+) racks: ([\d,]+) GPUs in ([\d,]+) instances of (\d+) GPUs; try --racks (\d+)\)$",
                  msg)
    assert msg.startswith("target: the most this budget (64 racks (4608 GPUs)) reaches is") and m
    racks, gpus, instances, size = (int(m.group(k).replace(",", "")) for k in (1, 2, 3, 4))
    assert gpus == instances * size and racks == -(-gpus // 72)
    doc = planner.min_gpus(1e8, racks=racks, top=1)
    assert doc["total_tps"] >= 1e8 and doc["gpus"] <= gpus
