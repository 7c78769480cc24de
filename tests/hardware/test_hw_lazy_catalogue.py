"""The shipped catalogue is read entry by entry, on first use: a plan parses its system, GPU and fabrics only,
and a bad shipped file fails every lookup that uses it with the one-line message of a bad user file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import hardware.catalogue as catalogue_module
from hardware import Catalogue, CatalogueError
from hardware.catalogue import DATA_DIR


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The catalogue files read (parsed, served from the content cache, or their spec kept by an earlier run:
    ``hardware.entry_file.cached_spec``), as ``section/name``."""
    seen: list[str] = []
    real, real_kept = catalogue_module.load_file, catalogue_module.cached_spec

    def recording(path: Path, schema):
        seen.append(f"{path.parent.name}/{path.stem}")
        return real(path, schema)

    def kept(section: str, path: Path):
        spec = real_kept(section, path)
        if spec is not None:
            seen.append(f"{path.parent.name}/{path.stem}")
        return spec

    monkeypatch.setattr(catalogue_module, "load_file", recording)
    monkeypatch.setattr(catalogue_module, "cached_spec", kept)
    return seen


def test_building_the_catalogue_reads_no_shipped_file(reads) -> None:
    Catalogue()
    assert reads == []


def test_a_plan_reads_its_system_gpu_and_fabrics_only(reads) -> None:
    hw = Catalogue().hardware("gb200-nvl72")
    assert hw.gpu.name == "gb200"
    # hardware/data/systems/gb200-nvl72.toml: gpu "gb200", fabrics nvlink5 (intra and inter server), ib-ndr-400
    assert sorted(reads) == ["fabrics/ib-ndr-400", "fabrics/nvlink5", "gpus/gb200", "systems/gb200-nvl72"]


def test_a_short_gpu_name_reads_systems_until_its_own(reads) -> None:
    hw = Catalogue().hardware("h200")
    assert hw.system.name == "hgx-h200"
    # the shipped systems in name order up to hgx-h200 (gb200-nvl72, gb300-nvl72, hgx-b200, hgx-b300, hgx-h100,
    # hgx-h200), then its GPU and its two fabrics (nvlink4 inside a server, ib-ndr-400 outside)
    systems = sorted(p.stem for p in (DATA_DIR / "systems").glob("*.toml"))
    assert [r for r in reads if r.startswith("systems/")] == [f"systems/{s}" for s in systems[:6]]
    assert sorted(r for r in reads if not r.startswith("systems/")) == [
        "fabrics/ib-ndr-400", "fabrics/nvlink4", "gpus/h200-sxm"]


def test_listing_names_reads_the_whole_section(reads) -> None:
    cat = Catalogue()
    assert len(cat.gpu_names()) == len(list((DATA_DIR / "gpus").glob("*.toml")))
    assert {r.split("/")[0] for r in reads} == {"gpus"}
    cat.load_all()
    assert len(set(reads)) == len(list(DATA_DIR.glob("*/*.toml")))


@pytest.fixture
def broken_h100(tmp_path: Path, monkeypatch) -> Path:
    """A copy of the shipped data with a negative HBM size in gpus/h100-sxm.toml, standing in for the shipped one."""
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "gpus" / "h100-sxm.toml"
    text = path.read_text()
    assert "hbm_capacity_gb = 80\n" in text
    path.write_text(text.replace("hbm_capacity_gb = 80\n", "hbm_capacity_gb = -1\n"))
    monkeypatch.setattr(catalogue_module, "DATA_DIR", data)
    catalogue_module._shipped_files.cache_clear()
    yield path
    catalogue_module._shipped_files.cache_clear()  # the next catalogue finds the real data again


def test_a_bad_shipped_file_fails_what_uses_it_only(broken_h100: Path) -> None:
    cat = Catalogue()
    assert cat.hardware("gb200-nvl72").gpu.name == "gb200"  # never reads h100-sxm.toml
    message = f"{broken_h100}: field 'hbm_capacity_gb' must be > 0 (got -1)"
    for lookup in (lambda: cat.hardware("hgx-h100"), lambda: cat.gpu("h100"), cat.gpu_names, cat.load_all):
        with pytest.raises(CatalogueError) as info:
            lookup()
        assert str(info.value) == message  # every time: a failed read is not kept
    # the same file as a user's entry fails when the catalogue is built, with the same line
    user = broken_h100.parents[2] / "user"
    (user / "gpus").mkdir(parents=True)
    shutil.copy(broken_h100, user / "gpus" / "h100-sxm.toml")
    with pytest.raises(CatalogueError, match=r"h100-sxm.toml: field 'hbm_capacity_gb' must be > 0 \(got -1\)$"):
        Catalogue([user])


def test_an_unknown_name_lists_the_closest_after_reading_everything(reads) -> None:
    with pytest.raises(CatalogueError, match=r"^unknown system 'hgx-h300'; closest: .*hgx-h200"):
        Catalogue().system("hgx-h300")
    assert {r.split("/")[0] for r in reads} == {"systems"}
