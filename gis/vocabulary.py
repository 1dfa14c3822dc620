"""Controlled vocabularies shared by the generator, the analyses, the store's check
constraints and the API's validation. One list each, so they cannot drift apart."""

from __future__ import annotations

ADMIN_LEVELS = ("county", "township", "community")
# 12-digit statistical division code: 6 county + 3 township + 3 community.
# Township digits 001–099 are streets (街道), 100–199 towns (镇), 200–399 townships (乡).
TOWNSHIP_KINDS = ("street", "town", "township")
COMMUNITY_KINDS = ("community", "village")  # 社区 / 村

GRID_KINDS = ("basic", "exclusive")  # 基础网格 / 专属网格

STAFF_ROLES = {
    "grid_leader": "网格长",
    "fulltime_worker": "专职网格员",
    "parttime_worker": "兼职网格员",
    "police": "网格警长",
    "volunteer": "志愿者",
}

BUILDING_KINDS = ("highrise", "lowrise", "rural_house", "market", "school", "hospital",
                  "office", "industrial", "public")

# Road class -> carriageway width in metres, used to buffer streets into public space.
ROAD_CLASSES = {"primary": 30.0, "secondary": 20.0, "tertiary": 14.0, "residential": 8.0,
                "lane": 4.0, "rural": 6.0}

KEY_PLACE_KINDS = ("school", "hospital", "station", "market", "government", "park")

# Incident categories modelled on the national grid-management event catalogue.
INCIDENT_CATEGORIES = {
    "dispute": ("neighbour", "family", "property", "labour", "land"),          # 矛盾纠纷
    "security_hazard": ("theft", "fraud", "gambling", "drugs", "suspicious"),  # 治安隐患
    "safety_hazard": ("fire", "gas", "construction", "traffic", "flood"),      # 安全隐患
    "public_facility": ("road", "streetlight", "manhole", "water_pipe", "railing"),  # 公共设施损坏
    "environment": ("garbage", "dumping", "noise", "pollution", "sewage"),     # 环境卫生
    "population": ("move_in", "move_out", "birth", "death", "rental"),         # 人口变动
    "other": ("other",),                                                       # 其他
}

INCIDENT_STATUSES = ("reported", "accepted", "dispatched", "handling", "feedback", "verified",
                     "closed", "returned", "escalated")

CAMERA_TYPES = ("xueliang_a", "xueliang_b", "tianwang", "huiyan", "checkpoint", "face",
                "school", "hospital", "dome", "ptz")
CAMERA_STATUSES = ("online", "offline")
# Defaults used when a camera record lacks a field: (fov degrees, range metres, height metres).
CAMERA_DEFAULTS = {
    "xueliang_a": (60.0, 80.0, 6.0),
    "xueliang_b": (60.0, 50.0, 4.0),
    "tianwang": (70.0, 100.0, 8.0),
    "huiyan": (90.0, 40.0, 4.0),
    "checkpoint": (40.0, 60.0, 6.0),
    "face": (50.0, 25.0, 3.0),
    "school": (90.0, 40.0, 4.0),
    "hospital": (90.0, 40.0, 4.0),
    "dome": (360.0, 50.0, 6.0),
    "ptz": (360.0, 100.0, 8.0),
}

# 重点家庭/特殊群体: the kind of need, and nothing more personal (no names, no ID numbers).
KEY_HOUSEHOLD_KINDS = ("elderly_alone", "disability", "left_behind_child", "community_correction",
                       "low_income", "mental_illness", "drug_rehabilitation", "other")
