"""One module per resource; each exposes ``router``. :data:`ROUTERS` is the order they
are mounted in (the tile router lives in the tile package, :mod:`api.tiles`)."""

ROUTERS = [
    "api.routers.health",
    "api.routers.incidents",
    "api.routers.plans",
    "api.routers.features",
    "api.tiles.routes",
    "api.routers.pages",
    "api.routers.cameras",
    "api.routers.coverage",
    "api.routers.audit",
    "api.routers.overview",
    "api.routers.patrol",
    "api.routers.workers",
    "api.routers.key_households",
    "api.routers.rosters",
    "api.routers.monthly_report",
    "api.routers.report",
    "api.routers.open311",
    "api.routers.departments",
    "api.routers.department_limits",
    "api.routers.attachments",
    "api.routers.duplicates",
    "api.routers.notifications",
    "api.routers.field",
]
