"""Configs in the local Hugging Face hub cache: an HF id resolves without the network when its
``config.json`` was downloaded before (by ``transformers``, ``huggingface-cli download``, vLLM ...).

The cache is ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``
(``~/.cache/huggingface/hub``), as the ``huggingface_hub`` library places it. A repository ``org/name``
lives in ``models--org--name``; ``refs/main`` names the snapshot the library last resolved, and any
other snapshot holding a ``config.json`` is the fallback (the newest first).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HF_ID = re.compile(r"^[^/\s]+/[^/\s]+$")


def hub_cache() -> Path:
    """The hub cache directory the ``huggingface_hub`` library uses (see the module docstring)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "huggingface" / "hub"


def cached_config(hf_id: str) -> Path | None:
    """The cached ``config.json`` of ``hf_id`` (``org/name``), or ``None`` when there is none."""
    if not HF_ID.match(hf_id):
        return None
    repo = hub_cache() / ("models--" + hf_id.replace("/", "--"))
    ref = repo / "refs" / "main"
    if ref.is_file():
        pinned = repo / "snapshots" / ref.read_text().strip() / "config.json"
        if pinned.is_file():
            return pinned
    found = sorted((repo / "snapshots").glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    return found[0] if found else None
