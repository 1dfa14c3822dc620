// The dispatcher map: our own vector tiles only (admin units, grids, roads, buildings as
// the base; incidents and cameras live), an optional raster base from the settings,
// filters, a side panel per grid (its workers' month so far: click one for their panel),
// and a poll of the change counters that refreshes the
// live layers without a reload. The patrol and coverage overlays are in overlays.js. No fonts or sprites are needed (no text symbols), so
// nothing is fetched from outside the server.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("config").textContent);
  const origin = window.location.origin;
  const STATUS_COLOURS = ["match", ["get", "status"],
    "reported", "#e67e22", "accepted", "#f1c40f", "dispatched", "#3498db",
    "handling", "#9b59b6", "feedback", "#1abc9c", "verified", "#16a085",
    "closed", "#27ae60", "returned", "#7f8c8d", "escalated", "#c0392b", "#555"];
  let versions = {};

  function filterQuery() {
    const params = new URLSearchParams();
    const status = document.getElementById("f-status").value;
    const category = document.getElementById("f-category").value;
    const since = document.getElementById("f-since").value;
    if (status) params.set("status", status);
    if (category) params.set("category", category);
    if (since) params.set("datetime", since + "T00:00:00Z/..");
    if (document.getElementById("f-overdue").checked) params.set("overdue", "true");
    return params;
  }

  function tileUrl(path, params, version) {
    const query = new URLSearchParams(params);
    query.set("v", version || "0");
    return `${origin}${path}/{z}/{x}/{y}?${query.toString()}`;
  }

  function sources() {
    const src = {
      base: {type: "vector", tiles: [tileUrl("/tiles/admin_units,grids,roads,buildings", {})],
             minzoom: 0, maxzoom: 16},
      incidents: {type: "vector", maxzoom: 16,
                  tiles: [tileUrl("/collections/incidents/tiles/WebMercatorQuad", filterQuery())]},
      cameras: {type: "vector", maxzoom: 16,
                tiles: [tileUrl("/collections/cameras/tiles/WebMercatorQuad", {})]},
    };
    if (config.baseTileUrl) {
      src.raster = {type: "raster", tiles: [config.baseTileUrl], tileSize: 256};
    }
    return src;
  }

  function layers() {
    const list = [{id: "background", type: "background", paint: {"background-color": "#f4f1ea"}}];
    if (config.baseTileUrl) list.push({id: "raster", type: "raster", source: "raster"});
    return list.concat([
      {id: "admin-line", type: "line", source: "base", "source-layer": "admin_units",
       paint: {"line-color": "#6c5b7b", "line-width": ["match", ["get", "level"],
               "county", 3, "township", 2, 1], "line-dasharray": [3, 2]}},
      {id: "buildings", type: "fill", source: "base", "source-layer": "buildings",
       paint: {"fill-color": "#d9d0c1", "fill-outline-color": "#b5a993"}},
      {id: "roads", type: "line", source: "base", "source-layer": "roads",
       paint: {"line-color": "#ffffff", "line-width": ["match", ["get", "class"],
               "primary", 5, "secondary", 4, "tertiary", 3, 2]}},
      {id: "grids-fill", type: "fill", source: "base", "source-layer": "grids",
       paint: {"fill-color": ["case", ["boolean", ["feature-state", "selected"], false],
               "#f39c12", "#4a90d9"], "fill-opacity": 0.18}},
      {id: "grids-line", type: "line", source: "base", "source-layer": "grids",
       paint: {"line-color": "#2c6aa0", "line-width": 1.5}},
      {id: "cameras", type: "circle", source: "cameras", "source-layer": "cameras",
       paint: {"circle-radius": ["case", ["has", "count"], 6, 4],
               "circle-color": ["case", ["==", ["get", "status"], "offline"], "#95a5a6", "#2980b9"],
               "circle-stroke-color": "#fff", "circle-stroke-width": 1}},
      {id: "incident-clusters", type: "circle", source: "incidents", "source-layer": "incidents",
       filter: ["==", ["get", "cluster"], true],
       paint: {"circle-radius": ["interpolate", ["linear"], ["get", "count"], 1, 5, 100, 14, 1000, 24],
               "circle-color": ["case", [">", ["get", "overdue"], 0], "#c0392b",
                                [">", ["get", "open"], 0], "#e67e22", "#27ae60"],
               "circle-opacity": 0.8, "circle-stroke-color": "#fff", "circle-stroke-width": 1}},
      {id: "incidents", type: "circle", source: "incidents", "source-layer": "incidents",
       filter: ["!", ["has", "cluster"]],
       // "overdue" is the reason (absent when not overdue), as in the incident list
       paint: {"circle-radius": ["case", ["has", "overdue"], 7, 5],
               "circle-color": STATUS_COLOURS,
               "circle-stroke-color": ["case", ["has", "overdue"], "#ff0000", "#ffffff"],
               "circle-stroke-width": ["case", ["has", "overdue"], 3, 1]}},
    ]);
  }

  const map = new maplibregl.Map({
    container: "map", bounds: config.bounds, fitBoundsOptions: {padding: 20},
    style: {version: 8, sources: sources(), layers: layers()},
    attributionControl: false, fadeDuration: 0,
  });
  window.gridgisMap = map;  // for tests and the browser console
  map.addControl(new maplibregl.NavigationControl(), "top-left");
  map.addControl(new maplibregl.ScaleControl({unit: "metric"}));

  function esc(value) {
    return String(value ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;",
      ">": "&gt;", '"': "&quot;"}[c]));
  }

  function rows(pairs) {
    return "<table>" + pairs.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`)
      .join("") + "</table>";
  }

  async function getJson(url) {
    const response = await fetch(url, {credentials: "same-origin"});
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  }

  let selected = null;
  async function openGrid(feature) {
    const code = feature.properties.code;
    if (selected !== null) map.setFeatureState(selected, {selected: false});
    selected = {source: "base", sourceLayer: "grids", id: feature.id};
    map.setFeatureState(selected, {selected: true});
    const panel = document.getElementById("panel");
    panel.hidden = false;
    panel.dataset.gridCode = code;
    delete panel.dataset.incidentId;
    delete panel.dataset.worker;
    delete panel.dataset.ready;
    document.getElementById("panel-code").textContent = `网格 Grid ${code}`;
    const body = document.getElementById("panel-body");
    body.textContent = "…";
    try {
      const card = await getJson(`/map/grids/${encodeURIComponent(code)}`);
      let html = rows([["名称 Name", card.name], ["社区 Community", card.community],
                       ["户数 Households", card.households],
                       ["面积 Area (m²)", Math.round(card.area_m2)]]);
      html += "<h3>人员 Staff</h3>" + (card.staff.length ? rows(card.staff.map(
        (s) => [s.role_label, `${s.name} ${s.phone || ""}`])) : "<p>—</p>");
      body.innerHTML = html;
      body.insertAdjacentHTML("beforeend", await statsHtml(code));
      body.insertAdjacentHTML("beforeend", await workersHtml(code));
    } catch (error) {
      body.textContent = String(error);
    }
    panel.dataset.ready = code;  // every section is in (tests wait for it)
  }

  // The grid workers' month so far (123456, GET /workers/assessment): a list per grid,
  // and a worker's own panel with the evidence counts, the notes and the 3必到 cases.
  function month() {
    return document.getElementById("f-month").value || config.month;
  }

  function assessment(area) {
    const params = new URLSearchParams({month: month()});
    if (area) params.set("area", area);
    return getJson(`/workers/assessment?${params}`);
  }

  const frac = (done, required) => `${done} / ${required}`;

  async function workersHtml(code) {
    let res;
    try {
      res = await assessment(code);
    } catch (error) {
      return "";  // a role without the assessment (viewer, planner): no section
    }
    const head = `<h3>考评 Workers ${esc(month())}</h3>`;
    if (!res.workers.length) return head + "<p>—</p>";
    return head + "<table class=\"workers\">" + res.workers.map((w) =>
      `<tr><td><a href="#" class="worker-link" data-worker="${esc(w.worker)}" ` +
      `data-area="${esc(code)}">${esc(w.worker)}</a></td><td>${"★".repeat(w.stars)}</td>` +
      `<td>巡查 ${esc(frac(w.patrol_windows_done, w.patrol_windows_required))}</td></tr>`)
      .join("") + "</table>";
  }

  async function openWorker(worker, area) {
    const panel = document.getElementById("panel");
    panel.hidden = false;
    panel.dataset.worker = worker;
    document.getElementById("panel-code").textContent = `网格员 Worker ${worker} · ${month()}`;
    const body = document.getElementById("panel-body");
    body.textContent = "…";
    try {
      const res = await assessment(area);
      const w = res.workers.find((r) => r.worker === worker);
      if (!w) {
        body.innerHTML = "<p>— (no figures for this worker here)</p>";
        return;
      }
      const cases = res.cases.filter((c) => c.worker === worker);
      body.innerHTML = `<div id="worker-month" data-worker="${esc(worker)}">` + rows([
        ["星级 Stars", `${"★".repeat(w.stars)} (${w.stars})`],
        ["1 巡查 Patrol windows", frac(w.patrol_windows_done, w.patrol_windows_required)],
        ["2 重点走访 Key households", frac(w.key_visits_done, w.key_visits_required)],
        ["3 必到 verified / cases", frac(w.must_attend_verified, w.must_attend_cases)],
        ["4 必报 Reports", w.must_report_count],
        ["5 入户 Visit days ok", frac(w.visit_days_ok, w.visit_days)],
        ["6 上报 Report weeks ok", frac(w.report_weeks_ok, w.report_weeks)]]) +
        (w.notes ? `<p class="notes">${esc(w.notes)}</p>` : "") +
        (cases.length ? "<h3>3必到 Cases</h3>" + rows(cases.map((c) => [c.incident,
          c.verified ? `✓ ${c.proof_time}` : "✗ not proved"])) : "") + "</div>";
    } catch (error) {
      body.textContent = String(error);
    }
  }
  window.gridgisOpenWorker = openWorker;

  document.getElementById("panel-body").addEventListener("click", (event) => {
    const link = event.target.closest(".worker-link");
    if (!link) return;
    event.preventDefault();
    openWorker(link.dataset.worker, link.dataset.area);
  });

  async function statsHtml(code) {
    // Statistics from the incidents service, with the page's filters.
    const params = new URLSearchParams({area: code});
    const status = document.getElementById("f-status").value;
    if (status) params.set("status", status);
    try {
      const stats = await getJson(`/incidents/stats?${params}`);
      const row = (stats.grids || []).find((g) => g.grid_code === code);
      if (!row) return "<h3>事件 Incidents</h3><p>0</p>";
      const rate = row.resolution_rate == null ? "—" : `${Math.round(row.resolution_rate * 100)}%`;
      return "<h3>事件 Incidents</h3>" + rows([["总数 Total", row.incidents],
        ["未结 Open", row.open], ["超期 Overdue", row.overdue], ["结案率 Resolved", rate],
        ["结案中位时长 Median h", row.median_hours_to_close ?? "—"]]);
    } catch (error) {
      return `<p class="error">${esc(error)}</p>`;
    }
  }

  map.on("click", "grids-fill", (event) => {
    const pointHit = map.queryRenderedFeatures(event.point, {layers: ["incidents"]});
    if (pointHit.length === 0 && event.features.length) openGrid(event.features[0]);
  });
  // a click on an incident opens its card in the side panel (incident_panel.js)
  for (const id of ["grids-fill", "incidents", "incident-clusters"]) {
    map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
  }
  document.getElementById("panel-close").addEventListener("click", () => {
    document.getElementById("panel").hidden = true;
  });

  function refresh(source, path, params) {
    const src = map.getSource(source);
    if (src) src.setTiles([tileUrl(path, params, versions[source === "base" ? "grids" : source])]);
  }

  function refreshIncidents() {
    refresh("incidents", "/collections/incidents/tiles/WebMercatorQuad", filterQuery());
  }

  for (const id of ["f-status", "f-category", "f-since", "f-overdue"]) {
    document.getElementById(id).addEventListener("change", refreshIncidents);
  }

  async function poll() {
    // New incidents, moved cameras and published grids appear without a reload: the
    // change counters go into the tile URLs, so changed layers are fetched afresh.
    try {
      const now = await getJson("/tiles/versions?layers=incidents,cameras,grids,coverage,blind_spots");
      const changed = Object.keys(now).filter((k) => versions[k] !== undefined && versions[k] !== now[k]);
      const first = Object.keys(versions).length === 0;
      versions = now;
      document.getElementById("live").textContent = `v${now.incidents}`;
      if (first || changed.includes("incidents")) refreshIncidents();
      if (first || changed.includes("cameras")) refresh("cameras", "/collections/cameras/tiles/WebMercatorQuad", {});
      if (changed.includes("grids")) refresh("base", "/tiles/admin_units,grids,roads,buildings", {});
      if (first || changed.length) overlays.onVersions(first ? ["coverage"] : changed);
    } catch (error) {
      document.getElementById("live").textContent = "offline";
    }
  }

  const legend = document.createElement("div");
  legend.className = "legend";
  legend.innerHTML = [["#e67e22", "上报 reported"], ["#3498db", "分拨 dispatched"],
    ["#27ae60", "结案 closed"], ["#c0392b", "超期 overdue"], ["#2980b9", "摄像头 camera"]]
    .map(([c, t]) => `<div><i style="background:${c}"></i>${t}</div>`).join("");
  document.querySelector("main").appendChild(legend);

  let overlays = null;
  map.on("load", async () => {
    window.gridgisIncidents.install(map, config);
    overlays = window.gridgisOverlays.install(map, config, {tileUrl, getJson,
      version: (id) => id === "coverage" ? `${versions.coverage}-${versions.blind_spots}` : versions[id]});
    // a click on a worker's patrol track opens their month as well as the track's popup
    map.on("click", "patrol-tracks", (event) => openWorker(event.features[0].properties.worker));
    await poll();  // the first poll puts the current versions into the tile URLs
    setInterval(poll, (config.pollSeconds || 5) * 1000);
    map.once("idle", () => { window.gridgisReady = true; });
  });
})();
