"""Schema of ``models/data/SOURCES.toml``: the catalogue's file, validated with pydantic.

Imported by ``models.catalogue.sources`` only when it parses the file; a plan of a catalogue model
whose record ``planner.model_file`` keeps reads neither the file nor this module.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from models.errors import ModelError


class Snapshot(BaseModel):
    """Where the catalogue's configs were copied from."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    repository: str
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    commit_date: str
    folder: str
    history: str


class CatalogueEntry(BaseModel):
    """One catalogue model: its file, its HF id and where the copy came from."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    file: str
    hf_id: str = Field(pattern=r"^[^/\s]+/[^/\s]+$")
    hf_aliases: tuple[str, ...] = ()
    upstream_path: str
    git_blob: str
    notes: str

    def source(self, snapshot: Snapshot) -> str:
        """One-line provenance for ``ModelSpec.source``."""
        return (
            f"https://huggingface.co/{self.hf_id}/blob/main/config.json, copied from "
            f"{snapshot.repository}@{snapshot.commit[:9]}:{self.upstream_path}"
        )


class Sources(BaseModel):
    """Schema of ``SOURCES.toml``."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    snapshot: Snapshot
    model: tuple[CatalogueEntry, ...]


def validate(raw: dict, where: str) -> Sources:
    """``raw`` (the parsed file) checked against `Sources`; a `ModelError` of one line naming the field."""
    from pydantic import ValidationError

    try:
        return Sources.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(part) for part in err["loc"])
        raise ModelError(f"{where}: field '{field}': {err['msg']}; fix the entry") from None
