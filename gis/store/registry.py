"""The table registry: one :class:`Layer` per table that gridgis imports, serves or exports,
with its fields (column, type, required, default, vocabulary, the spellings real files use)
and how it is served (title, properties and the zoom their tiles start carrying them,
scope, time columns, clustering). Everything else derives from it:

* the import specifications: :data:`IMPORTABLE` / :func:`get_layer` (the importer and the
  row checks interpret them);
* the served catalogue (OGC API collections and vector tiles): :data:`SERVED`, re-exported
  by :mod:`gis.store.layers_catalog`;
* the export columns: :attr:`Layer.export_columns` (the import fields, so a file exports
  and imports back unchanged, plus the columns gridgis adds, e.g. an incident's grid).

tests/test_registry.py checks every field against the SQLAlchemy models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from gis import department_limits as limits
from gis import incidents as loop
from gis import vocabulary
from gis.clocks import UNITS
from gis.errors import InputError
from gis.store import file_words as words
from gis.store.overdue import overdue_sql

# Field types: the importer casts str, code12, int, float and datetime; bool and date
# appear only on fields gridgis sets itself.
TYPES = ("str", "code12", "int", "float", "datetime", "bool", "date")
# The kind of a served property (filter parsing, TileJSON) for each field type.
PROP_KIND = {"str": "text", "code12": "text", "int": "int", "float": "float",
             "datetime": "time", "bool": "bool", "date": "date"}
# Statuses that stop the clock of an incident: those the closed loop leaves no way out of.
CLOSED_STATUSES_SQL = "({})".format(", ".join(
    f"'{s}'" for s in vocabulary.INCIDENT_STATUSES if s not in loop.OPEN_STATUSES))


@dataclass(frozen=True)
class Field:
    """One field of a layer (a table column).

    ``column`` is the table column when it differs from the name; ``choices`` restricts
    values to a vocabulary, reached through ``values`` (a map from the spellings found in
    real files, compared case-insensitively); ``minimum`` and ``maximum`` bound numbers;
    ``unique`` fields must not repeat in the file or table; ``references`` is
    ``(table, column)`` that must hold the value. ``imported``: part of the import
    specification (False: gridgis sets it); ``exported``: written by exports (default: when
    imported); ``zoom``: served as a property, in tiles from this zoom (None: not served).
    """

    name: str
    type: str = "str"
    required: bool = False
    default: object = None
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    unique: bool = False
    references: tuple[str, str] | None = None
    column: str | None = None
    imported: bool = True
    exported: bool | None = None
    zoom: int | None = None
    filterable: bool = True

    @property
    def db_column(self) -> str:
        return self.column or self.name


@dataclass(frozen=True)
class Prop:
    """One served property: ``sql`` is an expression over the table alias ``t``.

    ``kind`` drives parsing of filter values (text, int, float, bool, time, date) and the
    TileJSON field type; ``minzoom`` is the first zoom whose tiles carry it. A filter on
    it uses ``filter_sql`` with values of ``filter_kind`` when given (overdue: the reason
    is served, ``?overdue=true`` filters on whether there is one)."""

    name: str
    sql: str
    kind: str = "text"
    minzoom: int = 0
    filterable: bool = True
    filter_sql: str | None = None
    filter_kind: str | None = None


def _served(f: Field) -> Prop:
    return Prop(f.name, f't."{f.db_column}"', PROP_KIND[f.type], f.zoom, f.filterable)


@dataclass(frozen=True)
class Layer:
    """A table: ``geometry`` is ``"point"``, ``"line"``, ``"polygon"``, ``"any"`` (points
    or polygons) or ``None`` (a plain table); ``multi``: the column is Multi* (imports
    promote single geometries). ``columns`` lists its fields, imported or not.

    Served layers have a ``title``; their properties are the fields with a ``zoom`` plus
    ``computed`` ones (SQL over ``t``), in :attr:`props`."""

    name: str
    table: str
    geometry: str | None
    multi: bool
    columns: tuple[Field, ...]
    # Fills fields the file did not give, from the others (e.g. camera defaults by type).
    derive: Callable | None = None
    export_order: str = "id"
    # -- served (an OGC API collection and a vector tile layer) when ``title`` is set
    title: str | None = None
    id_column: str = "id"
    id_kind: str = "int"
    computed: tuple[Prop, ...] = ()
    live: bool = False               # short cache: content changes with the clock
    scope_code: str | None = None    # prefix-filter this code column
    scope_geom: bool = False         # ... or intersect with the scope's polygon
    owner_column: str | None = None  # a grid worker sees only rows with their user name
    where: str | None = None         # fixed condition (e.g. only current grids)
    datetime: tuple[str, str] | None = None  # (start, end) columns; end == start for instants
    minzoom: int = 0
    maxzoom: int = 22
    cluster_below: int | None = None  # points: aggregated into clusters under this zoom
    cluster_counts: tuple[tuple[str, str], ...] = ()  # (name, condition) counted per cluster
    description: str = ""
    tables: tuple[str, ...] = ()  # other tables whose changes affect it

    # -- import specification
    @property
    def fields(self) -> tuple[Field, ...]:
        """The fields a file may give (the import specification)."""
        return tuple(f for f in self.columns if f.imported)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    # -- export
    @property
    def export_columns(self) -> list[Field]:
        return [f for f in self.columns if (f.imported if f.exported is None else f.exported)]

    # -- served
    @property
    def id(self) -> str:
        return self.name

    @property
    def geometry_type(self) -> str:
        if self.geometry == "any":
            return "Geometry"
        base = {"point": "Point", "line": "LineString", "polygon": "Polygon"}[self.geometry]
        return f"Multi{base}" if self.multi else base

    @property
    def props(self) -> tuple[Prop, ...]:
        served = tuple(_served(f) for f in self.columns if f.zoom is not None)
        return served + self.computed

    @property
    def watched_tables(self) -> tuple[str, ...]:
        """Tables whose changes must invalidate cached tiles of this layer."""
        return (self.table, *self.tables)

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def tile_props(self, z: int) -> tuple[Prop, ...]:
        """Attribute selection by zoom: small tiles at low zoom, details when zoomed in."""
        return tuple(p for p in self.props if p.minzoom <= z)


def _ci(mapping: Mapping[str, str]) -> dict[str, str]:
    return {str(k).strip().lower(): v for k, v in mapping.items()}


def _set(name: str, type: str = "str", zoom: int | None = 0, **kw) -> Field:
    """A field gridgis sets itself (not imported), served from ``zoom``."""
    return Field(name, type, imported=False, zoom=zoom, **kw)


SOURCE_ID = Field("source_id", aliases=("id", "fid", "objectid", "osm_id", "gid", "编号",
                                        "building_id", "road_id", "point_id", "address_id"))
COMMUNITY = Field("community_code", "code12", references=("admin_units", "code"),
                  aliases=("community", "village_code", "社区代码", "村代码", "cun_code"))
HOUSEHOLDS = Field("households", "int", default=0, minimum=0, aliases=words.HOUSEHOLDS)
ADMIN_KINDS = ("county", *vocabulary.TOWNSHIP_KINDS, *vocabulary.COMMUNITY_KINDS)
# Why an incident is overdue now (NULL if it is not): gis.incidents.overdue, generated.
OVERDUE = overdue_sql("t.", "now()")


def _camera_defaults(df):
    """Fill missing fov/range/height from the camera type's defaults (gis.vocabulary)."""
    for i, name in enumerate(("fov", "range_m", "height_m")):
        default = df["type"].map({k: v[i] for k, v in vocabulary.CAMERA_DEFAULTS.items()})
        df[name] = df[name].fillna(default)
    # 360° is north too, and the table wants [0, 360).
    df["azimuth"] = pd.to_numeric(df["azimuth"], errors="coerce") % 360
    return df


