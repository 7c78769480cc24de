"""Catalogue models from the records of their validated specs (``planner.model_file``): the very spec
``models.catalogue.model`` gives, validated again once ``SOURCES.toml``, the config or the reading code changes,
and anything not a catalogue model (a path, an unknown name) left to ``models.catalogue``."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardware import toml_file
from models import catalogue
from models.errors import ModelError
from planner import model_file


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    """A cache folder of the test's own, and no spec kept from this process's earlier lookups."""
    monkeypatch.setattr(model_file, "_KEPT", {})
    monkeypatch.setenv(toml_file.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _exactly(spec, expected) -> None:
    assert type(spec) is type(expected)
    # 1 and 1.0 apart, order counts
    assert json.dumps(dataclasses.asdict(spec)) == json.dumps(dataclasses.asdict(expected))
    assert spec == expected and hash(spec) == hash(expected)
    for field in dataclasses.fields(expected):  # every value of its own type: a tuple stays a tuple, an int an int
        assert type(getattr(spec, field.name)) is type(getattr(expected, field.name)), field.name
    for nested in ("moe", "mla"):
        if getattr(expected, nested) is not None:
            for field in dataclasses.fields(getattr(expected, nested)):
                assert type(getattr(getattr(spec, nested), field.name)) is \
                    type(getattr(getattr(expected, nested), field.name)), f"{nested}.{field.name}"


def test_every_catalogue_model_comes_back_as_validation_gave_it(cache: Path, monkeypatch) -> None:
    names = catalogue.model_names()
    assert len(names) >= 13  # the catalogue of models/data/SOURCES.toml
    for name in names:
        _exactly(model_file.model(name), catalogue.model(name))  # validated, then recorded
    assert len(list(cache.glob("*.spec.json"))) == len(names) and len(list(cache.glob("*.index.json"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("validated again")

    monkeypatch.setattr(model_file, "_KEPT", {})  # as a new process: from the records only
    monkeypatch.setattr(catalogue, "model", refuse)
    for name in names:
        entry = catalogue.catalogue_entry(name)
        spec = model_file.model(entry.hf_id.upper())  # looked up as the catalogue does: HF id, any case
        _exactly(spec, catalogue._load_entry(name))
        assert model_file.model(f" {name} ") is spec  # one object per model per process


def test_a_changed_config_or_code_is_validated_again(cache: Path, monkeypatch, tmp_path: Path) -> None:
    data = tmp_path / "models" / "data"  # a copy of the catalogue, as the package's own data
    data.mkdir(parents=True)
    for path in catalogue.DATA_DIR.iterdir():
        (data / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(catalogue, "DATA_DIR", data)
    monkeypatch.setattr(catalogue, "SOURCES_FILE", data / "SOURCES.toml")
    monkeypatch.setattr(toml_file, "PACKAGE_ROOT", tmp_path)
    catalogue._load_entry.cache_clear()
    catalogue.sources.cache_clear()
    catalogue._index.cache_clear()
    validated = []

    def counted(name):
        validated.append(name)
        return real(name)

    real = catalogue.model
    monkeypatch.setattr(catalogue, "model", counted)
    try:
        assert model_file.model("llama-3.1-8b").num_hidden_layers == 32  # validated, recorded
        monkeypatch.setattr(model_file, "_KEPT", {})
        assert model_file.model("llama-3.1-8b").num_hidden_layers == 32 and validated == ["llama-3.1-8b"]
        config = json.loads((data / "llama-3.1-8b.json").read_text())
        config["num_hidden_layers"] = 33  # the record's slot is the same file: its bytes changed
        (data / "llama-3.1-8b.json").write_text(json.dumps(config))
        catalogue._load_entry.cache_clear()
        monkeypatch.setattr(model_file, "_KEPT", {})
        assert model_file.model("llama-3.1-8b").num_hidden_layers == 33 and len(validated) == 2
        monkeypatch.setattr(model_file, "_KEPT", {})
        monkeypatch.setattr(model_file, "_code", lambda: b"other code")  # the reading code changed
        assert model_file.model("llama-3.1-8b").num_hidden_layers == 33 and len(validated) == 3
    finally:
        catalogue._load_entry.cache_clear()
        catalogue.sources.cache_clear()
        catalogue._index.cache_clear()


def test_paths_and_unknown_names_are_the_catalogues(cache: Path) -> None:
    path = catalogue.DATA_DIR / "qwen3-32b.json"
    assert model_file.model(path) == catalogue.model(path)
    assert model_file.model(str(path)) == catalogue.model(str(path))
    with pytest.raises(ModelError, match="unknown model 'nosuch'"):
        model_file.model("nosuch")
    assert list(cache.glob("*.spec.json")) == []  # nothing recorded for a path or an unknown name


def test_a_process_with_a_record_reads_no_toml_and_imports_no_file_schema(tmp_path: Path) -> None:
    # the first process parses SOURCES.toml (tomllib) and validates it with its pydantic schema
    # (models.sources_schema); the next ones take the records: neither
    probe = ("import sys; from planner.model_file import model; "
             "m = model('qwen3-235b-a22b'); print('tomllib' in sys.modules, 'models.sources_schema' in sys.modules, "
             "m.moe.num_experts)")
    env = dict(os.environ, **{toml_file.CACHE_ENV: str(tmp_path / "cache")})
    seen = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                           env=env).stdout.split() for _ in range(3)]
    # Qwen3-235B-A22B: 128 routed experts
    assert seen == [["True", "True", "128"], ["False", "False", "128"], ["False", "False", "128"]]
