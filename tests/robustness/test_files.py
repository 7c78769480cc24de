"""Hostile input files: catalogue TOML, fleet TOML, sweep grids, engine profiles, config.json, calibration CSVs.

Each file is refused at load with exit 1 and one line naming the file's field; none reaches the
planner (so no PuLP "RHS NaN" error, no ``inf`` bandwidth planned with, no ``UnicodeDecodeError``).
Each case starts from a valid file and breaks one thing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile import refused

ROOT = Path(__file__).resolve().parents[2]
GPU = (ROOT / "tests" / "fixtures" / "catalogue" / "gpus" / "my-gpu.toml").read_text()
LLAMA = json.loads((ROOT / "models" / "data" / "llama-3.1-8b.json").read_text())
QWEN_MOE = json.loads((ROOT / "models" / "data" / "qwen3-30b-a3b.json").read_text())
NOT_UTF8 = b"name = \"my-gpu\"\nvendor = \"\xff\xfe\"\n"


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _ids(cases) -> dict:
    """``parametrize`` keywords for a table of (case id, file text, field named)."""
    return {"argvalues": [(t, f) for _, t, f in cases], "ids": [c for c, _, _ in cases]}


def _broken_toml(valid: str, file_name: str, syntax_error: str) -> list[tuple]:
    """The cases every TOML format shares: a syntax error, bytes that are not UTF-8, nesting 5,000 deep."""
    return [("invalid TOML", valid + "[[x\n", syntax_error), ("not UTF-8", NOT_UTF8, "UTF-8"),
            ("nested too deeply", "deep = " + "[" * 5000 + "]" * 5000 + "\n", file_name)]


def _set(text: str, key: str, value: str) -> str:
    """``text`` with the TOML line ``key = ...`` replaced by ``key = value``."""
    lines = [f"{key} = {value}" if line.split(" = ")[0].strip() == key else line for line in text.splitlines()]
    assert lines != text.splitlines(), key
    return "\n".join(lines) + "\n"


# --- catalogue: `rackplan --catalogue DIR gpus` ---------------------------------------------------------------

GPU_NUMBERS = ("hbm_capacity_gb", "hbm_bandwidth_tb_per_s", "scale_up_bandwidth_gb_per_s_per_direction",
               "host_link_bandwidth_gb_per_s_per_direction", "host_memory_gb_per_gpu", "board_power_w",
               "hbm_efficiency", "decode_compute_efficiency", "prefill_compute_efficiency", "bf16", "fp8")
BAD_TOML_NUMBERS = ("inf", "nan", "-inf", "-1", "0", '"100"', "true", "[1]")
CATALOGUE_CASES = [(f"{key}={value}", _set(GPU, key, value), key) for key in GPU_NUMBERS for value in BAD_TOML_NUMBERS]
CATALOGUE_CASES += [
    ("efficiency above 1", _set(GPU, "hbm_efficiency", "1.5"), "hbm_efficiency"),
    ("every peak false", _set(_set(GPU, "bf16", "false"), "fp8", "false").replace("int8 = 1200", "int8 = false"),
     "peak_dense_tflops"),
    ("misspelt key", GPU.replace("board_power_w", "board_powr_w"), "board_powr_w"),
    ("name differs from file", _set(GPU, "name", '"other"'), "name"),
    ("empty vendor", _set(GPU, "vendor", '""'), "vendor"),
    ("bad host link", _set(GPU, "host_link", '"usb"'), "host_link"),
    *_broken_toml(GPU, "my-gpu.toml", "invalid TOML"),
    ("empty file", "", "my-gpu.toml"),
]


@pytest.mark.parametrize("text,field", **_ids(CATALOGUE_CASES))
def test_bad_catalogue_file(rackplan, tmp_path, text, field):
    _write(tmp_path / "cat" / "gpus" / "my-gpu.toml", text)
    refused(rackplan("--catalogue", "cat", "gpus"), 1, "my-gpu.toml", field)


# --- fleet: `rackplan fleet FILE` -----------------------------------------------------------------------------

FLEET = """[plan]
minimise = "gpus"

[[hardware]]
system = "hgx-h200"
servers = 2

