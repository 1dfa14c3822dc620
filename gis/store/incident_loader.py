"""Importing incidents: every row checked, assigned to its grid and written in one pass.

The general importer (:mod:`gis.store.importer`) stages rows in a TEMP table and moves
them with one ``INSERT ... SELECT``. Incidents are the layer counted in millions, and the
profile of a 1 M-row import (docs/speed.md) put the time in the second write, in the SQL
assignment over the stage, in text COPY and in the per-row foreign-key checks of the
report events. So here, per chunk of the file:

1. the rows are checked as for every layer (:func:`gis.store.validation.check_rows`:
   CRS, coordinates, vocabularies, times, duplicates in the chunk), and an external id
   already in the table or in an earlier chunk is refused (one index probe per chunk, or
   a set in memory while the table holds no ids);
2. the points are located on the current grids by the library path
   (:mod:`gis.store.import_grids`, same rules and answers as the SQL);
3. the good rows go straight into ``incidents`` with one binary COPY
   (:mod:`gis.store.pg_copy`), ids from the table's sequence in the file's order, grid,
   candidates, flag, community, township, grid at report, due time and channel
   included, and their ``report`` events with a second one; both run on a second thread
   while the next chunk is read and checked.

At the end one audit row describes the batch. Everything is in the caller's
transaction: a refused file raises before the commit, so nothing of it is kept. A load
at least as large as the table builds the secondary indexes after the rows, and checks
the events' and ``merged_into``'s foreign keys once for the whole table instead of once
per row (both lock the tables until commit, as the import of a whole county may).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np
import pandas as pd
import pyarrow as pa
import psycopg
import shapely
from psycopg import sql

from gis import incidents as loop
from gis.errors import InputError, InvalidRows
from gis.store import pg_copy
from gis.store.indexes import drop_secondary_indexes
from gis.store.import_grids import prepared_grids
from gis.store.staged_loader import _Loader, _with_source_coords
from gis.store.validation import GEOM, check_rows, resolve_columns

REBUILD_FROM = 100_000  # rows: a load this large builds the secondary indexes afterwards
EVENTS_FK_ONCE = 5  # check the events' key once when they hold at most 5 x the load's rows
_EVENTS = sql.SQL("COPY incident_events (incident_id, action, from_status, to_status, actor, "
                  "note, grid_code) FROM STDIN (FORMAT binary)")


class IncidentLoader(_Loader):
    """One incidents import in the caller's open transaction; ``expected_rows`` (the
    file's row count, an estimate) decides before the first row whether this is a bulk
    load."""

    def __init__(self, *args, expected_rows: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected_rows = expected_rows
        self.started = False
        self.rebuild: list[str] = []
        self.seen: set | None = None  # ids of this import while the table had none
        self.counts = {"incidents": 0, "assigned": 0, "boundary": 0, "unassigned": 0}
        self.pending: Future | None = None  # the COPY of the previous chunk
        self.keys: list[tuple[str, str, str]] = []  # foreign keys dropped for a bulk load
        self.new_ids: list[int] = []  # first and last id of each chunk
        self.copier = ThreadPoolExecutor(1, thread_name_prefix="gridgis-copy")
        self.held = ExitStack()  # the prepared grids, kept for the next import when done

    def _create_stage(self) -> None:  # rows go straight into the table
        pass

    def add(self, chunk: pd.DataFrame, first_row: int) -> None:
        """Check one chunk, refuse taken ids, locate and COPY the good rows (the COPY
        runs on while the next chunk is read and checked)."""
        try:
            self._add(chunk, first_row)
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Wait for the COPY under way (so the connection is free for the rollback) and
        stop the thread."""
        self._copied(quiet=True)
        self.copier.shutdown()
        self.held.close()

    def _add(self, chunk: pd.DataFrame, first_row: int) -> None:
        if self.columns_of_file is None:
            self.columns_of_file = resolve_columns(chunk.columns, self.layer, self.file)
            self.given = set(self.columns_of_file)
            self.report.source_crs = chunk.attrs.get("source_crs")
        if not self.started:
            self._start(len(chunk))
        checked = check_rows(chunk, self.layer, self.columns_of_file, first_row=first_row,
                             timezone=self.tz)
        frame, problems = checked.frame, [checked.problems]
        if len(frame):
            frame, taken = self._taken_ids(frame)
            problems.append(taken)
        if len(frame):
            self._write(frame)
        self._end_chunk(chunk, first_row, checked, problems)

    def _copied(self, quiet: bool = False) -> None:
        """Wait for the COPY under way (the connection serves one statement at a time)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            try:
                pending.result()
            except BaseException:
                if not quiet:
                    raise

    def _start(self, first_chunk: int) -> None:
        """Before the first row: replace, bulk mode, the id sequence, the grids."""
        self.started = True
        with self.raw.cursor() as cur:
            expected = max(self.expected_rows or 0, first_chunk)
            bulk = expected >= max(REBUILD_FROM, _estimate(cur, "incidents"))
            if self.replace:
                _refusable(cur, "DELETE FROM incidents", self.file)
            if bulk:
                self.rebuild = drop_secondary_indexes(cur, "incidents")
                self.keys = _drop_keys(cur, expected)
            cur.execute("SELECT pg_get_serial_sequence('incidents', 'id')")
            self.sequence = cur.fetchone()[0]
            cur.execute("SELECT EXISTS (SELECT 1 FROM incidents WHERE external_id IS NOT NULL)")
            if not cur.fetchone()[0]:
                self.seen = set()
        self.grids = self.held.enter_context(prepared_grids(self.session, self.tolerance_m))

    def _taken_ids(self, frame: pd.DataFrame):
        """Rows whose external id is in the table or an earlier chunk: refused."""
        ids = frame["external_id"].astype(object)
        given = ids.notna().to_numpy()
        keys = ids[given].tolist()
        if self.seen is not None:
            hit = np.fromiter(map(self.seen.__contains__, keys), bool, len(keys))
            self.seen.update(keys)
        else:
            self._copied()
            with self.raw.cursor() as cur:
                cur.execute("SELECT external_id FROM incidents WHERE external_id = ANY(%s)",
                            (keys,))
                found = {r[0] for r in cur.fetchall()}
            hit = np.fromiter(map(found.__contains__, keys), bool, len(keys))
        taken = np.zeros(len(frame), dtype=bool)
        taken[np.flatnonzero(given)[hit]] = True
        problems = pd.DataFrame({
            "row": frame["_row"].to_numpy()[taken], "field": "external_id",
            "reason": [f"external_id {v!r} already exists (use --replace to replace the "
                       "layer)" for v in ids[taken]]})
        return frame[~taken].reset_index(drop=True), problems

    def _write(self, frame: pd.DataFrame) -> None:
        """COPY the checked rows of one chunk, assigned, into ``incidents`` and their
        report events into ``incident_events`` (on the COPY thread)."""
        frame = _with_source_coords(frame, self.report.source_crs)
        geoms = frame[GEOM].to_numpy()
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
        got = self.grids.locate(x, y)
        if (got.grid == None).any():  # noqa: E711 (element-wise)
            self._copied()
            got.fill_units(self.session, x, y)
        fields = _incident_fields(frame, got, x, y)
        events = self._event_fields(frame, fields["grid_code"])
        self._copied()  # the ids come from the sequence: the connection must be free
        ids = self._next_ids(len(frame))
        self.pending = self.copier.submit(self._copy_rows, ids, fields, events)
        hit = got.grid != None  # noqa: E711 (element-wise)
        self.counts["incidents"] += len(frame)
        self.counts["assigned"] += int(hit.sum())
        self.counts["unassigned"] += int((~hit).sum())
        self.counts["boundary"] += int(got.boundary.sum())
        self.report.rows_loaded += len(frame)

    def _next_ids(self, n: int) -> np.ndarray:
        """``n`` ids from the table's sequence, in the file's order."""
        with self.raw.cursor() as cur:
            cur.execute("SELECT array_agg(nextval(%s)) FROM generate_series(1, %s)",
                        (self.sequence, n))
            ids = np.asarray(cur.fetchone()[0], dtype=np.int64)
        self.new_ids += [int(ids.min()), int(ids.max())]
        return ids

    def _event_fields(self, frame: pd.DataFrame, grid: pa.Array) -> list:
        """The ``report`` event of each incident, but for its incident id (``_EVENTS``);
        ``grid``: the incidents' grid field, as encoded for them."""
        n = len(frame)
        return [pg_copy.constant(b"report", n), pg_copy.constant(None, n),
                pg_copy.text(frame["status"]),
                pg_copy.constant(None if self.actor is None else self.actor.encode(), n),
                pg_copy.constant(b"imported", n), grid]

    def _copy_rows(self, ids: np.ndarray, fields: dict, events: list) -> None:
        """Join the rows (Arrow releases the GIL) and COPY them, incidents first."""
        key = pg_copy.fixed(ids, ">i8")
        copies = [(sql.SQL("COPY incidents (id, {}) FROM STDIN (FORMAT binary)").format(
                       self._ident(fields)), pg_copy.encode([key, *fields.values()])),
                  (_EVENTS, pg_copy.encode([key, *events]))]
        with self.raw.cursor() as cur:
            try:
                for query, parts in copies:
                    with cur.copy(query) as copy:
                        for part in parts:
                            copy.write(part)
            except psycopg.Error as exc:  # e.g. an id another session stored meanwhile
                raise InputError(f"the database refused the rows: "
                                 f"{exc.diag.message_primary or exc}", file=self.file) from exc

    def finish(self):
        """Refuse the file (nothing kept), or finish it: indexes, report events, audit."""
        from gis.store import audit

        rep = self.report
        try:
            self._copied()
        finally:
            self.copier.shutdown()
            self.held.close()
        if rep.rows_read == 0:
            raise InputError("the file has no rows", file=self.file)
        if rep.rows_rejected and not self.skip_invalid:
            raise InvalidRows(rep.problems, file=self.file)
        with self.raw.cursor() as cur:
            for definition in self.rebuild:  # built once over all rows, not row by row
                cur.execute(definition)
            for table, name, definition in self.keys:  # each validated by one join
                cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    sql.Identifier(table), sql.Identifier(name), sql.SQL(definition)))
        if rep.rows_loaded:  # one entry for the batch: the events have the per-incident steps
            audit.record(self.session, self.actor, "import", "incident", None, None,
                         {"rows": rep.rows_loaded, "first_id": min(self.new_ids),
                          "last_id": max(self.new_ids)})
        rep.assignment = dict(self.counts, moved=self.counts["assigned"])
        if self.rejects is not None:
            rep.report_file = self.rejects.close()
        return rep


