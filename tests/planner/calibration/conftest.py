"""Shared by the calibration tests: a silicon-format measurement file of a few runs."""

import pytest

# The columns planner.calibration.measurements reads from a silicon file (calibration/silicon_calibration.csv's format).
SILICON_HEAD = ("id,silicon_data_source,backend,model_path,system,mode,isl,osl,gemm_quant_mode,moe_quant_mode,"
                "batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,silicon_ttft_ms,silicon_tpot_ms")


@pytest.fixture
def silicon_file(tmp_path):
    """``write(rows, tail)``: the path of a silicon file of ``rows``, each ``id,provenance,backend,model,system``
    followed by ``tail`` (mode, lengths, quantisation modes, layout and measurements)."""
    def write(rows: list[str], tail: str):
        path = tmp_path / "silicon.csv"
        path.write_text("\n".join([SILICON_HEAD, *(row + tail for row in rows)]) + "\n")
        return path
    return write
