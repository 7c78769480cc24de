"""The base every spec is built on: frozen records and the checks their fields declare.

``hardware``, ``models`` and ``planner`` all build their specs (GPUs, fabrics, systems, models,
engine profiles, workloads) on `specbase.record.record` and `specbase.checks.spec`; this package
imports none of them, nor pydantic, so a plan that reads only the shipped catalogue never loads a
validator library (``from pydantic import BaseModel`` alone is ~0.03 s of a ~0.4 s plan on a 2-core
EPYC). Catalogue files and sweep grids a user writes are still validated by the pydantic schemas of
their own package; engine profiles and fleet files are read straight into specs (a fleet file's tables
with `checks.from_table`, which refuses a key a spec does not declare, naming the closest).
"""