def _incident_fields(frame: pd.DataFrame, got, x: np.ndarray, y: np.ndarray) -> dict:
    """The COPY fields of the checked, located rows (every column but the id)."""
    fields = {name: pg_copy.text(frame[name]) for name in
              ("external_id", "category", "subcategory", "description", "reporter", "status",
               "level", "src_crs")}
    fields.update({
        "reported_at": pg_copy.timestamptz(frame["reported_at"]),
        "due_at": pg_copy.timestamptz(_due(frame)),
        "closed_at": _times(frame["closed_at"]),
        "src_x": pg_copy.fixed(frame["src_x"].to_numpy(float), ">f8"),
        "src_y": pg_copy.fixed(frame["src_y"].to_numpy(float), ">f8"),
        GEOM: pg_copy.points(x, y),
        **got.copy_fields(),
        "channel": pg_copy.constant(b"import", len(frame))})
    fields["grid_code_at_report"] = fields["grid_code"]  # the same values, encoded once
    return fields


def _times(col: pd.Series):
    if col.dtype == object and col.isna().all():  # a field the file does not have
        return pg_copy.constant(None, len(col))
    return pg_copy.timestamptz(col)


def _due(frame: pd.DataFrame) -> pd.Series:
    """The due time given, else the report time plus the category's limit
    (:func:`gis.incidents.due_at`, whose SQL rendering the other paths use)."""
    hours = frame["category"].astype(object).map({c: h[1] for c, h in
                                                  loop.TIME_LIMITS_H.items()})
    default = frame["reported_at"] + pd.to_timedelta(hours.astype(float), unit="h")
    given = frame["due_at"]
    if given.dtype == object and given.isna().all():
        return default
    return given.fillna(default)


