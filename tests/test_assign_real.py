"""``gridgis assign`` on crime records as police forces publish them.

Each fixture copies the layout of a real open-data export (column names, quoting, line
endings, byte-order marks, how a missing coordinate is written, how the recorded police
area is coded) at a few rows, with police-area polygons placed where the real ones are,
in the CRS the real polygons come in. The checks are what an analyst checks: every row
is kept with its fields as written, rows without usable coordinates are counted and left
unassigned, and ``--check`` reproduces the recorded area.
"""

from __future__ import annotations

import csv
import io
import json

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app
from gis.errors import InputError


def two_areas(lon0: float, lat0: float, keys, field: str, *, size_m: float = 2000.0,
              crs: int = 4326) -> gpd.GeoDataFrame:
    """Two square police areas side by side (west, east) around lon0, lat0, in ``crs``."""
    dlat = size_m / 111_000.0
    dlon = dlat / np.cos(np.radians(lat0))
    west = box(lon0 - dlon, lat0 - dlat / 2, lon0, lat0 + dlat / 2)
    east = box(lon0, lat0 - dlat / 2, lon0 + dlon, lat0 + dlat / 2)
    return gpd.GeoDataFrame({field: list(keys)}, geometry=[west, east], crs=4326).to_crs(crs)


def spot(lon0: float, lat0: float, where: str, metres: float = 500.0) -> tuple[float, float]:
    """A lon/lat inside the west or east area, or on the shared edge ("edge")."""
    dlon = metres / 111_000.0 / np.cos(np.radians(lat0))
    return {"west": (lon0 - dlon, lat0), "east": (lon0 + dlon, lat0),
            "edge": (lon0, lat0)}[where]


def write_csv(path, header, rows, *, bom=False, newline="\n") -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows([header, *rows])
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf8"))


