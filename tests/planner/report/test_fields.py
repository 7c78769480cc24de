"""Field/value pages: the unit of each figure moves into its field name, the figure is converted."""

from click.testing import CliRunner

from planner.cli.main import cli
from planner.report.fields import human_field


def test_unit_suffixes_become_labels_with_converted_figures():
    # 141e9 bytes = 141 GB; 4.8e12 B/s = 4,800 GB/s; 989e12 FLOP/s = 989 TFLOP/s; 7.278e-3 s = 7.278 ms.
    assert human_field("hbm_bytes", 141e9) == ("hbm (GB)", "141.00")
    assert human_field("hbm_bytes_per_s", 4.8e12) == ("hbm (GB/s)", "4,800.0")
    assert human_field("peak_flop_per_s.bf16", 989e12) == ("peak.bf16 (TFLOP/s)", "989.0")
    assert human_field("step_time_s", 7.278e-3) == ("step_time (ms)", "7.278")
    assert human_field("ttft_s", None) == ("ttft (ms)", None)  # one label whatever the value
    assert human_field("memory_per_gpu_bytes.weights", 16.06e9) == ("memory_per_gpu.weights (GB)", "16.06")
    assert human_field("latency_s", 10e-6) == ("latency (us)", "10.00")
    assert human_field("bytes_per_s", 450e9) == ("bytes_per_s (GB/s)", "450.0")
    assert human_field("fabric_utilisation.inter_rack", 0.0425) == ("fabric_utilisation.inter_rack (%)", "4.25")
    assert human_field("power_kw", 1.4) == ("power (kW)", "1.40")
    # No unit suffix: the key stays, large figures get thousands separators, small ones 4 digits.
    assert human_field("tok_per_gpu", 4396.9) == ("tok_per_gpu", "4,397")
    assert human_field("derived.ridge_point_flop_per_byte_bf16", 206.0416) == (
        "derived.ridge_point_flop_per_byte_bf16", "206")
    assert human_field("vendor", "nvidia") == ("vendor", "nvidia")


def test_show_prints_humanised_figures_and_json_stays_si():
    text = CliRunner().invoke(cli, ["show", "gpu", "h200-sxm"], catch_exceptions=False).output
    assert "989000000000000.0" not in text
    assert any(ln.split() == ["peak.bf16", "(TFLOP/s)", "989.0"] for ln in text.splitlines())
    raw = CliRunner().invoke(cli, ["show", "gpu", "h200-sxm", "--format", "json"], catch_exceptions=False).output
    assert '"peak_flop_per_s.bf16": 989000000000000.0' in raw