def _admin_defaults(df):
    """Level, kind and parent follow from the 12-digit code when the file lacks them."""
    code = df["code"].astype(str)
    county = (code.str[6:] == "000000").to_numpy()
    township = ~county & (code.str[9:] == "000").to_numpy()
    level = np.select([county, township], ["county", "township"], "community")
    tdigits = code.str[6:9].to_numpy()
    tkind = np.select([tdigits < "100", tdigits < "200"], ["street", "town"], "township")
    kind = np.where(level == "township", tkind, level)
    parent = np.select([county, township], [None, (code.str[:6] + "000000").to_numpy()],
                       (code.str[:9] + "000").to_numpy())
    df["level"] = df["level"].astype(object).fillna(pd.Series(level, index=df.index))
    df["kind"] = df["kind"].astype(object).fillna(pd.Series(kind, index=df.index))
    df["parent_code"] = df["parent_code"].astype(object).fillna(
        pd.Series(parent, index=df.index, dtype=object))
    return df


def _z(f: Field, zoom: int) -> Field:
    """A shared field, served from ``zoom``."""
    return replace(f, zoom=zoom)


LAYERS: dict[str, Layer] = {layer.name: layer for layer in (  # parents before children
    Layer("admin_units", "admin_units", "polygon", True, (
        Field("code", "code12", required=True, unique=True, zoom=0,
              aliases=("admin_code", "adcode", "区划代码", "行政区划代码", "代码", "统计用区划代码")),
        Field("name", required=True, zoom=0, aliases=("NAME", "名称", "name_zh", "行政区名称")),
        Field("level", choices=vocabulary.ADMIN_LEVELS, values=_ci(words.LEVEL_WORDS),
              aliases=("级别",), zoom=0),
        Field("kind", choices=ADMIN_KINDS, values=_ci(words.ADMIN_KIND_WORDS),
              aliases=("type", "类型"), zoom=10),
        Field("parent_code", "code12", references=("admin_units", "code"),
              aliases=("parent", "上级代码"), zoom=10),
        _z(HOUSEHOLDS, 10),
    ), derive=_admin_defaults, export_order="code",
        title="Admin units (county, townships, communities)", id_column="code", id_kind="text",
        scope_code="code",
        description="County, township/street and community/village boundaries."),
    Layer("grids", "grids", "polygon", True, (
        Field("code", required=True, aliases=("grid_code", "网格编码", "网格代码"), zoom=0),
        Field("kind", default="basic", choices=vocabulary.GRID_KINDS,
              values=_ci(words.GRID_WORDS), aliases=("grid_kind", "type", "网格类型"), zoom=0),
        Field("name", aliases=("grid_name", "网格名称", "名称"), zoom=12),
        Field("community_code", "code12", required=True, references=("admin_units", "code"),
              aliases=COMMUNITY.aliases, zoom=11),
        _z(HOUSEHOLDS, 12),
        Field("version", "int", default=1, minimum=1, zoom=13),
        Field("valid_from", "datetime", zoom=13),
    ), title="Grids (current)", scope_code="code", where="t.valid_to IS NULL",
        datetime=("valid_from", "valid_from"), minzoom=8,
        description="The published grids in force (valid_to is empty)."),
    Layer("buildings", "buildings", "polygon", True, (
        SOURCE_ID,
        _z(HOUSEHOLDS, 0),
        Field("floors", "int", minimum=0, zoom=15,
              aliases=("levels", "building:levels", "building_levels", "floor", "层数", "楼层")),
        Field("kind", choices=vocabulary.BUILDING_KINDS, aliases=("building_kind", "类型"),
              zoom=0),
        Field("compound", aliases=("小区", "compound_name", "estate"), zoom=15),
        _z(COMMUNITY, 15),
    ), title="Buildings", scope_code="community_code", minzoom=13),
    Layer("address_points", "address_points", "point", False, (
        SOURCE_ID,
        replace(HOUSEHOLDS, default=1),
        COMMUNITY,
    )),
    Layer("roads", "roads", "line", True, (
        SOURCE_ID,
        Field("class", default="residential", choices=tuple(vocabulary.ROAD_CLASSES),
              values=_ci(words.ROAD_WORDS), column="class", zoom=0,
              aliases=("road_class", "MTFCC", "highway", "fclass", "等级", "道路等级")),
        Field("name", aliases=("NAME", "FULLNAME", "名称", "路名", "road_name"), zoom=13),
    ), title="Roads", scope_geom=True, minzoom=8),
    Layer("grid_staff", "grid_staff", None, False, (
        Field("name", required=True, aliases=("姓名", "staff_name")),
        Field("role", required=True, choices=tuple(vocabulary.STAFF_ROLES),
              values=_ci(words.ROLE_WORDS), aliases=("职务", "角色", "position")),
        Field("grid_code", aliases=("grid", "网格编码")),
        Field("worker_id", aliases=("worker", "staff_id", "工号", "user_id")),
        Field("phone", aliases=("mobile", "tel", "电话", "手机")),
    )),
    Layer("key_places", "key_places", "any", False, (
        Field("name", aliases=("NAME", "名称"), zoom=0),
        Field("kind", required=True, choices=vocabulary.KEY_PLACE_KINDS,
              values=_ci(words.PLACE_WORDS), aliases=("type", "amenity", "fclass", "类型",
                                                      "场所类型"), zoom=0),
    ), title="Key places (schools, hospitals, stations...)", scope_geom=True),
    Layer("incidents", "incidents", "point", False, (
        Field("external_id", unique=True, aliases=("id", "incident_id", "case_id", "event_id",
                                                   "事件编号")),
        Field("category", required=True, choices=tuple(vocabulary.INCIDENT_CATEGORIES),
              values=_ci(words.CATEGORY_WORDS), aliases=("type", "事件类型", "大类"), zoom=0),
        Field("subcategory", aliases=("subtype", "小类"), zoom=15),
        Field("description", aliases=("desc", "content", "描述", "事件描述"), zoom=16,
              filterable=False),
        Field("reporter", aliases=("reported_by", "上报人")),
        Field("reported_at", "datetime", required=True, zoom=16,
              aliases=("time", "datetime", "date", "report_time", "created", "上报时间")),
        Field("status", default="reported", choices=vocabulary.INCIDENT_STATUSES,
              values=_ci(words.STATUS_WORDS), aliases=("state", "状态"), zoom=0),
        Field("level", default="community", choices=vocabulary.ADMIN_LEVELS,
              values=_ci(words.LEVEL_WORDS), zoom=15),
        Field("due_at", "datetime", aliases=("deadline", "时限"), zoom=16),
        Field("closed_at", "datetime", aliases=("closed", "结案时间"), zoom=16),
        _set("grid_code", exported=True),
        _set("community_code", "code12", 15),
        _set("township_code", "code12", 15),
        _set("boundary", "bool", 15),
    ), title="Incidents", live=True, scope_code="community_code", scope_geom=True,
        computed=(Prop("overdue", OVERDUE, filter_sql=f"({OVERDUE} IS NOT NULL)",
                       filter_kind="bool"),),
        cluster_below=14, cluster_counts=(("open", f"t.status NOT IN {CLOSED_STATUSES_SQL}"),
                                          ("overdue", f"({OVERDUE} IS NOT NULL)")),
        datetime=("reported_at", "reported_at"), tables=("summons",),  # overdue reads parts
        description="Reported incidents; unassigned ones are scoped by location. Vector "
                    "tiles aggregate them into clusters with counts below zoom 14 and in "
                    "tiles too dense to draw point by point: nothing is dropped."),
    Layer("cameras", "cameras", "point", False, (
        Field("code", unique=True, zoom=0,
              aliases=("camera_id", "device_id", "id", "设备编号", "编号")),
        Field("type", required=True, choices=vocabulary.CAMERA_TYPES,
              values=_ci(words.CAMERA_WORDS), aliases=("camera_type", "类型", "设备类型"),
              zoom=0),
        Field("status", default="online", choices=vocabulary.CAMERA_STATUSES,
              values=_ci(words.CAMERA_STATUS_WORDS), aliases=("online", "状态"), zoom=0),
        Field("azimuth", "float", minimum=0, maximum=360, zoom=0,
              aliases=("direction", "bearing", "heading", "方位角", "朝向")),
        Field("fov", "float", minimum=0, exclusive_minimum=True, maximum=360, zoom=0,
              aliases=("hfov", "angle", "view_angle", "视场角")),
        Field("range_m", "float", minimum=0, zoom=0,
              aliases=("range", "distance", "radius", "可视距离")),
        Field("height_m", "float", minimum=0, aliases=("height", "高度", "安装高度"), zoom=0),
        _set("updated_at", "datetime"),
    ), derive=_camera_defaults, title="Cameras", live=True, scope_geom=True,
        cluster_below=12, cluster_counts=(("online", "t.status = 'online'"),),
        datetime=("updated_at", "updated_at")),
    Layer("patrol_points", "patrol_points", "point", False, (
        Field("worker", required=True, aliases=("worker_id", "user", "staff_id", "device",
                                                "人员", "巡查员")),
        Field("time", "datetime", required=True, aliases=("timestamp", "gps_time", "时间", "t")),
        Field("accuracy", "float", minimum=0, aliases=("acc", "hdop", "精度")),
    )),
    Layer("blind_spots", "blind_spots", "polygon", True, (
        _set("grid_code"), _set("area_m2", "float"), _set("incidents", "int"),
        _set("nearest_camera"), _set("camera_m", "float"), _set("computed_at", "datetime"),
    ), title="Camera blind spots", scope_code="grid_code",
        datetime=("computed_at", "computed_at"),
        description="Target area no camera sees (last coverage run), with the incidents "
                    "inside and the nearest camera (camera_m metres away)."),
    Layer("coverage", "coverage", "polygon", True, (
        _set("grid_code"), _set("ratio", "float", column="coverage_ratio"),
        _set("target_m2", "float"), _set("covered_m2", "float"),
        _set("blind_m2", "float", 12), _set("blind_spots", "int", 12),
        _set("blind_incidents", "int", 12), _set("mode", zoom=12),
        _set("computed_at", "datetime"),
    ), title="Camera coverage", scope_code="grid_code", where="t.geom IS NOT NULL",
        datetime=("computed_at", "computed_at"),
        description="The union of camera views per grid (one row per grid, migration "
                    "0003) with the grid's figures: ratio = covered_m2 / target_m2."),
    Layer("patrol_tracks", "patrol_tracks", "line", False, (
        _set("worker"), _set("day", "date"), _set("started_at", "datetime"),
        _set("ended_at", "datetime"),
    ), title="Patrol tracks", live=True, scope_geom=True, datetime=("started_at", "ended_at"),
          owner_column="worker"),
    Layer("plan_grids", "plan_grids", "polygon", True, (
        _set("plan_id", "int"), _set("code"), _set("kind"), _set("community_code", "code12"),
        _set("households", "int"),
    ), title="Plan grids (drafts)", live=True, scope_code="community_code"),
    # Department time limits (gis.department_limits): neither imported by the generic
    # importer nor served; `gridgis department limits` and /department-limits keep them
    # (upsert by key, audited, the subcategory checked against its category).
    Layer("department_limits", "department_limits", None, False, (
        _set("step", choices=limits.STEPS, zoom=None),
        _set("category", choices=tuple(vocabulary.INCIDENT_CATEGORIES), zoom=None),
        _set("subcategory", zoom=None),
        _set("area_code", "code12", zoom=None, references=("admin_units", "code")),
        _set("amount", "float", zoom=None, minimum=0, exclusive_minimum=True),
        _set("unit", choices=UNITS, zoom=None),
        _set("updated_by", zoom=None),
        _set("updated_at", "datetime", zoom=None),
    )),
)}

IMPORTABLE: dict[str, Layer] = {n: lay for n, lay in LAYERS.items() if lay.fields}
SERVED: dict[str, Layer] = {n: lay for n, lay in LAYERS.items() if lay.title}
# Tables watched by the change counters (migration 0002).
WATCHED_TABLES = tuple(sorted({t for lay in SERVED.values() for t in lay.watched_tables}))


def get_layer(name: str) -> Layer:
    """The importable (and exportable) layer ``name``, or an :class:`InputError` listing
    them."""
    try:
        return IMPORTABLE[name]
    except KeyError:
        raise InputError(f"unknown layer {name!r} (one of: {', '.join(IMPORTABLE)})",
                         field="layer") from None


def served_layer(layer_id: str) -> Layer | None:
    """The served layer (collection) ``layer_id``, or None."""
    return SERVED.get(layer_id)
