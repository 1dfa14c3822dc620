"""The service layer: one module per concept, one public function per use case.

The API (``api/``) and the command line (``gis/cli``) call these and nothing below them.
Each use case opens its own :func:`unit_of_work` over the engine, calls the repositories in
:mod:`gis.store` (which only flush), applies the domain rules, and COMMITS before it
returns plain values (dicts, dataclasses, GeoDataFrames; never an ORM object of a closed
session). A commit that fails raises a domain error (409 Conflict, or NotStored: 5xx), so
no caller can report success for a change that was not stored.

Modules: incidents, plans, cameras, coverage, patrol, assessment, key_households, accounts, imports,
overview, layers, audit, demo. See docs/architecture.md.
"""

from gis.services.uow import unit_of_work

__all__ = ["unit_of_work"]
