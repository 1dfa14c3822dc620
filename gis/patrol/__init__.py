"""Patrol tracks and half-day patrol compliance (半日一巡).

Read tracks (:mod:`.tracks`), clean them (:mod:`.cleaning`), join them to grids
(:mod:`.gridindex`, :mod:`.join`; at scale :mod:`.engine` on column arrays
(:mod:`.fixes`) with big files spilled by worker (:mod:`.spill`), and on Dask
:mod:`.distributed`), decide
compliance per grid and window (:mod:`.compliance`), street coverage (:mod:`.streets`)
and household visits from stops (:mod:`.stops`).
"""

from gis.patrol.cleaning import CYCLING_SPEED, WALKING_SPEED, clean_fixes
from gis.patrol.compliance import (compliance_chunks, compliance_layer, compliance_table,
                                   grid_summary, missed_grids, rates, window_starts,
                                   worker_rates)
from gis.patrol.engine import PatrolParams, PresenceResult, patrol_presence, patrol_presence_file
from gis.patrol.fixes import Fixes
from gis.patrol.gridindex import GridIndex
from gis.patrol.join import presence
from gis.patrol.stops import DAILY_VISIT_NORM, detect_stops, household_visits
from gis.patrol.streets import street_coverage
from gis.patrol.tracks import Columns, fixes_from_frame, read_tracks, track_lines
from gis.patrol.windows import Windows

__all__ = ["CYCLING_SPEED", "DAILY_VISIT_NORM", "detect_stops", "household_visits",
           "street_coverage", "WALKING_SPEED", "Columns", "GridIndex", "PatrolParams",
           "PresenceResult", "Windows", "Fixes", "patrol_presence_file", "clean_fixes", "compliance_chunks", "compliance_layer", "compliance_table", "grid_summary",
           "fixes_from_frame", "missed_grids", "patrol_presence", "presence", "rates",
           "read_tracks", "track_lines", "window_starts", "worker_rates"]
