"""The table registry (gis/store/registry.py) agrees with the SQLAlchemy models, and the
served catalogue, the import specifications and the export columns are all derived from
it (one Layer class, one description of each table)."""

from __future__ import annotations

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, String, Text

from gis.store import layers_catalog, registry
from gis.store.models import Base
from gis.store.registry import IMPORTABLE, LAYERS, SERVED

TABLES = Base.metadata.tables
COMPATIBLE = {"str": (String, Text), "code12": (String, Text), "int": (Integer,),
              "float": (Float,), "datetime": (DateTime,), "bool": (Boolean,), "date": (Date,)}
GEOMETRY = {("point", False): "POINT", ("line", True): "MULTILINESTRING",
            ("line", False): "LINESTRING", ("polygon", True): "MULTIPOLYGON",
            ("any", False): "GEOMETRY"}


@pytest.mark.parametrize("layer", LAYERS.values(), ids=lambda lay: lay.name)
def test_every_field_is_a_column_of_a_compatible_type(layer):
    table = TABLES[layer.table]
    for f in layer.columns:
        assert f.type in registry.TYPES, (layer.name, f.name)
        assert f.db_column in table.c, f"{layer.name}.{f.name}: no column {f.db_column}"
        column = table.c[f.db_column]
        assert isinstance(column.type, COMPATIBLE[f.type]), \
            f"{layer.name}.{f.name} is {f.type} but the column is {column.type}"
        if f.choices is not None:  # a vocabulary: the table's check constraint holds it
            checks = " ".join(str(c.sqltext) for c in table.constraints
                              if hasattr(c, "sqltext") and f.db_column in str(c.sqltext))
            assert all(f"'{v}'" in checks for v in f.choices), (layer.name, f.name)
        if f.references is not None:
            ref_table, ref_column = f.references
            assert ref_column in TABLES[ref_table].c


@pytest.mark.parametrize("layer", LAYERS.values(), ids=lambda lay: lay.name)
def test_geometry_ids_and_served_columns_exist(layer):
    table = TABLES[layer.table]
    if layer.geometry is None:
        assert "geom" not in table.c
        return
    geom = table.c["geom"].type
    assert isinstance(geom, Geometry) and geom.srid == 4326
    assert geom.geometry_type == GEOMETRY[(layer.geometry, layer.multi)]
    if layer.title is None:
        return
    assert layer.id_column in table.c
    assert layer.export_order in table.c
    for col in (layer.scope_code, *(layer.datetime or ())):
        assert col is None or col in table.c, (layer.name, col)
    assert {t for t in layer.watched_tables} <= set(TABLES)


def test_required_import_fields_are_not_null_or_derived():
    for layer in IMPORTABLE.values():
        table = TABLES[layer.table]
        for f in layer.fields:
            column = table.c[f.db_column]
            if not column.nullable and not column.primary_key and column.server_default is None:
                assert f.required or f.default is not None or layer.derive is not None, \
                    f"{layer.name}.{f.name}: NOT NULL in the table but optional in files"


def test_catalogue_import_specs_and_exports_derive_from_the_registry():
    assert layers_catalog.LAYERS is SERVED
    assert layers_catalog.Layer is registry.Layer
    assert set(SERVED) == {"admin_units", "grids", "buildings", "roads", "key_places",
                           "incidents", "cameras", "blind_spots", "coverage",
                           "patrol_tracks", "plan_grids"}
    assert set(IMPORTABLE) == {"admin_units", "buildings", "address_points", "roads",
                               "grids", "grid_staff", "key_places", "incidents", "cameras",
                               "patrol_points"}
    incidents = LAYERS["incidents"]
    exported = [f.name for f in incidents.export_columns]
    assert exported == [*incidents.names, "grid_code"]  # files re-import unchanged
    served = {p.name: p for p in incidents.props}
    assert {"status", "grid_code", "boundary", "overdue"} <= set(served)
    assert "reporter" not in served and "external_id" not in served
    assert served["boundary"].kind == "bool" and served["reported_at"].kind == "time"
    assert LAYERS["coverage"].prop("ratio").sql == 't."coverage_ratio"'


def test_unknown_layers_are_refused_by_name():
    from gis.errors import InputError

    with pytest.raises(InputError, match="unknown layer 'coverage'"):
        registry.get_layer("coverage")  # served, not importable
    assert registry.served_layer("patrol_points") is None