def _estimate(cur, table: str) -> float:
    cur.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", (table,))
    return cur.fetchone()[0]


def _refusable(cur, statement: str, file: str | None) -> None:
    try:
        cur.execute(statement)
    except psycopg.Error as exc:  # e.g. rows of other tables refer to the old incidents
        raise InputError(f"the database refused the rows: {exc.diag.message_primary or exc}",
                         file=file) from exc


def _drop_keys(cur, rows: int) -> list[tuple[str, str, str]]:
    """Drop, for a bulk load, the foreign keys that the load's own rows would check one
    by one, on tables the load locks anyway: the report events' key to their incident
    (11 s of a 1 M-row import as one locked lookup per row) and ``merged_into`` (NULL on
    every imported row, still a trigger call per row). They are added back at the end,
    each validated by one join. The events' key only while the events table is not much
    larger than the load, or that join would cost more than it saves. ``department_code``
    keeps its key: dropping it would lock ``departments`` for the whole import."""
    cur.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'f' AND conparentid = 0 "
                "AND confrelid = 'incidents'::regclass "
                "AND conrelid IN ('incidents'::regclass, 'incident_events'::regclass) "
                "ORDER BY 1, 2")
    keys = [k for k in cur.fetchall()
            if k[0] == "incidents" or _events_rows(cur) <= EVENTS_FK_ONCE * rows]
    for table, name, _ in keys:
        cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            sql.Identifier(table), sql.Identifier(name)))
    return keys


def _events_rows(cur) -> float:
    cur.execute("SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'incident_events'::regclass")
    return cur.fetchone()[0]

