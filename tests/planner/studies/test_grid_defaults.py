"""``planner.studies.grid``: the serving defaults fill empty axes, and shared settings are checked."""

import pytest

from planner.errors import InputError
from planner.studies.grid import scenarios, settings


def test_empty_axes_take_the_serving_defaults():
    (spec,) = scenarios()
    assert (spec.model, spec.system, spec.racks, spec.tokens_cached) == ("qwen3-235b-a22b", "gb200-nvl72", None, 8192)
    # A GPU axis replaces the default system; an isl/osl axis replaces the default context.
    specs = scenarios(gpus=["h200-sxm"], isl=[1024, 2048], osl=[256])
    assert [(s.system, s.gpu, s.isl, s.osl, s.tokens_cached) for s in specs] == [
        (None, "h200-sxm", 1024, 256, None), (None, "h200-sxm", 2048, 256, None)]


def test_quant_sets_are_read_from_text_or_lists():
    specs = scenarios(quants=["fp8,fp4", ("bf16",)])
    assert [s.quant for s in specs] == [("fp8", "fp4"), ("bf16",)]
    with pytest.raises(InputError, match="unknown quantisation 'fp9'"):
        scenarios(quants=["fp9"])


def test_settings_defaults_and_pins():
    s = settings()
    # No --max-batch: None, i.e. each scenario's engine default (serving.space.default_space).
    assert (s.max_batch, s.solver, s.pins) == (None, "highs", ())
    s = settings(tp=(2, 4), kv_quant=["fp8"], batch=None, max_batch=64)
    assert dict(s.pins) == {"tp": (2, 4), "kv_quant": ("fp8",)} and s.max_batch == 64
    with pytest.raises(TypeError, match="unknown settings"):
        settings(quant=("fp8",))
