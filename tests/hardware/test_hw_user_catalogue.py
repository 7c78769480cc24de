"""The user recipe (extra catalogue directories) and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware import Catalogue, CatalogueError
from hardware.catalogue import DATA_DIR

# The README recipe's GPU file (also used by tests/planner/cli/test_catalogue_cli.py).
MY_GPU = (Path(__file__).resolve().parents[1] / "fixtures" / "catalogue" / "gpus" / "my-gpu.toml").read_text()

MY_BOX = """\
name = "my-box"
gpu = "my-gpu"
source = "our rack drawing"
gpus_per_server = 4
servers_per_rack = 8
scale_up_domain_gpus = 4
intra_server_fabric = "nvlink4"
inter_server_fabric = "400gbe"
inter_rack_fabric = "400gbe"
"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_line_error(root: Path, match: str) -> str:
    with pytest.raises(CatalogueError) as info:
        Catalogue([root])
    message = str(info.value)
    assert "\n" not in message
    assert match in message, message
    return message


def test_user_recipe_adds_a_gpu_and_a_system(tmp_path: Path) -> None:
    write(tmp_path, "gpus/my-gpu.toml", MY_GPU)
    write(tmp_path, "systems/my-box.toml", MY_BOX)
    cat = Catalogue([tmp_path])
    gpu = cat.gpu("My-GPU")
    assert gpu.hbm_bytes == pytest.approx(96e9)  # 96 GB
    assert gpu.hbm_bytes_per_s == pytest.approx(3e12)  # 3.0 TB/s
    assert gpu.peak_flop_per_s["bf16"] == pytest.approx(600e12)
    assert gpu.sources["hbm_bytes"] == "acme datasheet rev 3"  # falls back to `source`
    hw = cat.hardware("my-gpu")  # the GPU's default system is the user's
    assert hw.system.name == "my-box"
    assert hw.gpus_per_rack == 32 and hw.tier_for_span(8) == "inter_server"
    assert "my-gpu" in cat.gpu_names() and "h200-sxm" in cat.gpu_names()
    assert cat.source_file("gpus", "my-gpu").endswith("my-gpu.toml")
    assert cat.source_file("gpus", "h200-sxm") == "hardware/data/gpus/h200-sxm.toml"


def test_user_entry_overrides_a_shipped_one(tmp_path: Path) -> None:
    text = (DATA_DIR / "gpus" / "h200-sxm.toml").read_text()
    write(tmp_path, "gpus/h200-sxm.toml", text.replace("hbm_efficiency = 0.877", "hbm_efficiency = 0.9"))
    cat = Catalogue([tmp_path])
    assert cat.gpu("h200-sxm").hbm_efficiency_fraction == 0.9
    assert cat.hardware("h200-sxm").gpu.hbm_efficiency_fraction == 0.9
    assert cat.gpu_names().count("h200-sxm") == 1


def test_unknown_name_lists_closest() -> None:
    cat = Catalogue()
    # ("h100" itself now names h100-sxm, the one GPU it begins: tests/hardware/test_hw_catalogue_data.py.)
    # h800 (two letters off) ranks between h100-sxm and h200-sxm
    with pytest.raises(CatalogueError, match=r"^unknown GPU 'h100x'; closest: h100-sxm, h800, h200-sxm"):
        cat.gpu("h100x")
    with pytest.raises(CatalogueError, match=r"unknown system 'hgx-h300'; closest: .*hgx-h200"):
        cat.system("hgx-h300")
    with pytest.raises(CatalogueError, match=r"unknown system or GPU 'nvl72'; closest: gb200-nvl72"):
        cat.hardware("nvl72")
    with pytest.raises(CatalogueError, match=r"unknown fabric 'ib'; closest: ib-ndr-400"):
        cat.fabric("ib")


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "gpus/broken.toml", 'name = "broken"\nvendor = \n')
    message = one_line_error(tmp_path, "broken.toml: invalid TOML")
    assert "line 2" in message


# One bad edit of the README recipe's GPU file each, and (part of) the one-line error it must give.
GPU_EDITS = {
    "misspelt key, with a suggestion": (
        "hbm_capacity_gb", "hbm_capcity_gb",
        "my-gpu.toml: field 'hbm_capcity_gb' is not a known key; did you mean 'hbm_capacity_gb'?"),
    "misspelt peak dtype": (
        "int4 = false", "int4 = false\nfp6 = 900", "field 'peak_dense_tflops.fp6' is not a known key"),
    "missing peak dtype must be marked": ("fp4 = false\n", "", "field 'peak_dense_tflops.fp4' is required"),
    "negative size": (
        "hbm_capacity_gb = 96", "hbm_capacity_gb = -1",
        "gpus/my-gpu.toml: field 'hbm_capacity_gb' must be > 0 (got -1)"),
    "zero peak": ("bf16 = 600", "bf16 = 0", "field 'peak_dense_tflops.bf16' must be > 0, or false"),
    "true peak": ("fp4 = false", "fp4 = true", "field 'peak_dense_tflops.fp4' must be a positive number"),
    "fraction above one": (
        "hbm_efficiency = 0.8", "hbm_efficiency = 80", "field 'hbm_efficiency' must be <= 1 (got 80)"),
    "string for number": (
        "board_power_w = 500", 'board_power_w = "500"',
        "field 'board_power_w' input should be a valid number (got '500')"),
    "unknown host link": ('"pcie-gen5"', '"pcie5"', "field 'host_link' must be one of"),
}


