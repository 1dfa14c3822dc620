"""Change versions of a layer as a scoped caller may see them (``/tiles/versions``).

The change counters (migration 0002) count writes to a whole table, county-wide: a
township dispatcher polling them would learn when anything changed anywhere (an incident
reported in another township, a camera moved elsewhere). A caller with a scope gets
instead a fingerprint of the rows of the layer inside their scope: the number of rows
and a sum of hashes of each row version's physical identity (``ctid``, ``xmin``; an
update writes a new row version, a delete drops one). It changes exactly when a row
they can see changes, appears or goes. Callers without a scope (admins) keep the cheap
counters."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.store.layer_filters import LayerQuery, where_sql
from gis.store.layers_catalog import Layer
from gis.store.users import Principal

_FINGERPRINT = """
SELECT count(*) AS n, coalesce(sum(hashtext(t.ctid::text || ':' || t.xmin::text)), 0) AS h
  FROM {table} t WHERE {where}"""


def scoped_version(session: Session, layer: Layer, principal: Principal) -> str:
    """``rows-hash`` of the layer's rows in the caller's scope (trusted SQL from the
    catalogue; the scope's values are bound parameters)."""
    where, params = where_sql(layer, LayerQuery(principal=principal))
    row = session.execute(text(_FINGERPRINT.format(table=layer.table, where=where)),
                          params).one()
    return f"s{row.n}-{int(row.h) & 0xFFFFFFFFFFFF:x}"
