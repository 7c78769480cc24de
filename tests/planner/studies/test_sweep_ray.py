"""A sweep on a local Ray instance writes exactly what local processes write.

Ray is the optional ``ray`` extra (CI installs it). The test is skipped only when ``import ray``
fails; any other Ray problem fails it.
"""

import pytest
from click.testing import CliRunner

from planner.cli.main import cli
from planner.studies.sweep import load_grid, run_sweep

try:
    import ray
    REASON = ""
except ImportError as exc:  # the extra is not installed here
    ray = None
    REASON = f"ray is not importable ({exc}); install the extra: pip install '.[ray]'"

GRID = """
models = ["qwen3-30b-a3b", "llama-3.1-8b"]
systems = ["hgx-h200", "mi355x-8"]
racks = [1]
tokens_cached = [2048, 8192]
min_tok_per_user = [0, 60]
fabrics = ["default", "400gbe"]

[settings]
max_batch = 64
"""


@pytest.mark.skipif(ray is None, reason=REASON)
def test_ray_and_local_processes_write_identical_rows(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    specs, settings = load_grid(grid)
    assert len(specs) == 32  # 2 models x 2 systems x 1 budget x 2 contexts x 2 floors x 2 fabrics
    local = run_sweep(specs, settings, tmp_path / "local.csv", jobs=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_sweep(specs, settings, tmp_path / "ray.csv", executor="ray")
        # The executor leaves a session it did not start running.
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert remote.counts == local.counts and remote.ran == 32
    # Same scenarios, same plans, same floats: byte for byte after the final sort by index.
    assert (tmp_path / "ray.csv").read_text() == (tmp_path / "local.csv").read_text()


@pytest.mark.skipif(ray is None, reason=REASON)
def test_cli_starts_and_stops_its_own_local_ray_instance(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.replace('fabrics = ["default", "400gbe"]', 'fabrics = ["default"]')
                    .replace("[2048, 8192]", "[2048]"))
    out = tmp_path / "ray.jsonl"
    result = CliRunner().invoke(cli, ["sweep", str(grid), "-o", str(out), "--executor", "ray", "--jobs", "2",
                                      "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # 2 models x 2 systems x 1 context x 2 floors = 8 rows, in scenario order.
    assert [line.split('"index": ')[1].split(",")[0] for line in out.read_text().splitlines()] == \
        [str(i) for i in range(8)]
    assert not ray.is_initialized()  # the instance it started is shut down again