@pytest.mark.parametrize(("old", "new", "message"), GPU_EDITS.values(), ids=GPU_EDITS)
def test_bad_gpu_file_gives_one_line_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in MY_GPU
    write(tmp_path, "gpus/my-gpu.toml", MY_GPU.replace(old, new))
    one_line_error(tmp_path, message)


def test_misspelt_source_key(tmp_path: Path) -> None:
    write(tmp_path, "gpus/my-gpu.toml", MY_GPU + '\n[sources]\nhbm_bandwidth = "x"\n')
    one_line_error(tmp_path,
                   "field 'sources' names unknown key 'hbm_bandwidth'; did you mean 'hbm_bandwidth_tb_per_s'?")


def test_system_with_unknown_fabric_and_gpu(tmp_path: Path) -> None:
    write(tmp_path, "gpus/my-gpu.toml", MY_GPU)
    write(tmp_path, "systems/my-box.toml", MY_BOX.replace('"400gbe"', '"400gb"', 1))
    one_line_error(tmp_path, "my-box.toml: field 'inter_server_fabric' names unknown fabric '400gb'; closest: 400gbe")
    write(tmp_path, "systems/my-box.toml", MY_BOX.replace('gpu = "my-gpu"', 'gpu = "my-gpu2"'))
    one_line_error(tmp_path, "field 'gpu' names unknown GPU 'my-gpu2'")


def test_system_domain_larger_than_rack(tmp_path: Path) -> None:
    write(tmp_path, "gpus/my-gpu.toml", MY_GPU)
    write(tmp_path, "systems/my-box.toml", MY_BOX.replace("scale_up_domain_gpus = 4", "scale_up_domain_gpus = 64"))
    one_line_error(tmp_path, "field 'scale_up_domain_gpus' (64) must be <= gpus_per_server x servers_per_rack (32)")


def test_zero_count(tmp_path: Path) -> None:
    write(tmp_path, "gpus/my-gpu.toml", MY_GPU)
    write(tmp_path, "systems/my-box.toml", MY_BOX.replace("servers_per_rack = 8", "servers_per_rack = 0"))
    one_line_error(tmp_path, "field 'servers_per_rack' must be > 0 (got 0)")


def test_name_must_match_file(tmp_path: Path) -> None:
    write(tmp_path, "gpus/other.toml", MY_GPU)
    one_line_error(tmp_path, "field 'name' is 'my-gpu' but the file is other.toml")


def test_layout_mistakes(tmp_path: Path) -> None:
    write(tmp_path, "my-gpu.toml", MY_GPU)
    one_line_error(tmp_path, "catalogue files go in a subfolder")
    (tmp_path / "my-gpu.toml").unlink()
    write(tmp_path, "gpu/my-gpu.toml", MY_GPU)
    one_line_error(tmp_path, "did you mean 'gpus/'?")
    with pytest.raises(CatalogueError, match="does not exist"):
        Catalogue([tmp_path / "nowhere"])


def test_gpu_without_system(tmp_path: Path) -> None:
    write(tmp_path, "gpus/my-gpu.toml", MY_GPU)
    cat = Catalogue([tmp_path])
    with pytest.raises(CatalogueError, match="GPU 'my-gpu' has no system"):
        cat.hardware("my-gpu")


def test_user_preset(tmp_path: Path) -> None:
    write(tmp_path, "presets/mine.toml", 'name = "mine"\nsource = "nsys"\n[sustained_decode_tflops]\nh200-sxm = 40\n')
    cat = Catalogue([tmp_path])
    assert cat.gpu("h200-sxm", preset="mine").sustained_decode_flop_per_s == pytest.approx(40e12)
    write(tmp_path, "presets/mine.toml", 'name = "mine"\nsource = "nsys"\n[sustained_decode_tflops]\nh300 = 40\n')
    one_line_error(tmp_path, "field 'sustained_decode_tflops.h300' names unknown GPU")


def test_one_directory_may_be_given_bare(tmp_path: Path) -> None:
    write(tmp_path, "gpus/my-gpu.toml", MY_GPU)
    assert "my-gpu" in Catalogue(str(tmp_path)).gpu_names()
    assert "my-gpu" in Catalogue(tmp_path).gpu_names()


def test_a_second_catalogue_reuses_the_parsed_files_but_sees_an_edit(tmp_path: Path) -> None:
    # one parse per file content: a compare or sweep builds a catalogue per scenario
    path = write(tmp_path, "gpus/my-gpu.toml", MY_GPU)
    first, second = Catalogue([tmp_path]), Catalogue([tmp_path])
    assert second.gpu("h200-sxm") is first.gpu("h200-sxm")  # shipped spec converted once
    assert second.gpu("my-gpu") is first.gpu("my-gpu")
    # an edit of the same length (96 -> 97 GB) is a new content, so it is parsed again
    edited = MY_GPU.replace("hbm_capacity_gb = 96", "hbm_capacity_gb = 97")
    assert edited != MY_GPU and len(edited) == len(MY_GPU)
    path.write_text(edited)
    assert Catalogue([tmp_path]).gpu("my-gpu").hbm_bytes == pytest.approx(97e9)  # 97 GB
    # a bad file fails on every build, not only the first (failures are not cached)
    path.write_text(MY_GPU.replace("hbm_capacity_gb = 96", "hbm_capacity_gb = -9"))
    for _ in range(2):
        one_line_error(tmp_path, "hbm_capacity_gb")
    path.write_text(MY_GPU)  # the first content again: valid, served from the cache
    assert Catalogue([tmp_path]).gpu("my-gpu") is first.gpu("my-gpu")
