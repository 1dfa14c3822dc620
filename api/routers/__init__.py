"""One module per resource; each exposes ``router``. :data:`ROUTERS` is the order they
are mounted in."""

ROUTERS = [
    "health",
    "incidents",
    "plans",
    "features",
    "tiles",
    "pages",
    "cameras",
    "coverage",
    "audit",
    "overview",
    "patrol",
]
