"""The converted specs of shipped catalogue files kept between runs (``hardware.entry_file.cached_spec``): the
very spec validation gives, never used once the file or the converting code changes, passed by when off or broken."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardware import entry_file, toml_file
from hardware.catalogue import DATA_DIR, SECTIONS, Catalogue
from hardware.entry_file import cached_spec, keep_spec, load_file


def same(a: dict, b: dict) -> bool:
    """Equal as JSON text: the same keys in the same order, 1 and 1.0 apart (specs hold no NaN)."""
    return json.dumps(a) == json.dumps(b)


SHIPPED = [(section, path) for section in SECTIONS for path in sorted((DATA_DIR / section).glob("*.toml"))]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(toml_file.CACHE_ENV, str(folder))
    monkeypatch.setattr(entry_file, "_SPECS", {})  # no spec of this process's earlier reads
    return folder


def test_every_shipped_spec_comes_back_as_validation_gave_it(cache: Path, monkeypatch) -> None:
    assert len(SHIPPED) >= 29  # the catalogue's GPUs, systems, fabrics and presets
    validated = {path: load_file(path, SECTIONS[section]).to_spec() for section, path in SHIPPED}
    for section, path in SHIPPED:
        assert cached_spec(section, path) is None  # nothing kept yet
        keep_spec(section, path, validated[path])
    assert len(list(cache.glob("*.spec.json"))) == len(SHIPPED)
    monkeypatch.setattr(entry_file, "_SPECS", {})  # as a new process: from the records
    for section, path in SHIPPED:
        spec, expected = cached_spec(section, path), validated[path]
        assert type(spec) is type(expected), path
        assert same(dataclasses.asdict(spec), dataclasses.asdict(expected)), path  # 1 and 1.0 differ, order counts
        assert spec == expected and hash(spec) == hash(expected), path
        assert cached_spec(section, path) is spec  # one object per file per process


def test_a_plan_from_kept_specs_builds_no_file_schema(tmp_path: Path) -> None:
    # the first run validates the shipped files it reads (hardware.schema and pydantic imported), a second one
    # builds the specs from their records and loads neither, nor does reading the whole catalogue
    probe = ("import sys; from hardware import Catalogue; hw = Catalogue().hardware('gb200-nvl72', preset='seed'); "
             "print('hardware.schema' in sys.modules, 'pydantic' in sys.modules, hw.gpu.sustained_decode_flop_per_s)")
    env = dict(os.environ, **{toml_file.CACHE_ENV: str(tmp_path / "cache")})
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
            for _ in range(2)]
    first, second = (run.stdout.split() for run in runs)
    assert first[:2] == ["True", "True"] and second[:2] == ["False", "False"]
    assert first[2] == second[2] == "24000000000000.0"  # the seed preset's 24 TFLOP/s for GB200 (Note 1)
    listing = ("import sys; from hardware import Catalogue; Catalogue().load_all(); "
               "print('hardware.schema' in sys.modules, 'pydantic' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", listing], capture_output=True, text=True, check=True, env=env)
            for _ in range(2)]
    assert [run.stdout.split() for run in runs] == [["True", "True"], ["False", "False"]]


def test_an_edit_of_the_file_or_of_the_converting_code_is_validated_again(cache: Path, monkeypatch) -> None:
    section, path = "fabrics", DATA_DIR / "fabrics" / "nvlink5.toml"
    keep_spec(section, path, load_file(path, SECTIONS[section]).to_spec())
    monkeypatch.setattr(entry_file, "_SPECS", {})
    assert cached_spec(section, path) is not None
    monkeypatch.setattr(entry_file, "_code", lambda: b"another schema.py")
    assert cached_spec(section, path) is None
    monkeypatch.undo()
    monkeypatch.setenv(toml_file.CACHE_ENV, str(cache))
    monkeypatch.setattr(entry_file, "_SPECS", {})
    assert cached_spec(section, path) is not None  # the record still holds for the unchanged code
    # another file's bytes (same name, same place) do not match the record either
    monkeypatch.setattr(entry_file.Path, "read_bytes", lambda self: b"name = 'nvlink5'\n")
    assert cached_spec(section, path) is None


@pytest.mark.parametrize("damage", ["", "{", '{"sha": "0", "data": {}}', "[1]",
                                   '{"sha": "%s", "data": {"fields": {"bytes_per_s": 1.0}, "set": []}}'])
def test_a_damaged_record_is_passed_by_and_the_file_validated(cache: Path, monkeypatch, damage: str) -> None:
    catalogue = Catalogue()
    expected = catalogue.fabric("nvlink5")
    (record,) = cache.glob("*.spec.json")
    slot, content = entry_file._spec_slot(DATA_DIR / "fabrics" / "nvlink5.toml")
    record.write_text(damage.replace("%s", toml_file._digest(content)) if "%s" in damage else damage)
    monkeypatch.setattr(entry_file, "_SPECS", {})
    again = Catalogue().fabric("nvlink5")
    assert again == expected and same(dataclasses.asdict(again), dataclasses.asdict(expected))
    assert record.read_text() != damage  # validated and kept again


def test_a_record_the_checks_refuse_is_passed_by_and_the_file_validated(cache: Path, monkeypatch) -> None:
    # a record of the right shape whose figure the spec's declared checks refuse (a negative bandwidth) is not
    # a spec: the file is validated again and its record rewritten
    expected = Catalogue().fabric("nvlink5")
    (record,) = cache.glob("*.spec.json")
    kept = json.loads(record.read_text())
    kept["data"]["fields"]["bytes_per_s"] = -900e9
    record.write_text(json.dumps(kept))
    monkeypatch.setattr(entry_file, "_SPECS", {})
    assert cached_spec("fabrics", DATA_DIR / "fabrics" / "nvlink5.toml") is None
    again = Catalogue().fabric("nvlink5")
    assert again == expected and again.bytes_per_s == 900e9  # NVLink 5: 900 GB/s per direction [N3]
    assert json.loads(record.read_text())["data"]["fields"]["bytes_per_s"] == 900e9


def test_no_record_when_the_cache_is_off(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(toml_file.CACHE_ENV, "")
    monkeypatch.setattr(entry_file, "_SPECS", {})
    assert Catalogue().gpu("h200-sxm").name == "h200-sxm"
    assert cached_spec("gpus", DATA_DIR / "gpus" / "h200-sxm.toml") is None
    assert list(tmp_path.iterdir()) == []