def run(*args) -> dict:
    res = CliRunner().invoke(app, ["assign", *map(str, args), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def read_back(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


def counts(summary: dict, *keys) -> dict:
    return {k: summary[k] for k in keys}


# --- Chicago: "Crimes - 2001 to Present" and the police district boundaries ---------------

CHICAGO = (-87.6298, 41.8781)
CHICAGO_HEADER = ["ID", "Case Number", "Date", "Block", "IUCR", "Primary Type", "Description",
                  "Location Description", "Arrest", "Domestic", "Beat", "District", "Ward",
                  "Community Area", "FBI Code", "X Coordinate", "Y Coordinate", "Year",
                  "Updated On", "Latitude", "Longitude", "Location"]
TO_3435 = Transformer.from_crs(4326, 3435, always_xy=True)  # NAD83 Illinois East, US feet


def chicago_rows() -> list[list[str]]:
    def row(i, where, district, block="013XX S STATE ST", note="SIMPLE"):
        if where is None:
            return [str(i), f"JH{i}", "01/01/2024 12:00:00 AM", block, "0486", "BATTERY",
                    note, "STREET", "false", "true", "0111", district, "42", "32", "08B",
                    "", "", "2024", "01/08/2024 03:41:07 PM", "", "", ""]
        lon, lat = spot(*CHICAGO, where)
        x, y = TO_3435.transform(lon, lat)
        return [str(i), f"JH{i}", "01/01/2024 12:00:00 AM", block, "0486", "BATTERY", note,
                "STREET", "false", "true", "0111", district, "42", "32", "08B",
                f"{x:.0f}", f"{y:.0f}", "2024", "01/08/2024 03:41:07 PM", f"{lat:.9f}",
                f"{lon:.9f}", f"({lat:.9f}, {lon:.9f})"]

    return [
        row(1, "west", "001"),                                  # zero-padded code
        row(2, "east", "12", block='0000X W "THE" LOOP'),       # quotes inside a field
        row(3, "east", "012", note="FROM, BUILDING\nSECOND LINE"),  # comma and newline
        row(4, "edge", "12"),                                   # on the shared boundary
        row(5, None, "001"),                                    # not geocoded
        row(6, "west", ""),                                     # no recorded district
        row(7, "west", "12"),                                   # recorded elsewhere
    ]


@pytest.fixture
def chicago(tmp_path):
    src = tmp_path / "Crimes_-_2001_to_present.csv"
    write_csv(src, CHICAGO_HEADER, chicago_rows(), bom=True, newline="\r\n")  # as exported
    districts = tmp_path / "police_districts.geojson"
    two_areas(*CHICAGO, ["1", "12"], "dist_num").to_file(districts)
    return src, districts


def test_chicago_export_with_bom_crlf_quotes_and_missing_coordinates(chicago, tmp_path):
    src, districts = chicago
    out = tmp_path / "assigned.csv"
    summary = run(src, "--grids", districts, "--grid-key", "dist_num", "--out", out,
                  "--check", "District")
    assert counts(summary, "rows", "assigned", "boundary", "unassigned", "no_coordinates",
                  "checked", "reproduced") == {
        "rows": 7, "assigned": 6, "boundary": 1, "unassigned": 1, "no_coordinates": 1,
        "checked": 5, "reproduced": 4}  # row 7 was recorded in the other district
    back = read_back(out)
    assert back[0] == CHICAGO_HEADER + ["grid", "boundary", "candidates"]
    assert [r[:-3] for r in back[1:]] == chicago_rows()  # every field exactly as written
    assert [r[-3:] for r in back[1:]] == [
        ["1", "false", "1"], ["12", "false", "12"], ["12", "false", "12"],
        ["1", "true", "1;12"], ["", "false", ""], ["1", "false", "1"], ["1", "false", "1"]]
    # Byte for byte: the input's CRLF line endings and quoting are kept.
    raw = out.read_bytes()
    assert raw.count(b"\r\n") == 8 and b'"FROM, BUILDING\nSECOND LINE"' in raw


def test_chicago_state_plane_feet_with_zero_for_unknown(chicago, tmp_path):
    src, districts = chicago
    # The same export read by its X/Y Coordinate columns (EPSG:3435); unknown written as 0.
    rows = chicago_rows()
    rows[4][15:17] = ["0", "0"]
    write_csv(src, CHICAGO_HEADER, rows)
    out = tmp_path / "by_xy.csv"
    summary = run(src, "--grids", districts, "--grid-key", "dist_num", "--out", out,
                  "--lon", "X Coordinate", "--lat", "Y Coordinate", "--crs", "EPSG:3435",
                  "--check", "District")
    assert counts(summary, "assigned", "no_coordinates", "unassigned", "checked",
                  "reproduced") == {"assigned": 6, "no_coordinates": 1, "unassigned": 1,
                                    "checked": 5, "reproduced": 4}
    assert [r[-3] for r in read_back(out)[1:]] == ["1", "12", "12", "1", "", "1", "1"]


# --- Los Angeles: "Crime Data from 2020 to Present", LAPD divisions ------------------------

LA = (-118.2437, 34.0522)


def test_los_angeles_zero_coordinates_and_area_names_in_other_case(tmp_path):
    header = ["DR_NO", "Date Rptd", "AREA", "AREA NAME", "Rpt Dist No", "Crm Cd Desc",
              "LOCATION", "Cross Street", "LAT", "LON"]
    w, e, edge = spot(*LA, "west"), spot(*LA, "east"), spot(*LA, "edge")
    rows = [
        ["190326475", "03/01/2020 12:00:00 AM", "07", "Wilshire", "0784", "VEHICLE - STOLEN",
         "1900 S  LONGWOOD                     AV", "", f"{w[1]:.4f}", f"{w[0]:.4f}"],
        ["200106753", "02/09/2020 12:00:00 AM", "01", "Central", "0182",
         "BURGLARY FROM VEHICLE", "1000 S  FLOWER                       ST", "",
         f"{e[1]:.4f}", f"{e[0]:.4f}"],
        ["200320258", "11/11/2020 12:00:00 AM", "03", "Southwest", "0356",
         "THEFT OF IDENTITY", "1400 W  37TH                         ST", "", "0", "0"],
        ["200907217", "05/10/2023 12:00:00 AM", "09", "Van Nuys", "0964",
         "VANDALISM", "14000    RIVERSIDE                    DR", "", "0.0", "0.0"],
        ["231604807", "01/27/2023 12:00:00 AM", "01", "central ", "0182", "THEFT",
         "FIGUEROA", "7TH", f"{edge[1]:.6f}", f"{edge[0]:.6f}"],
    ]
    src = tmp_path / "Crime_Data_from_2020_to_Present.csv"
    write_csv(src, header, rows)
    divisions = tmp_path / "LAPD_Divisions.shp"
    two_areas(*LA, ["WILSHIRE", "CENTRAL"], "APREC").to_file(divisions)
    out = tmp_path / "la.csv"
    summary = run(src, "--grids", divisions, "--grid-key", "APREC", "--out", out,
                  "--check", "AREA NAME")
    # Names compare without case or surrounding spaces; the edge row is flagged, and its
    # recorded division is among the candidates.
    assert counts(summary, "rows", "assigned", "no_coordinates", "checked", "reproduced",
                  "reproduced_pct") == {"rows": 5, "assigned": 3, "no_coordinates": 2,
                                        "checked": 3, "reproduced": 3, "reproduced_pct": 100.0}
    back = read_back(out)
    assert [r[:10] for r in back[1:]] == rows
    assert [r[10:] for r in back[1:4]] == [
        ["WILSHIRE", "false", "WILSHIRE"], ["CENTRAL", "false", "CENTRAL"],
        ["", "false", ""]]
    # Six decimals put the edge row a few centimetres to one side: that grid, flagged.
    grid, flag, cands = back[5][10:]
    assert flag == "true" and cands.split(";")[0] == grid
    assert set(cands.split(";")) == {"WILSHIRE", "CENTRAL"}


# --- New York: NYPD complaint data, precincts as a shapefile in EPSG:2263 -------------------

NYC = (-73.9855, 40.7580)


def test_new_york_precincts_in_state_plane_with_float_keys_and_a_hole(tmp_path):
    areas = two_areas(*NYC, [14.0, 18.0], "precinct", crs=2263)
    # Precinct 14 with a hole (a park policed by another precinct in the real map).
    west = areas.geometry[0]
    cx, cy = west.centroid.x, west.centroid.y
    hole = box(cx - 300, cy - 300, cx + 300, cy + 300)
    areas.loc[0, "geometry"] = MultiPolygon([Polygon(west.exterior.coords,
                                                     [hole.exterior.coords])])
    areas.loc[2] = [22.0, hole]
    precincts = tmp_path / "nypp.shp"
    areas.to_file(precincts)
    to_ll = Transformer.from_crs(2263, 4326, always_xy=True)
    park = to_ll.transform(cx, cy)
    east = spot(*NYC, "east")
    header = ["CMPLNT_NUM", "ADDR_PCT_CD", "BORO_NM", "OFNS_DESC", "PREM_TYP_DESC",
              "X_COORD_CD", "Y_COORD_CD", "Latitude", "Longitude", "Lat_Lon"]
    rows = [
        ["261245233", "22", "MANHATTAN", "PETIT LARCENY", "PARK/PLAYGROUND", "", "",
         f"{park[1]:.6f}", f"{park[0]:.6f}", f"({park[1]:.6f}, {park[0]:.6f})"],
        ["245983102", "018", "MANHATTAN", "HARRASSMENT 2", "STREET", "", "",
         f"{east[1]:.6f}", f"{east[0]:.6f}", f"({east[1]:.6f}, {east[0]:.6f})"],
        ["241234777", "18.0", "MANHATTAN", "FELONY ASSAULT", "STREET", "", "", "", "", ""],
    ]
    src = tmp_path / "NYPD_Complaint_Data_Current__Year_To_Date_.csv"
    write_csv(src, header, rows)
    out = tmp_path / "nyc.csv"
    summary = run(src, "--grids", precincts, "--grid-key", "precinct", "--out", out,
                  "--check", "ADDR_PCT_CD")
    assert counts(summary, "assigned", "no_coordinates", "checked", "reproduced") == {
        "assigned": 2, "no_coordinates": 1, "checked": 2, "reproduced": 2}
    # Keys are written as the file holds them, without a spurious ".0".
    assert [r[10] for r in read_back(out)[1:]] == ["22", "18", ""]


# --- England and Wales: data.police.uk street-level crimes, LSOA polygons -----------------

LONDON = (-0.1276, 51.5072)


def test_police_uk_street_crimes_against_lsoa_codes(tmp_path):
    header = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
              "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
              "Context"]
    w, e = spot(*LONDON, "west", 300), spot(*LONDON, "east", 300)
    rows = [
        ["", "2024-01", "Metropolitan Police Service", "Metropolitan Police Service",
         f"{w[0]:.6f}", f"{w[1]:.6f}", "On or near Parking Area", "E01004736",
         "Westminster 018A", "Anti-social behaviour", "", ""],
        ["8b2b0ae3c1f0e8d2a4c37cfb7bd2a6f4e4a7a0c1f7d6c5e1b9a3f0e2d4c6b8a0", "2024-01",
         "Metropolitan Police Service", "Metropolitan Police Service", f"{e[0]:.6f}",
         f"{e[1]:.6f}", "On or near Strand", "E01004763", "Westminster 013E",
         "Theft from the person", "Investigation complete; no suspect identified", ""],
        ["5f1c9e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6", "2024-01",
         "Metropolitan Police Service", "Metropolitan Police Service", "", "",
         "No Location", "", "", "Other crime", "Under investigation", ""],
    ]
    src = tmp_path / "2024-01-metropolitan-street.csv"
    write_csv(src, header, rows)
    lsoa = tmp_path / "LSOA_2021_EW_BFC.gpkg"
    two_areas(*LONDON, ["E01004736", "E01004763"], "LSOA21CD", size_m=1000,
              crs=27700).to_file(lsoa)
    out = tmp_path / "uk.csv"
    summary = run(src, "--grids", lsoa, "--grid-key", "LSOA21CD", "--out", out,
                  "--check", "LSOA code")
    assert counts(summary, "assigned", "no_coordinates", "checked", "reproduced") == {
        "assigned": 2, "no_coordinates": 1, "checked": 2, "reproduced": 2}
    assert [r[:12] for r in read_back(out)[1:]] == rows


# --- San Francisco: SFPD incident reports, with a WKT point column -------------------------

SF = (-122.4194, 37.7749)


def test_san_francisco_incidents_with_out_of_area_and_out_of_range_points(tmp_path):
    header = ["Incident Datetime", "Incident ID", "Incident Category", "Police District",
              "Latitude", "Longitude", "Point"]
    w, e = spot(*SF, "west"), spot(*SF, "east")
    rows = [
        ["2024/01/01 01:00:00 AM", "1", "Larceny Theft", "Mission", f"{w[1]}", f"{w[0]}",
         f"POINT ({w[0]} {w[1]})"],
        ["2024/01/01 02:00:00 AM", "2", "Assault", "Southern", f"{e[1]}", f"{e[0]}",
         f"POINT ({e[0]} {e[1]})"],
        ["2024/01/01 03:00:00 AM", "3", "Fraud", "Out of SF", "37.3382", "-121.8863",
         "POINT (-121.8863 37.3382)"],                       # San José: no district
        ["2024/01/01 04:00:00 AM", "4", "Warrant", "Mission", "137.7", "-222.4", ""],
        ["2024/01/01 05:00:00 AM", "5", "Warrant", "Mission", "n/a", " ", ""],
    ]
    src = tmp_path / "Police_Department_Incident_Reports__2018_to_Present.csv"
    write_csv(src, header, rows, newline="\r\n")
    districts = tmp_path / "sfpd_districts.geojson"
    two_areas(*SF, ["MISSION", "SOUTHERN"], "district").to_file(districts)
    out = tmp_path / "sf.csv"
    summary = run(src, "--grids", districts, "--grid-key", "district", "--out", out,
                  "--check", "Police District")
    assert counts(summary, "rows", "assigned", "unassigned", "no_coordinates") == {
        "rows": 5, "assigned": 2, "unassigned": 3, "no_coordinates": 1}
    # Out of range and out of area are geocoded but unassigned: they count against the
    # share, as they should (the recorded district is not reproduced).
    assert counts(summary, "checked", "reproduced") == {"checked": 4, "reproduced": 2}
    assert [r[:7] for r in read_back(out)[1:]] == rows


# --- Odd bytes the row splitter must not get wrong -----------------------------------------

def test_stray_quotes_empty_lines_and_no_final_newline(tmp_path):
    lon, lat = spot(*CHICAGO, "west")
    body = (f"id,Latitude,Longitude,note\n"
            f"1,{lat},{lon},plain\n"
            f"\n"                                        # an empty line: skipped
            f'2,{lat},{lon},"quoted, with ""quotes"""\n'
            f'3,{lat},{lon},12" pipe\n'                  # a quote inside an unquoted field
            f"4,{lat},{lon},last")                       # no final newline
    src = tmp_path / "odd.csv"
    src.write_text(body, encoding="utf8")
    districts = tmp_path / "d.geojson"
    two_areas(*CHICAGO, ["1", "12"], "dist_num").to_file(districts)
    for size in (1, 100):
        out = tmp_path / f"odd_{size}.csv"
        summary = run(src, "--grids", districts, "--grid-key", "dist_num", "--out", out,
                      "--chunk-size", size)
        assert summary["rows"] == 4 and summary["assigned"] == 4
        back = read_back(out)
        assert [r[0] for r in back[1:]] == ["1", "2", "3", "4"]
        assert [r[3] for r in back[1:]] == ["plain", 'quoted, with "quotes"', '12" pipe',
                                            "last"]
        assert all(r[4:] == ["1", "false", "1"] for r in back[1:])


def test_a_row_with_too_many_fields_is_named(tmp_path):
    lon, lat = spot(*CHICAGO, "west")
    src = tmp_path / "bad.csv"
    src.write_text(f"id,Latitude,Longitude\n1,{lat},{lon}\n2,{lat},{lon},extra\n")
    districts = tmp_path / "d.geojson"
    two_areas(*CHICAGO, ["1", "12"], "dist_num").to_file(districts)
    res = CliRunner().invoke(app, ["assign", str(src), "--grids", str(districts),
                                   "--grid-key", "dist_num", "--out", str(tmp_path / "o.csv")])
    assert isinstance(res.exception, InputError)
    assert res.exception.problem.row == 2 and res.exception.problem.file == str(src)
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("names", [("lat", "lon"), ("LAT", "LON"), ("Latitude", "Longitude"),
                                   ("latitude", "longitude"), ("Y", "X"), ("lat", "lng")])
def test_coordinate_columns_are_found_whatever_their_case(tmp_path, names):
    lon, lat = spot(*CHICAGO, "east")
    src = tmp_path / "p.csv"
    write_csv(src, ["id", *names], [["1", f"{lat}", f"{lon}"]])
    districts = tmp_path / "d.geojson"
    two_areas(*CHICAGO, ["1", "12"], "dist_num").to_file(districts)
    out = tmp_path / "o.csv"
    assert run(src, "--grids", districts, "--grid-key", "dist_num", "--out", out)["assigned"] == 1
    assert read_back(out)[1][3] == "12"


def test_a_stray_quote_deep_in_a_big_file_switches_reader_midway(tmp_path):
    lon, lat = spot(*CHICAGO, "east")
    lines = [f"{i},{lat},{lon},note {i}" for i in range(3000)]  # ~40 bytes a row
    lines[2500] = f'2500,{lat},{lon},a 12" pipe'  # past the first 64 KB block
    src = tmp_path / "big.csv"
    src.write_text("id,lat,lon,note\n" + "\n".join(lines) + "\n", encoding="utf8")
    assert src.stat().st_size > 65536 + 2500 * 10
    districts = tmp_path / "d.geojson"
    two_areas(*CHICAGO, ["1", "12"], "dist_num").to_file(districts)
    out = tmp_path / "o.csv"
    summary = run(src, "--grids", districts, "--grid-key", "dist_num", "--out", out,
                  "--chunk-size", 100)
    back = read_back(out)
    assert summary["rows"] == 3000 and len(back) == 3001  # no row lost, none doubled
    assert [r[0] for r in back[1:]] == [str(i) for i in range(3000)]
    assert back[2501][3] == 'a 12" pipe' and all(r[4] == "12" for r in back[1:])
    assert b"\n\n" not in out.read_bytes()


def test_a_lone_carriage_return_mid_chunk_loses_and_doubles_no_row(tmp_path):
    lon, lat = spot(*CHICAGO, "west")
    rows = [f"{i},{lat},{lon}" for i in range(10)]
    src = tmp_path / "mac.csv"
    # Row 5 ends with an old Mac line ending: pyarrow sees two rows where a LF split sees
    # one, so the rows from there on are read by the general reader.
    src.write_bytes(("id,lat,lon\n" + "\n".join(rows[:6]) + "\r" + "\n".join(rows[6:]))
                    .encode())
    districts = tmp_path / "d.geojson"
    two_areas(*CHICAGO, ["1", "12"], "dist_num").to_file(districts)
    out = tmp_path / "o.csv"
    summary = run(src, "--grids", districts, "--grid-key", "dist_num", "--out", out,
                  "--chunk-size", 2)
    assert summary["rows"] == 10 and summary["assigned"] == 10
    assert [r[0] for r in read_back(out)[1:]] == [str(i) for i in range(10)]
