"""LLM specifications: HF ``config.json`` loader, catalogue, and parameter/KV/FLOP counts.

Import from the submodules: ``models.catalogue.model``, ``models.spec.ModelSpec``,
``models.counts.total_params``, ``models.errors.ModelError``.
"""
