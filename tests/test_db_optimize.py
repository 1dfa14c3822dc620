"""``gridgis db optimize`` (issue 19): the incidents rewritten in place order, so that a
tile's points sit on few pages, with every tile's content unchanged (the tiles recorded by
tests/test_tile_content.py, decoded and compared feature by feature)."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from layers_data import X1, XM, Y1, YM
from test_tile_content import RECORD, load, served

# The north-east quarter of the district (away from the hot spot): its share of the
# spread-out incidents (placed by a low-discrepancy sequence) was inserted all through
# the table.
QUARTER = dict(a=XM, b=YM, c=X1, d=Y1)
PAGES = text("SELECT count(*), count(DISTINCT (ctid::text::point)[0]) FROM incidents "
             "WHERE geom && ST_MakeEnvelope(:a, :b, :c, :d, 4326)")


def test_optimize_orders_incidents_by_place_and_keeps_every_tile(db, pg_url, monkeypatch,
                                                                 client, admin_headers):
    import gis.cli  # noqa: F401  (registers the commands)
    from gis.cli.app import app

    load(db)
    with db.connect() as conn:
        ids_before = conn.execute(text("SELECT id, geom FROM incidents ORDER BY id")).all()
        rows, pages_before = conn.execute(PAGES, QUARTER).one()
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    res = CliRunner().invoke(app, ["db", "optimize", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["place_ordered"]["incidents"]
    assert out["rows"] == 6000 and out["pages"] > 0
    with db.connect() as conn:
        assert conn.execute(text("SELECT id, geom FROM incidents ORDER BY id")).all() \
            == ids_before
        rows_after, pages_after = conn.execute(PAGES, QUARTER).one()
    assert rows_after == rows > 500
    assert pages_after * 2 < pages_before, (pages_before, pages_after)
    want = json.loads(RECORD.read_text())
    got = served(client, admin_headers)
    changed = [k for k in want if got[k] != want[k]]
    assert not changed, f"{len(changed)} tiles changed after optimize, e.g. {changed[0]}"


def test_optimize_on_an_empty_database(db, pg_url, monkeypatch):
    import gis.cli  # noqa: F401
    from gis.cli.app import app

    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    res = CliRunner().invoke(app, ["db", "optimize", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["place_ordered"]["incidents"]["rows"] == 0
