"""Rows in place order (issue 19): rewrite the point tables that tiles read by area so that
neighbours on the map are neighbours on disk (``CLUSTER`` on the table's GiST index, then
``ANALYZE``). Incidents arrive in time order, so a zoom-13 tile's 3,000 points sat on
2,000+ different pages; in place order they sit on ~250 (docs/speed.md, "Cold vector
tiles"). Rows, ids and every answer are unchanged; only the physical order moves.

``CLUSTER`` locks the table against reads and writes while it rewrites it (about 2 s for
200,000 incidents here), so it is a maintenance step (``gridgis db optimize``, e.g. nightly
from cron, and once after a bulk import), never run behind a request. Rows added later go
to the end of the table until the next run. Repositories flush, the caller commits.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# table -> its GiST index on geom (the order CLUSTER writes the rows in)
PLACE_ORDERED = {"incidents": "idx_incidents_geom"}


def order_by_place(session: Session) -> dict[str, dict]:
    """Rewrite each table of :data:`PLACE_ORDERED` in the order of its GiST index and
    refresh its statistics; per table the rows and the pages it holds afterwards."""
    out = {}
    for table, index in PLACE_ORDERED.items():
        # names are constants of this module, not user input
        session.execute(text(f'CLUSTER "{table}" USING "{index}"'))
        session.execute(text(f'ANALYZE "{table}"'))
        rows = session.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
        pages = session.execute(text("SELECT relpages FROM pg_class "
                                     "WHERE oid = CAST(:t AS regclass)"), {"t": table})
        out[table] = {"rows": int(rows), "pages": int(pages.scalar_one())}
    return out
