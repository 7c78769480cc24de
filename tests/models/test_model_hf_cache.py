"""An HF id resolves from the local Hugging Face hub cache when its config.json is there (no network)."""

import os
import shutil
from pathlib import Path

import pytest

from models import catalogue
from models.counts import total_params
from models.errors import ModelError
from models.hf_cache import cached_config, hub_cache

DATA = Path(catalogue.__file__).resolve().parent / "data"


def _cache(root: Path, hf_id: str, revision: str, source: Path, pin: bool = True) -> Path:
    repo = root / ("models--" + hf_id.replace("/", "--"))
    snap = repo / "snapshots" / revision
    snap.mkdir(parents=True)
    shutil.copy(source, snap / "config.json")
    if pin:
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(revision)
    return snap / "config.json"


def test_the_cache_directory_follows_the_hub_library(monkeypatch, tmp_path):
    for var in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert hub_cache() == Path.home() / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hub_cache() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert hub_cache() == tmp_path / "hub"


def test_an_uncatalogued_hf_id_loads_from_the_cache_under_its_own_name(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    hf_id = "my-org/My-Llama-8B-Finetune"
    with pytest.raises(ModelError, match="unknown model 'my-org/My-Llama-8B-Finetune'"):
        catalogue.model(hf_id)
    # refs/main names the snapshot; an older snapshot beside it is ignored.
    _cache(tmp_path / "hub", hf_id, "aaa111", DATA / "qwen3-32b.json", pin=False)
    path = tmp_path / "hub" / "models--my-org--My-Llama-8B-Finetune" / "snapshots" / "bbb222"
    path.mkdir(parents=True)
    shutil.copy(DATA / "llama-3.1-8b.json", path / "config.json")
    (path.parents[1] / "refs").mkdir()
    (path.parents[1] / "refs" / "main").write_text("bbb222")
    assert cached_config(hf_id) == path / "config.json"
    spec = catalogue.model(hf_id)
    assert spec.name == hf_id  # the name people typed, never rewritten
    # The Llama 3.1 8B config: 8.03 B parameters (the catalogue entry's own count).
    assert total_params(spec) == total_params(catalogue.model("llama-3.1-8b"))
    assert os.fspath(path) in spec.source


def test_without_refs_the_newest_snapshot_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    older = _cache(tmp_path, "a/b", "old", DATA / "qwen3-32b.json", pin=False)
    os.utime(older, (1, 1))
    newer = _cache(tmp_path, "a/c", "x", DATA / "llama-3.1-8b.json", pin=False)
    assert cached_config("a/b") == older and cached_config("a/c") == newer
    assert cached_config("not-an-id") is None and cached_config("a/missing") is None
