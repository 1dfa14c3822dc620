"""The report of rows an import skipped (``--skip-invalid``): a CSV with the row number,
field and reason of each problem followed by the row's original values, so the user can
fix the rows and import just them again."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from gis import csvsafe


class RejectWriter:
    """Appends rejected rows chunk by chunk to a temporary file, moved into place by
    :meth:`close` (no report file when nothing was rejected)."""

    def __init__(self, path: Path, *, drop_geometry: bool = False):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.part")
        self.drop_geometry = drop_geometry  # CSV input: the lon/lat columns already say it
        self.written = False

    def write(self, problems: pd.DataFrame, chunk: pd.DataFrame, first_row: int) -> None:
        positions = problems["row"].to_numpy(dtype=int) - first_row
        original = chunk.iloc[positions].reset_index(drop=True)
        if isinstance(original, gpd.GeoDataFrame):
            geom = original.geometry.name
            wkt = None if self.drop_geometry else original.geometry.to_wkt()
            original = pd.DataFrame(original.drop(columns=geom))
            if wkt is not None:
                original["geometry_wkt"] = wkt.to_numpy()
        head = problems[["row", "field", "reason"]].reset_index(drop=True)
        out = pd.concat([head, original], axis=1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        csvsafe.to_csv(out, self.tmp, mode="a" if self.written else "w", header=not self.written,
                   index=False)
        self.written = True

    def close(self) -> str | None:
        if not self.written:
            return None
        self.tmp.replace(self.path)
        return str(self.path)
