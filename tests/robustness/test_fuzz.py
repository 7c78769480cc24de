"""Hypothesis fuzzing of flag values, config.json fields and catalogue/fleet TOML fields.

Whatever the value, the command either succeeds or refuses cleanly: exit 1 or 2 with one
``error: ...`` line, never a traceback and never the last-resort ``internal error`` (exit 70).
The commands fuzzed answer without a MILP solve (``evaluate``, ``train evaluate``, ``show``), so
each example costs milliseconds; the fleet file is fuzzed through load and resolve, the edge a
``rackplan fleet`` run passes before its solve.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hostile import refused
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.fleet.spec import load
from planner.serving.resolve import catalogue

ROOT = Path(__file__).resolve().parents[2]
GPU = (ROOT / "tests" / "fixtures" / "catalogue" / "gpus" / "my-gpu.toml").read_text()
LLAMA = json.loads((ROOT / "models" / "data" / "llama-3.1-8b.json").read_text())
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text a user might type for a number: numbers of every size and sign, their spellings, and junk.
number_text = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-0", "0x1f", "1_000", " 7 ", "", "1,2", ",", "1e-400"]),
    st.text(max_size=12),
)


def clean(outcome) -> None:
    """Success, or a clean refusal (exit 1 or 2, one error line)."""
    if outcome.code != 0:
        assert outcome.code in (1, 2), outcome
        refused(outcome, outcome.code)
    assert "Traceback" not in outcome.err


EVALUATE = ("evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h200")


@FUZZ
@given(option=st.sampled_from(["--tp", "--pp", "--ep", "--dp", "--batch", "--instances", "--tokens-cached",
                               "--kv-offload-fraction", "--isl"]),
       value=number_text)
def test_fuzz_evaluate_flags(rackplan, option, value):
    workload = () if option in ("--tokens-cached", "--isl") else ("--tokens-cached", "1024")
    clean(rackplan(*EVALUATE, *workload, option, value))


@FUZZ
@given(option=st.sampled_from(["--tp", "--pp", "--cp", "--dp", "--micro-batch", "--zero", "--seq-len",
                               "--global-batch", "--dp-overlap", "--tp-overlap", "--train-tokens"]),
       value=number_text)
def test_fuzz_train_evaluate_flags(rackplan, option, value):
    clean(rackplan("train", "evaluate", "--model", "llama-3.1-8b", "--system", "hgx-h200", option, value))


@FUZZ
@given(option=st.sampled_from(["--racks", "--gpus", "--batch", "--tp", "--max-tpot-ms", "--min-tok-per-user",
                               "--max-kw", "--time-limit", "--top", "--max-batch", "--kv-offload-fraction"]),
       value=number_text)
def test_fuzz_plan_flags_refused_or_parsed(rackplan, monkeypatch, option, value):
    # A value the parser accepts reaches planner.plan, stubbed here to stop before the solve: the parse
    # is what is fuzzed (a MILP per example would take minutes). The stub records the value it got.
    import planner

    got = {}

    def stub(**options):
        got.update(options)
        raise InputError("stub: parsed")

    monkeypatch.setattr(planner, "plan", stub)
    outcome = rackplan("plan", option, value)
    clean(outcome)
    if "stub: parsed" in outcome.err:
        parsed = [v for v in got.values() if v is not None and not isinstance(v, (bool, tuple, str))]
        parsed += [x for v in got.values() if isinstance(v, tuple) for x in v if not isinstance(x, str)]
        assert all(math.isfinite(v) and abs(v) <= 1e12 for v in parsed), got  # finite, bounded


json_value = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
CONFIG_KEYS = ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size",
               "intermediate_size", "head_dim", "max_position_embeddings", "num_experts", "num_experts_per_tok",
               "moe_intermediate_size", "mlp_only_layers", "decoder_sparse_step", "layer_types", "sliding_window",
               "use_sliding_window", "max_window_layers", "kv_lora_rank", "quantization_config", "text_config",
               "tie_word_embeddings", "model_type", "n_shared_experts", "first_k_dense_replace"]


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(CONFIG_KEYS), json_value, min_size=1, max_size=4))
def test_fuzz_config_json_fields(rackplan, tmp_path, changes):
    # json.dumps writes nan/inf as NaN/Infinity, which Python's json reads back: the loader must refuse them.
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, **changes}))
    clean(rackplan(*EVALUATE[:1], "--model", "config.json", *EVALUATE[3:], "--tokens-cached", "1024"))


def toml_value(value) -> str:
    """``value`` as TOML text (floats keep nan/inf, which TOML spells the same)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


toml_scalar = (st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
               | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8))
toml_field = toml_scalar | st.lists(toml_scalar, max_size=3)
GPU_KEYS = ["hbm_capacity_gb", "hbm_bandwidth_tb_per_s", "scale_up_bandwidth_gb_per_s_per_direction",
            "host_link_bandwidth_gb_per_s_per_direction", "host_memory_gb_per_gpu", "board_power_w", "hbm_efficiency",
            "decode_compute_efficiency", "prefill_compute_efficiency", "bf16", "fp8", "int8", "fp4", "host_link"]


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(GPU_KEYS), toml_field, min_size=1, max_size=3))
def test_fuzz_catalogue_fields(rackplan, tmp_path, changes):
    lines = [f"{k} = {toml_value(changes[k.strip()])}" if k.strip() in changes else line
             for line in GPU.splitlines() for k in [line.split(" = ")[0]]]
    (tmp_path / "cat" / "gpus").mkdir(parents=True, exist_ok=True)
    (tmp_path / "cat" / "gpus" / "my-gpu.toml").write_text("\n".join(lines) + "\n")
    outcome = rackplan("--catalogue", "cat", "show", "gpu", "my-gpu")
    clean(outcome)
    if outcome.code == 0:  # accepted: then every number it shows is finite
        assert "nan" not in outcome.out.lower().split() and "inf" not in outcome.out.lower().split()


FLEET_KEYS = {"servers": "hardware", "price_per_gpu_hour": "hardware", "power_w_per_gpu": "hardware",
              "tokens_cached": "model", "target_tps": "model", "weight": "model", "max_tpot_ms": "model",
              "min_tok_per_user": "model", "max_kw": "plan", "max_cost_per_hour": "plan"}


@pytest.fixture(scope="module")
def cat():
    return catalogue(())


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(sorted(FLEET_KEYS)), toml_field, min_size=1, max_size=3))
def test_fuzz_fleet_fields(tmp_path, cat, changes):
    tables = {"plan": {"minimise": "gpus"}, "hardware": {"system": "hgx-h200", "servers": 2},
              "model": {"name": "llama-3.1-8b", "tokens_cached": 1024, "target_tps": 1000}}
    for key, value in changes.items():
        tables[FLEET_KEYS[key]][key] = value
    text = "".join(f"{'[[' + name + ']]' if name != 'plan' else '[plan]'}\n"
                   + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items()) for name, table in tables.items())
    (tmp_path / "fleet.toml").write_text(text)
    try:
        fleet = load(tmp_path / "fleet.toml", cat)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    for m in fleet.models:  # accepted: every number the planner will see is finite and in range
        assert m.target_tps is None or 0 < m.target_tps <= 1e12
    for k in fleet.kinds:
        assert 0 < k.gpus <= 10**6 * 72 and math.isfinite(k.power_w_per_gpu) and k.power_w_per_gpu > 0
