"""The fleet file's tables are specbase records (``planner.fleet.spec``): each field's declared check, the checks
across fields, unknown and missing keys, each refused as one line naming the table, the field and what to give."""

import dataclasses

import pytest

from hardware.catalogue import Catalogue
from planner.errors import InputError
from planner.fleet.spec import (
    MAX_COUNT,
    MAX_TPS,
    HardwareTable,
    ModelTable,
    Overrides,
    PlanTable,
    parse,
    resolve,
)
from planner.serving.workload import MAX_TOKENS

PLAN = '[plan]\nminimise = "gpus"\n'
HARDWARE = '[[hardware]]\nsystem = "hgx-h200"\nservers = 2\n'
MODEL = '[[model]]\nname = "llama-3.1-8b"\ntokens_cached = 1024\ntarget_tps = 1000\n'


def _text(plan="", hardware="", model="") -> str:
    """The small valid file with TOML lines added to its [plan], first [[hardware]] and first [[model]]."""
    return PLAN + plan + HARDWARE + hardware + MODEL + model


def _refused(text: str) -> str:
    with pytest.raises(InputError) as caught:
        parse(text, "f.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_tables_are_records_with_their_defaults():
    table = parse(_text())
    assert table.plan == PlanTable(minimise="gpus") and table.plan.serving == "any"
    (hw,), (m,) = table.hardware, table.model
    assert (hw.system, hw.servers, hw.racks, hw.gpus) == ("hgx-h200", 2, None, None)
    # an integer given to a number is kept as a float (1000 -> 1000.0), as the pydantic schema kept it
    assert (m.name, m.tokens_cached, m.target_tps, m.weight, m.serving) == ("llama-3.1-8b", 1024, 1000.0, 1.0, None)
    assert type(m.target_tps) is float and type(m.tokens_cached) is int
    assert dataclasses.is_dataclass(table) and parse(_text()) == table  # compared by value
    # no [plan] table: the default question; no [[model]] tables: none (the command line may give them)
    bare = parse(HARDWARE)
    assert bare.plan == PlanTable() and bare.model == ()


def test_an_integral_float_count_is_an_integer():
    # specbase's integers are lax as pydantic's lax mode: 2.0 servers is 2 (the old strict schema refused it)
    (hw,) = parse(_text().replace("servers = 2", "servers = 2.0")).hardware
    assert hw.servers == 2 and type(hw.servers) is int


# (table, key, a value past its bound, the problem named); the bounds are the fields' declarations in spec.py
BOUNDS = [
    ("hardware", "racks", "-1", "must be >= 0 (got -1)"),
    ("hardware", "servers", str(MAX_COUNT + 1), "must be <= 1e+06 (got 1000001)"),
    ("hardware", "gpus", "1e300", "must be <= 1e+06 (got 1e+300)"),  # shown as written, not as 301 digits
    ("hardware", "gpus", "2.5", "must be an integer (got 2.5)"),
    ("hardware", "price_per_gpu_hour", "-1", "must be >= 0 (got -1.0)"),
    ("hardware", "price_per_server_hour", "inf", "must be a finite number (got inf)"),
    ("hardware", "price_per_rack_hour", '"1"', "must be a number (got '1')"),
    ("hardware", "power_w_per_gpu", "0", "must be > 0 (got 0.0)"),
    ("hardware", "power_kw_per_server", "nan", "must be a finite number (got nan)"),
    ("hardware", "power_kw_per_rack", "true", "must be a number (got True)"),
    ("hardware", "label", "5", "must be a string (got 5)"),
    ("hardware", "fabric", "[1]", "must be a string (got [1])"),
    ("hardware", "preset", "2", "must be a string (got 2)"),
    ("model", "isl", "0", "must be >= 1 (got 0)"),
    ("model", "osl", str(MAX_TOKENS + 1), "must be <= 1e+08 (got 100000001)"),
    ("model", "target_tps", "0", "must be > 0 (got 0.0)"),
    ("model", "target_tps", str(int(MAX_TPS) * 10), "must be <= 1e+12 (got 10000000000000.0)"),
    ("model", "target_tps", "1" + "0" * 400, f"must be a finite number (got {10 ** 400})"),  # past any float
    ("model", "share", "-2", "must be > 0 (got -2.0)"),
    ("model", "weight", "0", "must be > 0 (got 0.0)"),
    ("model", "max_tpot_ms", "-1", "must be > 0 (got -1.0)"),
    ("model", "min_tok_per_user", "0", "must be > 0 (got 0.0)"),
    ("model", "max_ttft_ms", "inf", "must be a finite number (got inf)"),
    ("model", "serving", '"sideways"', "must be one of 'agg', 'disagg', 'any' (got 'sideways')"),
    ("model", "label", "true", "must be a string (got True)"),
    ("plan", "minimise", '"joy"', "must be one of 'gpus', 'cost', 'power' (got 'joy')"),
    ("plan", "maximise", '"cost"', "must be 'tps' (got 'cost')"),
    ("plan", "max_kw", "0", "must be > 0 (got 0.0)"),
    ("plan", "max_cost_per_hour", "-3", "must be > 0 (got -3.0)"),
    ("plan", "serving", '"x"', "must be one of 'agg', 'disagg', 'any' (got 'x')"),
    ("plan", "engine", "5", "must be a string (got 5)"),
]


@pytest.mark.parametrize("table, key, value, problem", BOUNDS, ids=[f"{t}.{k}={v[:8]}" for t, k, v, _ in BOUNDS])
def test_each_declared_bound_names_its_table_field_and_value(table, key, value, problem):
    given = {"plan": PLAN, "hardware": HARDWARE, "model": MODEL}[table]
    if f"\n{key} = " in given:  # the small file sets it already: its value replaced
        text = _text().replace(given, "\n".join(f"{key} = {value}" if line.startswith(f"{key} = ") else line
                                                for line in given.splitlines()) + "\n")
    else:
        text = _text(**{table: f"{key} = {value}\n"})
    where = {"plan": "plan", "hardware": "hardware[1]", "model": "model[1]"}[table]
    assert _refused(text) == f"f.toml: field '{where}.{key}' {problem}"


def test_the_second_table_is_counted_from_one():
    text = _text() + HARDWARE.replace("servers = 2", "servers = -2")
    assert _refused(text) == "f.toml: field 'hardware[2].servers' must be >= 0 (got -2)"


@pytest.mark.parametrize("plan, hardware, message", [
    ("", "racks = 1\n", "f.toml: hardware[1]: give one of racks, servers, gpus, not racks and servers"),
    ("", "price_per_gpu_hour = 1\nprice_per_rack_hour = 2\n",
     "f.toml: hardware[1]: give one of price_per_gpu_hour, price_per_server_hour, price_per_rack_hour, "
     "not price_per_gpu_hour and price_per_rack_hour"),
    ("", "power_w_per_gpu = 700\npower_kw_per_server = 6\n",
     "f.toml: hardware[1]: give one of power_w_per_gpu, power_kw_per_server, power_kw_per_rack, "
     "not power_w_per_gpu and power_kw_per_server"),
    ('maximise = "tps"\n', "", "f.toml: plan: give one of minimise, maximise, not minimise and maximise"),
])
def test_checks_across_fields(plan, hardware, message):
    assert _refused(_text(plan=plan, hardware=hardware)) == message


def test_a_hardware_table_needs_a_count():
    assert _refused(_text().replace("servers = 2\n", "")) == "f.toml: hardware[1]: give one of racks, servers, gpus"


@pytest.mark.parametrize("text, message", [
    (_text(hardware="rack = 1\n"), "f.toml: field 'hardware[1].rack' is not a known key; did you mean 'racks'?"),
    (_text(plan="mimise = 3\n"), "f.toml: field 'plan.mimise' is not a known key; did you mean 'minimise'?"),
    (_text(model="target_tps2 = 3\n"),
     "f.toml: field 'model[1].target_tps2' is not a known key; did you mean 'target_tps'?"),
    (_text(model="colour = 3\n"),
     "f.toml: field 'model[1].colour' is not a known key; known: name, label, tokens_cached, isl, osl, target_tps, "
     "share, weight, max_tpot_ms, min_tok_per_user, max_ttft_ms, serving"),
    (_text().replace("[plan]", "[plann]"), "f.toml: field 'plann' is not a known key; did you mean 'plan'?"),
    # a misspelt [[hardware]] is named before the [[hardware]] it leaves out
    (_text().replace("[[hardware]]", "[[hardwares]]"),
     "f.toml: field 'hardwares' is not a known key; did you mean 'hardware'?"),
    (_text().replace("[[model]]", "[[models]]"), "f.toml: field 'models' is not a known key; did you mean 'model'?"),
])
def test_unknown_keys_are_refused_with_a_hint(text, message):
    assert _refused(text) == message


@pytest.mark.parametrize("text, message", [
    ("", "f.toml: field 'hardware' is required; add a [[hardware]] table for each hardware kind"),
    ("hardware = []\n", "f.toml: field 'hardware' is empty; add a [[hardware]] table for each hardware kind"),
    ("hardware = 5\n", "f.toml: field 'hardware' must be a list of tables, each headed [[hardware]] (got 5)"),
    ("[hardware]\nsystem = 'hgx-h200'\nservers = 1\n",
     "f.toml: field 'hardware' must be a list of tables, each headed [[hardware]] "
     "(got {'system': 'hgx-h200', 'servers': 1})"),
    ("hardware = [5]\n", "f.toml: field 'hardware[1]' must be a table of keys (got 5)"),
    ("plan = 5\n" + HARDWARE, "f.toml: field 'plan' must be a table of keys (got 5)"),
    ("model = 5\n" + HARDWARE, "f.toml: field 'model' must be a list of tables, each headed [[model]] (got 5)"),
    (_text().replace('system = "hgx-h200"\n', ""), "f.toml: field 'hardware[1].system' is required; give a string"),
    (_text().replace('name = "llama-3.1-8b"\n', ""), "f.toml: field 'model[1].name' is required; give a string"),
])
def test_tables_missing_or_of_the_wrong_shape(text, message):
    assert _refused(text) == message


def test_command_line_models_are_checked_as_model_tables():
    # `rackplan fleet FILE --model NAME=TPS` builds [[model]] tables; click checks the target is > 0, the
    # table its upper bound, named by the model typed
    table = parse(_text())
    overrides = Overrides(models=({"name": "llama-3.1-8b", "target_tps": 1e13},))
    with pytest.raises(InputError) as caught:
        resolve(table, Catalogue(), overrides, "f.toml")
    assert str(caught.value) == "--model llama-3.1-8b: field 'target_tps' must be <= 1e+12 (got 10000000000000.0)"


def test_the_tables_declare_every_price_and_power_field():
    from planner.fleet.spec import POWER_FIELDS, PRICE_FIELDS
    names = {f.name for f in dataclasses.fields(HardwareTable)}
    assert {name for name, _, _ in PRICE_FIELDS + POWER_FIELDS} <= names
    assert {f.name for f in dataclasses.fields(ModelTable)} >= {"isl", "osl", "tokens_cached", "target_tps"}
