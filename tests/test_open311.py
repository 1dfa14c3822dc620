"""Open311 GeoReport v2 at /open311/v2 (issue 17, item 4), driven with the request and
response examples of the specification (http://wiki.open311.org/GeoReport_v2), adapted
to our county: its code as jurisdiction_id, our categories as service codes, a place
inside the county. JSON and XML; errors in the standard's format; the integration role
may create and read requests and nothing else."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import text

from layers_data import live_server
from roles_fixtures import COMM1, COUNTY, centre, insert_district

V2 = "/open311/v2"
ERR_KEYS = {"code", "description"}
REQUEST_KEYS = {"service_request_id", "status", "status_notes", "service_name", "service_code",
                "description", "agency_responsible", "service_notice", "requested_datetime",
                "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                "lat", "long", "media_url"}


@pytest.fixture
def world(db):
    return insert_district(db)


@pytest.fixture
def api_key(make_user, world):
    return make_user("integration", COUNTY, username="city-app")["Authorization"][7:]


def spec_post(api_key: str, **over) -> dict:
    """The spec's POST example, with our jurisdiction, a service and a place of ours."""
    lon, lat = centre("B")
    form = {"api_key": api_key, "jurisdiction_id": COUNTY, "service_code": "public_facility",
            "lat": str(lat), "long": str(lon), "address_string": "1234 5th street",
            "email": "smit222@sfgov.edu", "device_id": "tt222111", "account_id": "123456",
            "first_name": "john", "last_name": "smith", "phone": "111111111",
            "description": "A large sinkhole is destroying the street",
            "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
            "attribute[WHISPAWN]": "123456", "attribute[WHISDORN]": "COISTEST1"}
    return {k: v for k, v in {**form, **over}.items() if v is not None}


def error_of(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, list) and set(body[0]) == ERR_KEYS and body[0]["code"] == status
    return body[0]["description"]


