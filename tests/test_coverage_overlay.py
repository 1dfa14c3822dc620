"""The robust overlay gives GEOS' answer when GEOS succeeds, and an answer (snapped to
1 mm) for a pair GEOS rejects."""

import numpy as np
import shapely
from shapely.geometry import box

from gis.coverage import overlay


def test_same_answer_as_geos_when_geos_succeeds():
    a = np.array([box(0, 0, 10, 10), box(5, 5, 20, 20)], dtype=object)
    b = np.array([box(5, 0, 15, 10), box(0, 0, 6, 6)], dtype=object)
    for mine, ref in ((overlay.intersection(a, b), shapely.intersection(a, b)),
                      (overlay.difference(a, b), shapely.difference(a, b))):
        assert all(m.equals(r) for m, r in zip(mine, ref))


def test_pairwise_fallback_snaps_only_what_fails():
    calls = []

    def flaky(x, y, grid_size=None):
        calls.append(grid_size)
        if grid_size is None and x.area > 150:
            raise shapely.errors.GEOSException("Unable to determine overlay result")
        return shapely.intersection(x, y, grid_size=grid_size)

    a = np.array([box(0, 0, 10, 10), box(0, 0, 20, 20)], dtype=object)
    b = np.array([box(5, 5, 15, 15), box(5, 5, 15, 15)], dtype=object)
    out = overlay._pairwise(flaky, a, b)
    assert [g.area for g in out] == [25.0, 100.0]
    assert calls == [None, None, overlay.GRID_SIZE_M]