[[model]]
name = "llama-3.1-8b"
tokens_cached = 1024
target_tps = 1000
"""
FLEET_FIELDS = ("servers", "target_tps", "tokens_cached")
# servers = 0 leaves the fleet without GPUs (refused naming [[hardware]]); tokens_cached = 0 is a valid context.
FLEET_CASES = [(f"{key}={value}", _set(FLEET, key, value), "hardware" if (key, value) == ("servers", "0") else key)
               for key in FLEET_FIELDS for value in BAD_TOML_NUMBERS + ("1" + "0" * 30, "1e300")
               if (key, value) != ("tokens_cached", "0")]
FLEET_CASES += [
    ("max_kw=inf", FLEET.replace('minimise = "gpus"', 'minimise = "gpus"\nmax_kw = inf'), "max_kw"),
    ("max_kw=nan", FLEET.replace('minimise = "gpus"', 'minimise = "gpus"\nmax_kw = nan'), "max_kw"),
    ("price=inf", FLEET.replace("servers = 2", "servers = 2\nprice_per_gpu_hour = inf"), "price_per_gpu_hour"),
    ("power=-1", FLEET.replace("servers = 2", "servers = 2\npower_w_per_gpu = -1"), "power_w_per_gpu"),
    ("weight=nan", FLEET + "weight = nan\n", "weight"),
    ("max_tpot_ms=inf", FLEET + "max_tpot_ms = inf\n", "max_tpot_ms"),
    ("min_tok_per_user=-5", FLEET + "min_tok_per_user = -5\n", "min_tok_per_user"),
    ("context past the model", _set(FLEET, "tokens_cached", "10000000"), "131,072"),
    ("unknown system", _set(FLEET, "system", '"no-such-system"'), "no-such-system"),
    ("unknown model", _set(FLEET, "name", '"no-such-model"'), "no-such-model"),
    ("empty model name", _set(FLEET, "name", '""'), "name"),
    ("no hardware", FLEET.split("[[hardware]]")[0], "hardware"),
    ("two counts", FLEET.replace("servers = 2", "servers = 2\nracks = 1"), "racks"),
    ("unknown key", FLEET + "colour = 3\n", "colour"),
    ("bad serving", FLEET + 'serving = "sideways"\n', "serving"),
    ("bad objective", FLEET.replace('minimise = "gpus"', 'minimise = "joy"'), "minimise"),
    ("hardware not a table list", 'hardware = 5\n', "hardware"),
    *_broken_toml(FLEET, "fleet.toml", "malformed TOML"),
]


@pytest.mark.parametrize("text,field", **_ids(FLEET_CASES))
def test_bad_fleet_file(rackplan, tmp_path, text, field):
    _write(tmp_path / "fleet.toml", text)
    refused(rackplan("fleet", "fleet.toml"), 1, "fleet.toml", field)


# --- sweep grids: `rackplan sweep GRID -o out.csv` -------------------------------------------------------------

GRID = """models = ["llama-3.1-8b"]
systems = ["hgx-h200"]
racks = [1]
tokens_cached = [1024]
min_tok_per_user = [0]

