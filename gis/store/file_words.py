"""How real files spell gridgis fields and values: the column names (aliases) and the
words (value maps) that the import specifications of :mod:`gis.store.registry` accept for
our vocabularies, from OSM, the US Census (TIGER) and Chinese government sources."""

from __future__ import annotations

from gis import vocabulary

HOUSEHOLDS = ("HOUSING20", "HOUSING10", "hh", "households_n", "housing", "户数", "住户数",
              "hu", "units")

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
