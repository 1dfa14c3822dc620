"""The importable layers: for each one its table, geometry kind, and the gridgis fields
with their types, whether they are required, defaults, the column names real files use
for them (aliases) and the values real files use for our vocabularies (value maps).

This registry is the single place that knows how a user's file maps onto a table; the
importer and exporter only interpret it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gis import vocabulary
from gis.errors import InputError

# Field types understood by the importer's casting step.
TYPES = ("str", "code12", "int", "float", "datetime")


@dataclass(frozen=True)
class Field:
    """One gridgis field of a layer.

    ``column`` is the table column (only ``roads.class`` differs from the field name);
    ``choices`` restricts values to a vocabulary, reached through ``values`` (a map from
    the spellings found in real files, compared case-insensitively); ``minimum`` and
    ``maximum`` bound numbers; ``unique`` fields must not repeat in the file or table;
    ``references`` is ``(table, column)`` that must hold the value.
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

    @property
    def db_column(self) -> str:
        return self.column or self.name


@dataclass(frozen=True)
class Layer:
    """An importable layer: ``geometry`` is ``"point"``, ``"line"``, ``"polygon"``,
    ``"any"`` (points or polygons) or ``None`` (a plain table); ``multi`` promotes
    single geometries to Multi* because the column is multi."""

    name: str
    table: str
    geometry: str | None
    multi: bool
    fields: tuple[Field, ...]
    # Fills fields the file did not give, from the others (e.g. camera defaults by type).
    derive: Callable | None = None

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


def _ci(mapping: Mapping[str, str]) -> dict[str, str]:
    return {str(k).strip().lower(): v for k, v in mapping.items()}


SOURCE_ID = Field("source_id", aliases=("id", "fid", "objectid", "osm_id", "gid", "编号",
                                        "building_id", "road_id", "point_id", "address_id"))
COMMUNITY = Field("community_code", "code12", references=("admin_units", "code"),
                  aliases=("community", "village_code", "社区代码", "村代码", "cun_code"))
HOUSEHOLDS = ("HOUSING20", "HOUSING10", "hh", "households_n", "housing", "户数", "住户数",
              "hu", "units")

ADMIN_KINDS = ("county", *vocabulary.TOWNSHIP_KINDS, *vocabulary.COMMUNITY_KINDS)
ADMIN_KIND_WORDS = {"县": "county", "区": "county", "县级": "county", "街道": "street",
                    "镇": "town", "乡": "township", "社区": "community", "村": "village",
                    "居委会": "community", "村委会": "village"}
LEVEL_WORDS = {"县级": "county", "区县": "county", "乡级": "township", "乡镇": "township",
               "街道": "township", "村级": "community", "社区": "community", "村": "community"}

# OSM ``highway``/``fclass`` and US Census ``MTFCC`` road classes to gridgis classes.
ROAD_WORDS = {
    "motorway": "primary", "trunk": "primary", "motorway_link": "primary",
    "trunk_link": "primary", "primary_link": "primary", "secondary_link": "secondary",
    "tertiary_link": "tertiary", "unclassified": "residential", "living_street": "residential",
    "road": "residential", "service": "lane", "footway": "lane", "pedestrian": "lane",
    "path": "lane", "alley": "lane", "steps": "lane", "cycleway": "lane", "track": "rural",
    "track_grade1": "rural", "track_grade2": "rural", "S1100": "primary", "S1200": "secondary",
    "S1400": "residential", "S1500": "rural", "S1640": "lane", "S1730": "lane", "S1740": "lane",
    "S1710": "lane", "S1720": "lane", "S1750": "lane", "S1780": "lane", "S1820": "lane",
    "主干道": "primary", "主干路": "primary", "次干道": "secondary", "次干路": "secondary",
    "支路": "tertiary", "街道": "residential", "小巷": "lane", "巷": "lane", "胡同": "lane",
    "乡村道路": "rural", "村道": "rural",
}
GRID_WORDS = {"基础网格": "basic", "基本网格": "basic", "专属网格": "exclusive",
              "专属": "exclusive", "基础": "basic"}
ROLE_WORDS = {cn: key for key, cn in vocabulary.STAFF_ROLES.items()} | {
    "leader": "grid_leader", "网格员": "fulltime_worker", "专职": "fulltime_worker",
    "兼职": "parttime_worker", "警长": "police", "民警": "police", "社区民警": "police"}
