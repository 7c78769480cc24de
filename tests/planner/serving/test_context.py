"""A context longer than the model's ``max_position_embeddings`` is an error naming both numbers.

Llama-3.1-8B's config.json sets ``max_position_embeddings`` to 131,072 (models/data); before the
check, 1,000,000 tokens cached planned as feasible.
"""

import pytest

import planner
from planner.cli.main import main
from planner.errors import InputError
from planner.serving import resolve

MODEL = "llama-3.1-8b"
LIMIT = 131_072  # llama-3.1-8b config.json max_position_embeddings


def _scenario(**kw):
    return resolve.scenario(model=MODEL, system="hgx-h200", **kw)


def test_context_at_the_limit_is_accepted():
    assert _scenario(tokens_cached=LIMIT).model.max_position_embeddings == LIMIT
    # isl + osl = 130,000 + 1,072 = 131,072: exactly the window
    assert _scenario(isl=130_000, osl=1_072).workload.kv_context_tokens == LIMIT


def test_context_past_the_limit_names_both_numbers():
    with pytest.raises(InputError) as exc:
        _scenario(tokens_cached=1_000_000)
    msg = str(exc.value)
    assert msg.startswith("context: 1,000,000 tokens (tokens cached)") and "131,072" in msg
    assert "--allow-long-context" in msg and "\n" not in msg
    # isl/osl: the KV cache holds isl + osl = 130,000 + 1,073 = 131,073 tokens, one past the window
    with pytest.raises(InputError, match=r"131,073 tokens \(isl \+ osl = 130,000 \+ 1,073\) exceed .*131,072"):
        _scenario(isl=130_000, osl=1_073)


def test_flag_allows_a_what_if():
    sc = _scenario(tokens_cached=1_000_000, allow_long_context=True)
    assert sc.workload.kv_context_tokens == 1_000_000


def test_library_and_cli(capsys):
    with pytest.raises(InputError, match="max_position_embeddings 131,072"):
        planner.evaluate(model=MODEL, system="hgx-h200", tokens_cached=200_000)
    doc = planner.evaluate(model=MODEL, system="hgx-h200", tokens_cached=200_000, allow_long_context=True)
    assert doc["plan"]["batch"] == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--model", MODEL, "--system", "hgx-h200", "--tokens-cached", "1000000"])
    out, err = capsys.readouterr()
    assert exit_info.value.code != 0 and "Traceback" not in err
    assert "1,000,000 tokens" in err and "131,072" in err and err.count("\n") == 1


def test_fleet_model_checked(tmp_path):
    from hardware.catalogue import Catalogue
    from planner.fleet.spec import load

    path = tmp_path / "fleet.toml"
    path.write_text('[[hardware]]\nsystem = "hgx-h200"\ngpus = 8\n\n'
                    f'[[model]]\nname = "{MODEL}"\ntokens_cached = 200000\ntarget_tps = 100\n')
    with pytest.raises(InputError, match=r"fleet.toml: model\[1\]: 200,000 tokens .*131,072; shorten tokens_cached"):
        load(path, Catalogue())