[settings]
max_batch = 8
"""
GRID_CASES = [
    *((f"racks={v}", _set(GRID, "racks", v), "racks") for v in ("[0]", "[-1]", "[1e30]", f"[{'1' + '0' * 30}]",
                                                              '["a"]', "[inf]", "5", "[[1]]")),
    *((f"tokens_cached={v}", _set(GRID, "tokens_cached", v), "tokens_cached")
      for v in ("[-1]", "[nan]", f"[{'1' + '0' * 30}]", '[""]')),
    *((f"min_tok_per_user={v}", _set(GRID, "min_tok_per_user", v), "min_tok_per_user")
      for v in ("[nan]", "[inf]", "[-5]", '["x"]')),
    *((f"max_batch={v}", _set(GRID, "max_batch", v), "max_batch") for v in ("0", "-1", "inf", "1e400", "nan")),
    *((f"models={v}", _set(GRID, "models", v), "models") for v in ("[]", '[""]', "[1]", '"x"')),
    ("tp=[0]", GRID + "tp = [0]\n", "tp"),
    ("tp=[huge]", GRID + f"tp = [{'1' + '0' * 30}]\n", "tp"),
    ("kv_offload_fraction=[2]", GRID + "kv_offload_fraction = [2.0]\n", "kv_offload_fraction"),
    ("kv_offload_fraction=[nan]", GRID + "kv_offload_fraction = [nan]\n", "kv_offload_fraction"),
    ("max_tpot_ms=inf", GRID + "max_tpot_ms = inf\n", "max_tpot_ms"),
    ("time_limit_s=nan", GRID + "time_limit_s = nan\n", "time_limit_s"),
    ("engine empty", GRID + 'engine = ""\n', "engine"),
    ("workload isl only", GRID.replace("tokens_cached = [1024]", "workloads = [{isl = 5}]"), "workloads"),
    ("workload huge", GRID.replace("tokens_cached = [1024]", f"workloads = [{{isl = {'9' * 25}, osl = 1}}]"),
     "workloads"),
    ("unknown key", GRID + "colour = 1\n", "colour"),
    ("no systems", GRID.replace('systems = ["hgx-h200"]', ""), "systems"),
    ("too many scenarios", _set(_set(GRID, "racks", str(list(range(1, 1001)))), "tokens_cached",
                                str(list(range(1, 1001)))), "1,000,000 scenarios"),
    *_broken_toml(GRID, "grid.toml", "malformed TOML"),
]


@pytest.mark.parametrize("text,field", **_ids(GRID_CASES))
def test_bad_grid_file(rackplan, tmp_path, text, field):
    _write(tmp_path / "grid.toml", text)
    line = refused(rackplan("sweep", "grid.toml", "-o", "out.csv", "--no-progress"), 1, field)
    assert "grid" in line
    assert not (tmp_path / "out.csv").exists()  # refused before a results file was opened


# --- engine profiles: `rackplan plan --profile FILE` -----------------------------------------------------------

PROFILE = 'name = "mine"\nsource = "my measurements"\n'
PROFILE_CASES = [
    *((f"{key}={v}", PROFILE + f"{key} = {v}\n", key)
      for key in ("gemm_efficiency_scale", "step_overhead_us", "hbm_usable_fraction", "prefill_chunk_tokens")
      for v in ("inf", "nan", "-1", '"x"')),
    ("unknown key", PROFILE + "speed = 2\n", "speed"),
    *_broken_toml(PROFILE, "p.toml", "malformed TOML"),
]


@pytest.mark.parametrize("text,field", **_ids(PROFILE_CASES))
def test_bad_profile_file(rackplan, tmp_path, text, field):
    _write(tmp_path / "p.toml", text)
    refused(rackplan("plan", "--model", "llama-3.1-8b", "--system", "hgx-h200", "--profile", "p.toml"), 1,
            "p.toml", field.removesuffix("_us"))


# --- config.json: `rackplan evaluate --model FILE` -------------------------------------------------------------

def _cfg(base: dict, **changes) -> str:
    return json.dumps({**base, **changes})


CONFIG_CASES = [
    *((f"{key}={v!r}", _cfg(LLAMA, **{key: v}), key)
      for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size",
                  "intermediate_size")
      for v in (0, -1, 1.5, "4096", None if key == "num_key_value_heads" else True, 10**30, [4096], {"a": 1})
      if v is not None),
    ("max_position_embeddings=-1", _cfg(LLAMA, max_position_embeddings=-1), "max_position_embeddings"),
    ("mlp_only_layers=5", _cfg(QWEN_MOE, mlp_only_layers=5), "mlp_only_layers"),
    ("mlp_only_layers=['a']", _cfg(QWEN_MOE, mlp_only_layers=["a"]), "mlp_only_layers"),
    ("mlp_only_layers={}", _cfg(QWEN_MOE, mlp_only_layers={"a": 1}), "mlp_only_layers"),
    ("num_experts=-4", _cfg(QWEN_MOE, num_experts=-4), "num_experts"),
    ("num_experts_per_tok=0", _cfg(QWEN_MOE, num_experts_per_tok=0), "num_experts_per_tok"),
    ("layer_types=5", _cfg(LLAMA, layer_types=5), "layer_types"),
    ("layer_types=[1]", _cfg(LLAMA, layer_types=[1]), "layer_types"),
    ("missing hidden_size", json.dumps({k: v for k, v in LLAMA.items() if k != "hidden_size"}), "hidden_size"),
    ("top-level array", "[1, 2]", "list"),
    ("top-level string", '"llama"', "str"),
    ("empty file", "", "malformed JSON"),
    ("trailing comma", '{"hidden_size": 1,}', "malformed JSON"),
    ("nested too deeply", '{"x": ' + "[" * 100000 + "]" * 100000 + "}", "nested too deeply"),
    ("not UTF-8", b'{"hidden_size": "\xff"}', "config.json"),
]


@pytest.mark.parametrize("text,field", **_ids(CONFIG_CASES))
def test_bad_config_json(rackplan, tmp_path, text, field):
    _write(tmp_path / "m" / "config.json", text)
    refused(rackplan("evaluate", "--model", "m/config.json", "--system", "hgx-h200", "--tokens-cached", "1024"), 1,
            "config.json", field)


# --- calibration CSVs: `rackplan calibrate CSV --out FILE` -----------------------------------------------------

HEADER = "model,system,tp,batch,isl,osl,tpot_ms"
GOOD_ROWS = ["llama-3.1-8b,hgx-h200,1,8,1024,128,9.0", "llama-3.1-8b,hgx-h200,2,16,1024,128,7.5",
             "llama-3.1-8b,hgx-h200,1,32,2048,128,12.0"]
BAD_ROWS = ["llama-3.1-8b,hgx-h200,inf,8,1024,128,9.0", "llama-3.1-8b,hgx-h200,1,1e30,1024,128,9.0",
            "llama-3.1-8b,hgx-h200,1,8,nan,128,9.0", "llama-3.1-8b,hgx-h200,1,8,1024,128,inf",
            "llama-3.1-8b,hgx-h200,1.5,8,1024,128,9.0", "llama-3.1-8b,hgx-h200,1,8,1024,-128,9.0",
            "llama-3.1-8b,hgx-h200,x,8,1024,128,9.0", "llama-3.1-8b,hgx-h200,0,8,1024,128,9.0",
            "llama-3.1-8b,hgx-h200,1,8,1024", "llama-3.1-8b,hgx-h200,1,8,1024,128,9.0,extra,cells"]
CSV_CASES = [
    ("empty", "", "empty"),
    ("header only", HEADER + "\n", "no measurement rows"),
    ("unknown header", "a,b,c\n1,2,3\n", "not a measurements CSV"),
    ("missing column", "model,system,tpot_ms\nllama-3.1-8b,hgx-h200,9\n", "lacks column"),
    ("not UTF-8", HEADER.encode() + b"\n\xff\xfe,1,1,1,1,1,1\n", "runs.csv"),
    ("every row damaged", "\n".join([HEADER, *BAD_ROWS]) + "\n", "runs.csv"),
]


@pytest.mark.parametrize("text,field", **_ids(CSV_CASES))
def test_bad_calibration_csv(rackplan, tmp_path, text, field):
    _write(tmp_path / "runs.csv", text)
    refused(rackplan("calibrate", "runs.csv", "--out", "p.toml"), 1, field)
    assert not (tmp_path / "p.toml").exists()


@pytest.mark.parametrize("bad", BAD_ROWS)
def test_damaged_calibration_rows_are_skipped_and_counted(rackplan, tmp_path, bad):
    # Issue 16 (8): one row of tp=inf or batch=1e30 aborted the whole fit; now it is one more skipped row.
    (tmp_path / "runs.csv").write_text("\n".join([HEADER, *GOOD_ROWS, bad]) + "\n")
    done = rackplan("calibrate", "runs.csv", "--out", "p.toml", "--format", "json")
    assert done.code == 0, done.err
    doc = json.loads(done.out)
    assert doc["rows_used"] == 3  # the three good rows
    assert sum(doc["skipped"].values()) == 1  # the bad one, with its reason
    assert (tmp_path / "p.toml").exists()


def test_file_corpus_size():
    n = (len(CATALOGUE_CASES) + len(FLEET_CASES) + len(GRID_CASES) + len(PROFILE_CASES) + len(CONFIG_CASES)
         + len(CSV_CASES) + len(BAD_ROWS))
    assert n >= 200
