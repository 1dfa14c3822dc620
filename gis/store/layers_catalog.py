"""The catalogue of served layers: which table, which id and geometry columns, which
properties (and from which zoom the vector tiles carry them), whether the layer is live
(short cache) or static (long cache), and how the caller's scope filters it.

Everything here is trusted SQL written by us; user input never reaches these strings,
it is bound as parameters by :mod:`gis.store.layer_features` and the tile queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from gis.store.overdue import overdue_sql

CLOSED_STATUSES_SQL = "('closed')"  # statuses that stop the clock of an incident


@dataclass(frozen=True)
class Prop:
    """One output property: ``sql`` is an expression over the table alias ``t``.

    ``kind`` drives parsing of filter values (text, int, float, bool, time, date) and the
    TileJSON field type; ``minzoom`` is the first zoom whose tiles carry it."""

    name: str
    sql: str
    kind: str = "text"
    minzoom: int = 0
    filterable: bool = True
    filter_sql: str | None = None   # filter on this instead (e.g. overdue: reason IS NOT NULL)
    filter_kind: str | None = None  # ... with values of this kind


@dataclass(frozen=True)
class Layer:
    """A served layer (an OGC API collection and a vector tile layer)."""

    id: str
    title: str
    table: str
    id_column: str
    geometry_type: str
    props: tuple[Prop, ...]
    live: bool = False
    scope_code: str | None = None    # prefix-filter this code column
    scope_geom: bool = False         # ... or intersect with the scope's polygon
    where: str | None = None         # fixed condition (e.g. only current grids)
    datetime: tuple[str, str] | None = None  # (start, end) columns; end == start for instants
    minzoom: int = 0
    maxzoom: int = 22
    cluster_below: int | None = None  # points: aggregated into clusters under this zoom
    cluster_counts: tuple[tuple[str, str], ...] = ()  # (name, condition) counted per cluster
    id_kind: str = "int"
    description: str = ""
    tables: tuple[str, ...] = field(default=())  # other tables whose changes affect it

    @property
    def watched_tables(self) -> tuple[str, ...]:
        """Tables whose changes must invalidate cached tiles of this layer."""
        return (self.table, *self.tables)

    def prop(self, name: str) -> Prop | None:
        return next((p for p in self.props if p.name == name), None)

    def tile_props(self, z: int) -> tuple[Prop, ...]:
        """Attribute selection by zoom: small tiles at low zoom, details when zoomed in."""
        return tuple(p for p in self.props if p.minzoom <= z)


def _p(name, sql=None, kind="text", minzoom=0, filterable=True) -> Prop:
    return Prop(name, sql or f"t.{name}", kind, minzoom, filterable)


# Why an incident is overdue now (NULL if it is not): gis.incidents.overdue, generated.
_OVERDUE = overdue_sql("t.", "now()")

LAYERS: dict[str, Layer] = {layer.id: layer for layer in (
    Layer("admin_units", "Admin units (county, townships, communities)", "admin_units",
          "code", "MultiPolygon", id_kind="text", scope_code="code",
          props=(_p("code"), _p("name"), _p("level"), _p("kind", minzoom=10),
                 _p("parent_code", minzoom=10), _p("households", kind="int", minzoom=10)),
          description="County, township/street and community/village boundaries."),
    Layer("grids", "Grids (current)", "grids", "id", "MultiPolygon", scope_code="code",
          where="t.valid_to IS NULL", datetime=("valid_from", "valid_from"), minzoom=8,
          props=(_p("code"), _p("kind"), _p("community_code", minzoom=11),
                 _p("name", minzoom=12), _p("households", kind="int", minzoom=12),
                 _p("version", kind="int", minzoom=13),
                 _p("valid_from", kind="time", minzoom=13)),
          description="The published grids in force (valid_to is empty)."),
    Layer("buildings", "Buildings", "buildings", "id", "MultiPolygon",
          scope_code="community_code", minzoom=13,
          props=(_p("kind"), _p("households", kind="int"), _p("floors", kind="int", minzoom=15),
                 _p("compound", minzoom=15), _p("community_code", minzoom=15))),
    Layer("roads", "Roads", "roads", "id", "MultiLineString", scope_geom=True, minzoom=8,
          props=(_p("class", 't."class"'), _p("name", minzoom=13))),
    Layer("key_places", "Key places (schools, hospitals, stations...)", "key_places", "id",
          "Geometry", scope_geom=True, props=(_p("name"), _p("kind"))),
    Layer("incidents", "Incidents", "incidents", "id", "Point", live=True,
          scope_code="community_code", scope_geom=True, cluster_below=14,
          cluster_counts=(("open", f"t.status NOT IN {CLOSED_STATUSES_SQL}"),
                          ("overdue", f"({_OVERDUE} IS NOT NULL)")),
          datetime=("reported_at", "reported_at"),
          props=(_p("status"), _p("category"),
                 Prop("overdue", _OVERDUE, filter_sql=f"({_OVERDUE} IS NOT NULL)",
                      filter_kind="bool"),
                 _p("grid_code"), _p("subcategory", minzoom=15), _p("level", minzoom=15),
                 _p("community_code", minzoom=15), _p("township_code", minzoom=15),
                 _p("boundary", kind="bool", minzoom=15),
                 _p("reported_at", kind="time", minzoom=16),
                 _p("due_at", kind="time", minzoom=16), _p("closed_at", kind="time", minzoom=16),
                 _p("description", minzoom=16, filterable=False)),
          description="Reported incidents; unassigned ones are scoped by location. Vector "
                      "tiles aggregate them into clusters with counts below zoom 14 and in "
                      "tiles too dense to draw point by point: nothing is dropped."),
    Layer("cameras", "Cameras", "cameras", "id", "Point", live=True, scope_geom=True,
          cluster_below=12, cluster_counts=(("online", "t.status = 'online'"),),
          datetime=("updated_at", "updated_at"),
          props=(_p("code"), _p("type"), _p("status"), _p("azimuth", kind="float"),
                 _p("fov", kind="float"), _p("range_m", kind="float"),
                 _p("height_m", kind="float"), _p("updated_at", kind="time"))),
    Layer("blind_spots", "Camera blind spots", "blind_spots", "id", "MultiPolygon",
          scope_code="grid_code", datetime=("computed_at", "computed_at"),
          props=(_p("grid_code"), _p("area_m2", kind="float"), _p("incidents", kind="int"),
                 _p("nearest_camera"), _p("camera_m", kind="float"),
                 _p("computed_at", kind="time")),
          description="Target area no camera sees (last coverage run), with the incidents "
                      "inside and the nearest camera (camera_m metres away)."),
    Layer("coverage", "Camera coverage", "coverage", "id", "MultiPolygon",
          scope_code="grid_code", where="t.geom IS NOT NULL",
          datetime=("computed_at", "computed_at"),
          props=(_p("grid_code"), _p("ratio", "t.coverage_ratio", "float"),
                 _p("target_m2", kind="float"),
                 _p("covered_m2", kind="float"), _p("blind_m2", kind="float", minzoom=12),
                 _p("blind_spots", kind="int", minzoom=12),
                 _p("blind_incidents", kind="int", minzoom=12), _p("mode", minzoom=12),
                 _p("computed_at", kind="time")),
          description="The union of camera views per grid (one row per grid, migration "
                      "0003) with the grid's figures: ratio = covered_m2 / target_m2."),
    Layer("patrol_tracks", "Patrol tracks", "patrol_tracks", "id", "LineString", live=True,
          scope_geom=True, datetime=("started_at", "ended_at"),
          props=(_p("worker"), _p("day", kind="date"), _p("started_at", kind="time"),
                 _p("ended_at", kind="time"))),
    Layer("plan_grids", "Plan grids (drafts)", "plan_grids", "id", "MultiPolygon", live=True,
          scope_code="community_code",
          props=(_p("plan_id", kind="int"), _p("code"), _p("kind"), _p("community_code"),
                 _p("households", kind="int"))),
)}

# Tables watched by the change counters (migration 0002).
WATCHED_TABLES = tuple(sorted({t for layer in LAYERS.values() for t in layer.watched_tables}))


def get_layer(layer_id: str) -> Layer | None:
    return LAYERS.get(layer_id)