PLACE_WORDS = {"clinic": "hospital", "kindergarten": "school", "college": "school",
               "university": "school", "bus_station": "station", "train_station": "station",
               "marketplace": "market", "townhall": "government", "学校": "school",
               "幼儿园": "school", "医院": "hospital", "卫生院": "hospital", "诊所": "hospital",
               "车站": "station", "汽车站": "station", "火车站": "station", "市场": "market",
               "农贸市场": "market", "政府": "government", "公园": "park", "广场": "park"}
CATEGORY_WORDS = {"矛盾纠纷": "dispute", "治安隐患": "security_hazard",
                  "安全隐患": "safety_hazard", "公共设施": "public_facility",
                  "公共设施损坏": "public_facility", "环境卫生": "environment",
                  "人口变动": "population", "其他": "other"}
STATUS_WORDS = {"上报": "reported", "已上报": "reported", "受理": "accepted",
                "已受理": "accepted", "派遣": "dispatched", "已派遣": "dispatched",
                "处置中": "handling", "办理中": "handling", "反馈": "feedback",
                "核查": "verified", "已核查": "verified", "结案": "closed", "已结案": "closed",
                "办结": "closed", "回退": "returned", "上报上级": "escalated", "open": "reported",
                "new": "reported", "resolved": "closed", "done": "closed"}
CAMERA_WORDS = {"雪亮a": "xueliang_a", "雪亮a类": "xueliang_a", "a类": "xueliang_a",
                "雪亮b": "xueliang_b", "雪亮b类": "xueliang_b", "b类": "xueliang_b",
                "天网": "tianwang", "慧眼": "huiyan", "卡口": "checkpoint", "人脸": "face",
                "人脸识别": "face", "校园": "school", "医院": "hospital", "球机": "dome",
                "云台": "ptz"}
CAMERA_STATUS_WORDS = {"在线": "online", "离线": "offline", "1": "online", "0": "offline",
                       "true": "online", "false": "offline", "up": "online", "down": "offline",
                       "ok": "online", "fault": "offline", "故障": "offline"}


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