def test_services_and_their_definitions(client, world):
    r = client.get(f"{V2}/services.json", params={"jurisdiction_id": COUNTY})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    assert [s["service_code"] for s in services][:2] == ["dispute", "security_hazard"]
    for s in services:
        assert set(s) == {"service_code", "service_name", "description", "metadata", "type",
                          "keywords", "group"}
        assert s["metadata"] is False and s["type"] == "realtime"
    xml = client.get(f"{V2}/services.xml", params={"jurisdiction_id": COUNTY[:6]})
    assert xml.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == [
        s["service_code"] for s in services]
    assert root.find("service/metadata").text == "false"

    d = client.get(f"{V2}/services/environment.json").json()
    assert d["service_code"] == "environment"
    (attr,) = d["attributes"]
    assert attr["code"] == "subcategory" and attr["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attr["values"]} >= {"garbage", "noise"}
    assert client.get(f"{V2}/services/other.json").json()["attributes"] == []
    dx = ET.fromstring(client.get(f"{V2}/services/environment.xml").content)
    assert dx.tag == "service_definition" and dx.findtext("service_code") == "environment"
    assert dx.find("attributes/attribute/values/value/key") is not None
    assert "no service" in error_of(client.get(f"{V2}/services/033.json"), 404)


def test_a_request_posted_as_in_the_spec_is_stored_and_readable(client, world, api_key, db,
                                                                make_user):
    r = client.post(f"{V2}/requests.json", data=spec_post(api_key))
    assert r.status_code == 201, r.text
    (created,) = r.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    new_id = created["service_request_id"]
    with db.connect() as conn:
        row = conn.execute(text(
            "SELECT i.channel, i.status, i.category, i.reporter, p.email, p.first_name, "
            "p.last_name, p.phone, p.media_url FROM incidents i JOIN public_reports p "
            "ON p.incident_id = i.id WHERE i.id = :i"), {"i": new_id}).one()
    assert row == ("open311", "reported", "public_facility", None, "smit222@sfgov.edu", "john",
                   "smith", "111111111",
                   "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg")

    one = client.get(f"{V2}/requests/{new_id}.json", params={"jurisdiction_id": COUNTY})
    (req,) = one.json()
    assert set(req) == REQUEST_KEYS
    assert req["status"] == "open" and req["service_code"] == "public_facility"
    assert req["description"] == "A large sinkhole is destroying the street"
    assert abs(req["long"] - centre("B")[0]) < 1e-9 and req["media_url"].startswith("http://")
    assert req["requested_datetime"].endswith("+08:00")
    assert "smit222" not in one.text and "john" not in one.text and "111111111" not in one.text

    dispatcher = make_user("dispatcher", COUNTY, username="d")
    staff = client.get(f"/incidents/{new_id}", headers=dispatcher)
    assert staff.json()["properties"]["channel"] == "open311"
    assert "smit222" not in staff.text  # contact stays out of the incident

    version = 1
    for action in ("accept", "dispatch", "handle", "feedback", "verify", "close"):
        step = client.post(f"/incidents/{new_id}/transitions", headers=dispatcher,
                           json={"action": action, "version": version})
        assert step.status_code == 200, step.text
        version += 1
    closed = client.get(f"{V2}/requests/{new_id}.json").json()[0]
    assert closed["status"] == "closed" and "Closed" in closed["status_notes"]
    assert closed["updated_datetime"] >= closed["requested_datetime"]

    xml = ET.fromstring(client.get(f"{V2}/requests/{new_id}.xml").content)
    assert xml.tag == "service_requests"
    assert xml.findtext("request/service_request_id") == str(new_id)
    assert xml.findtext("request/status") == "closed"


def test_posting_in_xml_and_with_an_idempotency_key(client, world, api_key, db):
    r = client.post(f"{V2}/requests.xml", data=spec_post(api_key),
                    headers={"Idempotency-Key": "app-42"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "service_requests"
    first = root.findtext("request/service_request_id")
    assert first and root.find("request/account_id") is not None
    again = client.post(f"{V2}/requests.xml", data=spec_post(api_key),
                        headers={"Idempotency-Key": "app-42"})
    assert again.status_code == 201 and again.content == r.content
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents WHERE channel = 'open311'")
                            ).scalar() == 1


def test_requests_are_filtered_as_the_spec_says(client, world, api_key):
    ids = {}
    for code in ("environment", "public_facility", "environment"):
        r = client.post(f"{V2}/requests.json", data=spec_post(api_key, service_code=code))
        ids.setdefault(code, []).append(r.json()[0]["service_request_id"])
    everything = client.get(f"{V2}/requests.json").json()  # default: the last 90 days
    assert sorted(r["service_request_id"] for r in everything) == sorted(
        ids["environment"] + ids["public_facility"])  # staff incidents are not published
    env = client.get(f"{V2}/requests.json", params={"service_code": "environment"}).json()
    assert {r["service_request_id"] for r in env} == set(ids["environment"])
    some = client.get(f"{V2}/requests.json", params={
        "service_request_id": f"{ids['environment'][0]},{ids['public_facility'][0]}"}).json()
    assert len(some) == 2
    # the spec's example: start_date=2010-05-24T00:00:00Z&end_date=2010-06-24T00:00:00Z&status=open
    old = client.get(f"{V2}/requests.json", params={
        "start_date": "2010-05-24T00:00:00Z", "end_date": "2010-06-24T00:00:00Z",
        "status": "open"})
    assert old.status_code == 200 and old.json() == []
    now_open = client.get(f"{V2}/requests.json", params={
        "start_date": "2020-01-01T00:00:00Z", "status": "open"}).json()
    assert len(now_open) == 3
    assert client.get(f"{V2}/requests.json", params={"status": "closed"}).json() == []
    xml = ET.fromstring(client.get(f"{V2}/requests.xml").content)
    assert len(xml.findall("request")) == 3


def test_errors_come_in_the_standards_format(client, world, api_key, make_user):
    assert error_of(client.post(f"{V2}/requests.json", data=spec_post("nonsense")),
                    403) == "Invalid api_key"
    viewer = make_user("viewer", COUNTY, username="v")["Authorization"][7:]
    assert "integration" in error_of(client.post(f"{V2}/requests.json",
                                                 data=spec_post(viewer)), 403)
    no_place = spec_post(api_key, lat=None, long=None)
    assert "geocoded" in error_of(client.post(f"{V2}/requests.json", data=no_place), 400)
    assert "lat" in error_of(client.post(f"{V2}/requests.json", data=spec_post(
        api_key, lat=None, long=None, address_string=None)), 400)
    assert "service_code" in error_of(client.post(f"{V2}/requests.json", data=spec_post(
        api_key, service_code="001")), 400)
    assert "county" in error_of(client.post(f"{V2}/requests.json", data=spec_post(
        api_key, lat="37.76524078", long="-122.4212043")), 400)
    assert "jurisdiction_id" in error_of(client.post(f"{V2}/requests.json", data=spec_post(
        api_key, jurisdiction_id="city.gov")), 404)
    assert "jurisdiction_id" in error_of(client.get(f"{V2}/services.json", params={
        "jurisdiction_id": "city.gov"}), 404)
    assert error_of(client.get(f"{V2}/requests.json", params={"status": "pending"}), 400)
    assert error_of(client.get(f"{V2}/requests.json", params={"start_date": "yesterday"}), 400)
    assert error_of(client.get(f"{V2}/requests/638344.json"), 404)
    xml = client.get(f"{V2}/requests/638344.xml")
    assert xml.status_code == 404 and ET.fromstring(xml.content).findtext("error/code") == "404"
    missing_key = {k: v for k, v in spec_post(api_key).items() if k != "api_key"}
    assert "api_key" in error_of(client.post(f"{V2}/requests.json", data=missing_key), 400)


def test_the_integration_role_creates_and_reads_requests_and_nothing_else(
        client, world, make_user, db):
    key = make_user("integration", COMM1, username="app")
    token = key["Authorization"][7:]
    lon, lat = centre("A")
    inside = client.post(f"{V2}/requests.json", data=spec_post(token, lat=lat, long=lon))
    assert inside.status_code == 201
    lon, lat = centre("C")  # another township: outside the integration's area
    assert error_of(client.post(f"{V2}/requests.json", data=spec_post(
        token, lat=lat, long=lon)), 403)
    incident = world["A"]["incident"]
    refused = {
        "GET /incidents": client.get("/incidents", headers=key),
        "GET incident": client.get(f"/incidents/{incident}", headers=key),
        "POST /incidents": client.post("/incidents", headers=key, json={
            "lon": centre("A")[0], "lat": centre("A")[1], "category": "dispute"}),
        "transition": client.post(f"/incidents/{incident}/transitions", headers=key,
                                  json={"action": "accept", "version": 1}),
        "features": client.get("/collections/grids/items", headers=key),
        "tile": client.get("/collections/grids/tiles/WebMercatorQuad/14/13526/6926",
                           headers=key),
        "multi tile": client.get("/tiles/grids,roads/14/13526/6926", headers=key),
        "patrol": client.get("/patrol/compliance", headers=key),
        "audit": client.get("/audit", headers=key),
        "me": client.get("/auth/me", headers=key),
    }
    assert {k: r.status_code for k, r in refused.items()} == {k: 403 for k in refused}
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == 4


def test_an_existing_open311_client_library_works_unchanged(db, pg_url, tmp_path, world,
                                                            make_user, settings):
    """georeport (PyPI, a GeoReport v2 client; it only reads) in JSON and XML against the
    real server; the POST is the spec's form-encoded example sent with requests, and the
    api_key comes from `gridgis user add --role integration` (the real command line)."""
    import requests
    from georeport import GeoReport

    from tests.test_unit_of_work import cli

    added = cli(settings, "user", "add", "city-app", "--role", "integration", "--scope",
                COUNTY, "--json")
    assert added.returncode == 0, added.stderr
    import json
    key = json.loads(added.stdout)["token"]
    with live_server(pg_url, tmp_path) as base:
        root = f"{base}{V2}"
        posted = requests.post(f"{root}/requests.json", data=spec_post(key), timeout=30)
        assert posted.status_code == 201, posted.text
        new_id = posted.json()[0]["service_request_id"]
        for fmt in ("json", "xml"):
            client = GeoReport(root, jurisdiction=COUNTY, output_format=fmt)
            services = client.get_service_list()
            assert [s["service_code"] for s in services] == [
                "dispute", "security_hazard", "safety_hazard", "public_facility",
                "environment", "population", "other"]
            definition = client.get_service_definition("environment")
            assert definition["service_code"] == "environment"
            one = client.get_service_request(str(new_id))
            assert str(one["service_request_id"]) == str(new_id)
            assert one["status"] == "open" and one["service_code"] == "public_facility"
            found = client.get_service_requests(service_code="public_facility", status="open")
            found = found if isinstance(found, list) else [found]  # xmltodict: one is a dict
            assert [str(r["service_request_id"]) for r in found] == [str(new_id)]


@pytest.mark.parametrize("role", ["admin", "planner", "dispatcher", "analyst", "grid_worker",
                                  "viewer", "integration"])
@pytest.mark.parametrize("scope", ["county", "community"])
def test_who_may_post_requests_and_where(client, world, make_user, role, scope):
    """Role x scope: only integration (and admin) keys create requests, inside their area
    (a new thing outside it: 403); reads are public and the same for every caller."""
    area = COUNTY if scope == "county" else COMM1
    key = make_user(role, None if role == "admin" else area,
                    username=f"{role}-{scope}")["Authorization"][7:]
    may = role in ("admin", "integration")
    for letter in ("A", "C"):  # A lies in COMM1, C in the other township
        lon, lat = centre(letter)
        r = client.post(f"{V2}/requests.json", data=spec_post(key, lat=lat, long=lon))
        inside = role == "admin" or scope == "county" or letter == "A"
        want = 201 if may and inside else 403
        assert r.status_code == want, (letter, r.text)
    assert client.get(f"{V2}/requests.json").status_code == 200


def test_filters_that_select_nothing_answer_an_empty_list(client, world, api_key):
    assert client.post(f"{V2}/requests.json", data=spec_post(api_key)).status_code == 201
    for params in ({"service_code": "033"}, {"service_request_id": "0"},
                   {"start_date": "2030-01-02T00:00:00Z", "end_date": "2030-01-01T00:00:00Z"}):
        r = client.get(f"{V2}/requests.json", params=params)
        assert r.status_code == 200 and r.json() == [], params
