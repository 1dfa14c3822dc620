"""3必到 proved from the track: a case counts as attended in person when one of the
worker's own (cleaned) fixes lies within ``radius`` metres of the incident between the
report and the attend limit (both included). The earliest such fix is the proof.

Vectorised over all (worker, case) pairs at once: fixes sorted by worker then time get
one int64 key each, so the fixes of a pair's worker inside its time span are one
``searchsorted`` range; the ranges are expanded with ``np.repeat`` and tested in one
distance computation (in chunks, so memory stays bounded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PROOF_COLUMNS = ("pair", "proof_t", "proof_lon", "proof_lat", "proof_distance_m")
CHUNK = 5_000_000  # candidate fixes tested at once


def _keys(code: np.ndarray, t_us: np.ndarray, t0: int, span: int) -> np.ndarray:
    return code.astype(np.int64) * np.int64(span) + (t_us - t0)


def attend_proofs(code: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray,
                  lon: np.ndarray, lat: np.ndarray, pairs: pd.DataFrame,
                  radius: float) -> pd.DataFrame:
    """The proving fix of each pair that has one.

    Parameters
    ----------
    code, t, x, y, lon, lat : cleaned fixes sorted by worker code then time (t in UTC ns,
        x/y metric, lon/lat WGS 84).
    pairs : ``pair`` (id), ``code`` (the worker's code), ``t0``/``t1`` (UTC ns, the span),
        ``x``/``y`` (the incident, metric).

    Returns
    -------
    DataFrame : :data:`PROOF_COLUMNS`, one row per proved pair.
    """
    if not len(t) or not len(pairs):
        return pd.DataFrame({c: [] for c in PROOF_COLUMNS})
    t_us = t // 1000  # microseconds: a month of many workers fits one int64 key
    lo_us, hi_us = pairs["t0"].to_numpy() // 1000, pairs["t1"].to_numpy() // 1000
    t0 = int(min(t_us.min(), lo_us.min()))
    span = int(max(t_us.max(), hi_us.max())) - t0 + 1
    key = _keys(code, t_us, t0, span)
    pc = pairs["code"].to_numpy()
    lo = np.searchsorted(key, _keys(pc, lo_us, t0, span), side="left")
    hi = np.searchsorted(key, _keys(pc, hi_us, t0, span), side="right")
    found = []
    for part in _chunks(hi - lo):
        found.append(_first_near(part, lo, hi, t, x, y, pairs, radius))
    hits = pd.concat(found, ignore_index=True)
    if not len(hits):
        return pd.DataFrame({c: [] for c in PROOF_COLUMNS})
    first = hits.sort_values(["p", "i"]).drop_duplicates("p")
    i, p = first["i"].to_numpy(), first["p"].to_numpy()
    return pd.DataFrame({"pair": pairs["pair"].to_numpy()[p], "proof_t": t[i],
                         "proof_lon": lon[i], "proof_lat": lat[i],
                         "proof_distance_m": first["d"].to_numpy()})


def _chunks(counts: np.ndarray):
    """Slices of pairs whose candidate fixes add up to about :data:`CHUNK`."""
    cum = np.cumsum(counts)
    start = 0
    while start < len(counts):
        base = cum[start - 1] if start else 0
        stop = max(int(np.searchsorted(cum, base + CHUNK, side="right")), start + 1)
        yield slice(start, stop)
        start = stop


def _first_near(part: slice, lo, hi, t, x, y, pairs: pd.DataFrame, radius: float) -> pd.DataFrame:
    p = np.arange(len(pairs))[part]
    n = (hi - lo)[part]
    p_rep = np.repeat(p, n)
    offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    i = np.repeat(lo[part], n) + offsets
    t0, t1 = pairs["t0"].to_numpy()[p_rep], pairs["t1"].to_numpy()[p_rep]
    d = np.hypot(x[i] - pairs["x"].to_numpy()[p_rep], y[i] - pairs["y"].to_numpy()[p_rep])
    ok = (d <= radius) & (t[i] >= t0) & (t[i] <= t1)  # exact bounds (the keys are µs)
    return pd.DataFrame({"p": p_rep[ok], "i": i[ok], "d": d[ok]})