LAYERS: dict[str, Layer] = {layer.name: layer for layer in (
    Layer("admin_units", "admin_units", "polygon", True, (
        Field("code", "code12", required=True, unique=True,
              aliases=("admin_code", "adcode", "区划代码", "行政区划代码", "代码", "统计用区划代码")),
        Field("name", required=True, aliases=("NAME", "名称", "name_zh", "行政区名称")),
        Field("level", choices=vocabulary.ADMIN_LEVELS, values=_ci(LEVEL_WORDS), aliases=("级别",)),
        Field("kind", choices=ADMIN_KINDS, values=_ci(ADMIN_KIND_WORDS), aliases=("type", "类型")),
        Field("parent_code", "code12", references=("admin_units", "code"),
              aliases=("parent", "上级代码")),
        Field("households", "int", default=0, minimum=0, aliases=HOUSEHOLDS),
    ), derive=_admin_defaults),
    Layer("buildings", "buildings", "polygon", True, (
        SOURCE_ID,
        Field("households", "int", default=0, minimum=0, aliases=HOUSEHOLDS),
        Field("floors", "int", minimum=0, aliases=("levels", "building:levels", "building_levels",
                                                   "floor", "层数", "楼层")),
        Field("kind", choices=vocabulary.BUILDING_KINDS, aliases=("building_kind", "类型")),
        Field("compound", aliases=("小区", "compound_name", "estate")),
        COMMUNITY,
    )),
    Layer("address_points", "address_points", "point", False, (
        SOURCE_ID,
        Field("households", "int", default=1, minimum=0, aliases=HOUSEHOLDS),
        COMMUNITY,
    )),
    Layer("roads", "roads", "line", True, (
        SOURCE_ID,
        Field("class", default="residential", choices=tuple(vocabulary.ROAD_CLASSES),
              values=_ci(ROAD_WORDS), column="class",
              aliases=("road_class", "MTFCC", "highway", "fclass", "等级", "道路等级")),
        Field("name", aliases=("NAME", "FULLNAME", "名称", "路名", "road_name")),
    )),
    Layer("grids", "grids", "polygon", True, (
        Field("code", required=True, aliases=("grid_code", "网格编码", "网格代码")),
        Field("kind", default="basic", choices=vocabulary.GRID_KINDS, values=_ci(GRID_WORDS),
              aliases=("grid_kind", "type", "网格类型")),
        Field("name", aliases=("grid_name", "网格名称", "名称")),
        Field("community_code", "code12", required=True, references=("admin_units", "code"),
              aliases=COMMUNITY.aliases),
        Field("households", "int", default=0, minimum=0, aliases=HOUSEHOLDS),
        Field("version", "int", default=1, minimum=1),
        Field("valid_from", "datetime"),
    )),
    Layer("grid_staff", "grid_staff", None, False, (
        Field("name", required=True, aliases=("姓名", "staff_name")),
        Field("role", required=True, choices=tuple(vocabulary.STAFF_ROLES), values=_ci(ROLE_WORDS),
              aliases=("职务", "角色", "position")),
        Field("grid_code", aliases=("grid", "网格编码")),
        Field("worker_id", aliases=("worker", "staff_id", "工号", "user_id")),
        Field("phone", aliases=("mobile", "tel", "电话", "手机")),
    )),
    Layer("key_places", "key_places", "any", False, (
        Field("name", aliases=("NAME", "名称")),
        Field("kind", required=True, choices=vocabulary.KEY_PLACE_KINDS, values=_ci(PLACE_WORDS),
              aliases=("type", "amenity", "fclass", "类型", "场所类型")),
    )),
    Layer("incidents", "incidents", "point", False, (
        Field("external_id", unique=True, aliases=("id", "incident_id", "case_id", "event_id",
                                                       "事件编号")),
        Field("category", required=True, choices=tuple(vocabulary.INCIDENT_CATEGORIES),
              values=_ci(CATEGORY_WORDS), aliases=("type", "事件类型", "大类")),
        Field("subcategory", aliases=("subtype", "小类")),
        Field("description", aliases=("desc", "content", "描述", "事件描述")),
        Field("reporter", aliases=("reported_by", "上报人")),
        Field("reported_at", "datetime", required=True,
              aliases=("time", "datetime", "date", "report_time", "created", "上报时间")),
        Field("status", default="reported", choices=vocabulary.INCIDENT_STATUSES,
              values=_ci(STATUS_WORDS), aliases=("state", "状态")),
        Field("level", default="community", choices=vocabulary.ADMIN_LEVELS,
              values=_ci(LEVEL_WORDS)),
        Field("due_at", "datetime", aliases=("deadline", "时限")),
        Field("closed_at", "datetime", aliases=("closed", "结案时间")),
    )),
    Layer("cameras", "cameras", "point", False, (
        Field("code", unique=True, aliases=("camera_id", "device_id", "id", "设备编号", "编号")),
        Field("type", required=True, choices=vocabulary.CAMERA_TYPES, values=_ci(CAMERA_WORDS),
              aliases=("camera_type", "类型", "设备类型")),
        Field("status", default="online", choices=vocabulary.CAMERA_STATUSES,
              values=_ci(CAMERA_STATUS_WORDS), aliases=("online", "状态")),
        Field("azimuth", "float", minimum=0, maximum=360,
              aliases=("direction", "bearing", "heading", "方位角", "朝向")),
        Field("fov", "float", minimum=0, exclusive_minimum=True, maximum=360,
              aliases=("hfov", "angle", "view_angle", "视场角")),
        Field("range_m", "float", minimum=0, aliases=("range", "distance", "radius", "可视距离")),
        Field("height_m", "float", minimum=0, aliases=("height", "高度", "安装高度")),
    ), derive=_camera_defaults),
    Layer("patrol_points", "patrol_points", "point", False, (
        Field("worker", required=True, aliases=("worker_id", "user", "staff_id", "device",
                                                "人员", "巡查员")),
        Field("time", "datetime", required=True, aliases=("timestamp", "gps_time", "时间", "t")),
        Field("accuracy", "float", minimum=0, aliases=("acc", "hdop", "精度")),
    )),
)}


def get_layer(name: str) -> Layer:
    """The layer called ``name``, or an :class:`InputError` listing the known layers."""
    try:
        return LAYERS[name]
    except KeyError:
        raise InputError(f"unknown layer {name!r} (one of: {', '.join(LAYERS)})",
                         field="layer") from None
