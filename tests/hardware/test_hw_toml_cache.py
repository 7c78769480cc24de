"""The parsed-TOML cache of the package's data files (``hardware.toml_file``): the very tables ``tomllib``
gives, parsed again when the bytes change, never for the user's files, and passed by when it is off or broken."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from hardware import toml_file
from hardware.toml_file import PACKAGE_ROOT, read_toml

# Every TOML file the package ships: catalogue entries, engine profiles, kernel-curve tables, model sources.
SHIPPED = sorted(p for folder in ("hardware/data", "planner/engine/data", "models/data")
                 for p in (PACKAGE_ROOT / folder).rglob("*.toml"))


def same(a, b) -> bool:
    """Equal values of equal types all the way down (1 and 1.0 differ; NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(toml_file.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def package(tmp_path: Path, monkeypatch) -> Path:
    """A stand-in package folder: files under it are the package's own."""
    root = tmp_path / "package"
    monkeypatch.setattr(toml_file, "PACKAGE_ROOT", root)
    return root


def package_file(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


@pytest.fixture
def no_parse(monkeypatch):
    """Call to make any further ``tomllib.loads`` fail the test."""
    def forbid():
        def refuse(*args, **kwargs):
            raise AssertionError("parsed again")
        monkeypatch.setattr(tomllib, "loads", refuse)  # the module toml_file imports when it parses
    return forbid


def test_shipped_files_come_back_from_the_cache_exactly_as_parsed(cache: Path, no_parse) -> None:
    assert len(SHIPPED) >= 30  # 29 catalogue entries, engine profiles, 4 kernel tables, SOURCES.toml
    parsed = {p: tomllib.loads(p.read_text(encoding="utf-8")) for p in SHIPPED}
    first = {p: read_toml(p, ValueError, "the file") for p in SHIPPED}
    assert len(list(cache.glob("*.json"))) == len(SHIPPED)  # one record per file
    no_parse()
    for path in SHIPPED:
        again = read_toml(path, ValueError, "the file")
        assert same(first[path], parsed[path]) and same(again, parsed[path]), path
        assert again is not first[path]  # a fresh table each read, as tomllib gives


def test_an_edited_package_file_is_parsed_again(cache: Path, package: Path) -> None:
    path = package_file(package, "planner/engine/data/mine.toml", "x = 1\n[t]\ny = [1.5, nan]\n")
    assert read_toml(path, ValueError, "the file")["x"] == 1
    path.write_text("x = 2\n[t]\ny = [1.5, nan]\n")  # same length, new bytes
    data = read_toml(path, ValueError, "the file")
    assert data["x"] == 2 and data["t"]["y"][0] == 1.5 and math.isnan(data["t"]["y"][1])
    assert len(list(cache.glob("*.json"))) == 1  # the record is replaced, not added to


@pytest.mark.parametrize("damage", ["", "{", '{"sha": "0", "data": {}}', "[1, 2]", '{"sha": 1}', "\xff"])
def test_a_damaged_record_is_passed_by_and_rewritten(cache: Path, damage: str) -> None:
    path = PACKAGE_ROOT / "hardware" / "data" / "gpus" / "h200-sxm.toml"
    expected = tomllib.loads(path.read_text(encoding="utf-8"))
    read_toml(path, ValueError, "the file")
    (record,) = cache.glob("*.json")
    record.write_bytes(damage.encode("latin-1"))
    assert same(read_toml(path, ValueError, "the file"), expected)
    assert same(read_toml(path, ValueError, "the file"), expected)  # from the rewritten record
    assert record.read_bytes() != damage.encode("latin-1")


def test_user_files_are_never_kept(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text("a = 1\n")
    assert read_toml(path, ValueError, "the grid") == {"a": 1}
    assert not cache.exists()


def test_the_cache_can_be_turned_off_or_be_unwritable(tmp_path: Path, monkeypatch) -> None:
    path = PACKAGE_ROOT / "hardware" / "data" / "fabrics" / "nvlink5.toml"
    expected = tomllib.loads(path.read_text(encoding="utf-8"))
    monkeypatch.setenv(toml_file.CACHE_ENV, "")
    assert toml_file.cache_dir() is None and same(read_toml(path, ValueError, "the file"), expected)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(toml_file.CACHE_ENV, str(blocker / "cache"))  # mkdir under a file fails
    assert same(read_toml(path, ValueError, "the file"), expected)
    assert list(tmp_path.iterdir()) == [blocker]  # nothing written, no temporary left


def test_the_default_place_follows_xdg(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(toml_file.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert toml_file.cache_dir() == tmp_path / "rackplan" / "toml"


def test_errors_are_the_same_with_a_cache(cache: Path, package: Path) -> None:
    path = package_file(package, "hardware/data/gpus/bad.toml", 'name = "bad"\nvendor = \n')
    for _ in range(2):  # a failure is not kept
        with pytest.raises(ValueError, match=r"^bad.toml: invalid TOML \(Invalid value \(at line 2, column 10\)\)$"):
            read_toml(path, ValueError, "the file", "bad.toml", invalid="invalid TOML")
    assert not cache.exists()
