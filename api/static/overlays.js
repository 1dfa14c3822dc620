// Overlays of the dispatcher map, switched on and off from a layer switcher:
//   巡查 patrol     tracks of the last day coloured by worker (/patrol/tracks) and the grids
//                  missed in the last N half-day windows (/patrol/missed) drawn over the
//                  grid tiles; a compliance choropleth (/patrol/compliance?f=geojson);
//   覆盖 coverage   the coverage ratio per grid (/coverage/grids) coloured over the grid
//                  tiles, the covered area and the blind spots (vector tiles, hatched red),
//                  and each camera's nominal view drawn here from its azimuth, fov and range.
// Everything comes from this server: no sprites or glyphs (no text layers; the hatch is a
// canvas pattern), so the page still works with no internet.
(function () {
  "use strict";
  const WORKER_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4",
    "#f032e6", "#9a6324", "#800000", "#000075", "#808000", "#469990"];
  // Share 0..1 (coverage ratio, patrol rate): red (bad) to green (good).
  const SHARE_STOPS = [0, "#d7191c", 0.5, "#fdae61", 0.8, "#a6d96a", 1, "#1a9641"];
  const NOTHING = ["in", ["get", "code"], ["literal", []]];  // a filter matching no feature
  const PATROL_REFRESH_MS = 5 * 60 * 1000;  // missed windows change on the half day
  const GROUPS = {
    patrol: ["patrol-missed-fill", "patrol-missed-line", "patrol-tracks"],
    compliance: ["patrol-compliance", "patrol-compliance-line"],
    coverage: ["coverage-grids", "coverage-covered", "blind-spots-fill", "blind-spots-line",
               "camera-views-fill", "camera-views-line"],
  };
  const EMPTY = {type: "FeatureCollection", features: []};

  function shareColour(value) {
    return ["interpolate", ["linear"], value, -1, "#bdbdbd", ...SHARE_STOPS];
  }

  function hatch(colour) {
    // An 8 px diagonal hatch, tiling seamlessly (the corners carry the wrapped stroke).
    const size = 8;
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    const g = canvas.getContext("2d");
    g.strokeStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    for (const d of [-size, 0, size]) { g.moveTo(d, size); g.lineTo(d + size, 0); }
    g.stroke();
    return g.getImageData(0, 0, size, size);
  }

  function sources(api) {
    return {
      "patrol-tracks": {type: "geojson", data: EMPTY},
      "patrol-compliance": {type: "geojson", data: EMPTY},
      "camera-views": {type: "geojson", data: EMPTY},
      coverage: {type: "vector", maxzoom: 16,
                 tiles: [api.tileUrl("/tiles/coverage,blind_spots", {}, api.version("coverage"))]},
    };
  }

  function layers() {
    const none = {visibility: "none"};
    const grids = {source: "base", "source-layer": "grids", layout: none};
    return [
      {id: "coverage-grids", type: "fill", ...grids, filter: NOTHING,
       paint: {"fill-color": "#bdbdbd", "fill-opacity": 0.45}},
      {id: "coverage-covered", type: "fill", source: "coverage", "source-layer": "coverage",
       layout: none, paint: {"fill-color": "#1a9641", "fill-opacity": 0.35}},
      {id: "blind-spots-fill", type: "fill", source: "coverage", "source-layer": "blind_spots",
       layout: none, paint: {"fill-pattern": "gridgis-hatch-red"}},
      {id: "blind-spots-line", type: "line", source: "coverage", "source-layer": "blind_spots",
       layout: none, paint: {"line-color": "#d00000", "line-width": 1.2}},
      {id: "camera-views-fill", type: "fill", source: "camera-views", layout: none,
       paint: {"fill-color": ["case", ["get", "online"], "#2980b9", "#7f8c8d"],
               "fill-opacity": ["case", ["get", "known"], 0.3, 0.1]}},
      {id: "camera-views-line", type: "line", source: "camera-views", layout: none,
       paint: {"line-color": ["case", ["get", "online"], "#1f5f8b", "#7f8c8d"],
               "line-width": 1, "line-opacity": ["case", ["get", "known"], 0.9, 0.4]}},
      {id: "patrol-compliance", type: "fill", source: "patrol-compliance", layout: none,
       paint: {"fill-color": shareColour(["get", "rate"]), "fill-opacity": 0.6}},
      {id: "patrol-compliance-line", type: "line", source: "patrol-compliance", layout: none,
       paint: {"line-color": "#555", "line-width": 0.5}},
      {id: "patrol-missed-fill", type: "fill", ...grids, filter: NOTHING,
       paint: {"fill-color": "#ff1f1f", "fill-opacity": 0.3}},
      {id: "patrol-missed-line", type: "line", ...grids, filter: NOTHING,
       paint: {"line-color": "#c00000", "line-width": 3}},
      {id: "patrol-tracks", type: "line", source: "patrol-tracks", layout: none,
       paint: {"line-color": "#e6194b", "line-width": 3, "line-opacity": 0.9}},
    ];
  }

  function workerColours(workers) {
    return new Map(workers.map((w, i) => [w, WORKER_COLOURS[i % WORKER_COLOURS.length]]));
  }

  function matchExpression(input, pairs, fallback) {
    // A match with no label is invalid style: fall back to the constant.
    if (pairs.length === 0) return fallback;
    return ["match", input, ...pairs.flat(), fallback];
  }

  function sector(lon, lat, azimuth, fov, range) {
    // The view as a polygon in lon/lat: metres to degrees with the local scale (views are
    // at most a few hundred metres, so the flat approximation is well under a pixel).
    const kx = 111320 * Math.cos(lat * Math.PI / 180), ky = 110574;
    const full = fov >= 360;
    const n = Math.max(4, Math.ceil((full ? 360 : fov) / 10));
    const a0 = full ? 0 : azimuth - fov / 2;
    const ring = full ? [] : [[lon, lat]];
    for (let i = 0; i <= n - (full ? 1 : 0); i++) {
      const a = (a0 + (full ? 360 : fov) * i / n) * Math.PI / 180;
      ring.push([lon + range * Math.sin(a) / kx, lat + range * Math.cos(a) / ky]);
    }
    ring.push(ring[0]);
    return ring;
  }

  function cameraView(feature, defaults) {
    // Missing fov/range take the type's defaults (gis.schema.CAMERA_DEFAULTS); a directed
    // camera without an azimuth is drawn as a faint full circle: direction unknown.
    const p = feature.properties;
    const [fovDefault, rangeDefault] = defaults[p.type] || [60, 50];
    const fov = Number.isFinite(p.fov) && p.fov > 0 ? p.fov : fovDefault;
    const range = Number.isFinite(p.range_m) ? p.range_m : rangeDefault;
    const known = fov >= 360 || Number.isFinite(p.azimuth);
    if (!(range > 0)) return null;
    const [lon, lat] = feature.geometry.coordinates;
    return {type: "Feature", properties: {code: p.code, known, online: p.status !== "offline"},
            geometry: {type: "Polygon",
                       coordinates: [sector(lon, lat, p.azimuth || 0, known ? fov : 360, range)]}};
  }

  function legendHtml(kind, extra) {
    const gradient = "linear-gradient(to right, #d7191c, #fdae61 50%, #a6d96a 80%, #1a9641)";
    const bar = `<div class="ramp" style="background:${gradient}"></div>` +
      "<div class=\"ramp-labels\"><span>0%</span><span>50%</span><span>100%</span></div>";
    if (kind === "patrol") {
      return "<b>巡查 Patrol</b><div><i class=\"sq\" style=\"background:#ff1f1f80;" +
        `border:2px solid #c00000"></i>漏巡 missed (last ${extra.last} windows)</div>` +
        extra.workers.map(([w, c]) => `<div><i class="ln" style="background:${c}"></i>` +
          `${esc(w)}</div>`).join("") + (extra.workers.length ? "" : "<div>— no tracks</div>");
    }
    if (kind === "compliance") return "<b>半日一巡 Patrolled windows (7 d)</b>" + bar;
    return "<b>覆盖率 Coverage ratio</b>" + bar +
      "<div><i class=\"sq hatch\"></i>盲区 blind spot</div>" +
      "<div><i class=\"sq\" style=\"background:#1a964159\"></i>可视 covered</div>" +
      "<div><i class=\"sq\" style=\"background:#2980b94d;border:1px solid #1f5f8b\"></i>" +
      "视域 camera view (zoom ≥ 12)</div>" +
      (extra.stale ? `<div>${extra.stale} grids stale: recompute</div>` : "");
  }

  function esc(value) {
    return String(value ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;",
      ">": "&gt;", '"': "&quot;"}[c]));
  }

  function switcher() {
    const box = document.createElement("div");
    box.className = "maplibregl-ctrl maplibregl-ctrl-group layers-box";
    box.innerHTML = "<b>图层 Layers</b>" +
      "<label><input type=\"checkbox\" id=\"ov-patrol\"> 巡查 Patrol, missed in last " +
      "<input type=\"number\" id=\"ov-missed-n\" min=\"1\" max=\"60\" value=\"2\"> windows</label>" +
      "<label><input type=\"checkbox\" id=\"ov-compliance\"> 巡查率 Compliance</label>" +
      "<label><input type=\"checkbox\" id=\"ov-coverage\"> 监控覆盖 Camera coverage</label>" +
      "<div id=\"ov-status\" class=\"error\"></div>";
    return {onAdd: () => box, onRemove: () => box.remove()};
  }

  function install(map, config, api) {
    const state = {patrol: false, compliance: false, coverage: false, loaded: {}};
    const defaults = config.cameraDefaults || {};
    map.addImage("gridgis-hatch-red", hatch("rgba(208, 0, 0, 0.85)"));
    for (const [id, source] of Object.entries(sources(api))) map.addSource(id, source);
    for (const layer of layers()) map.addLayer(layer, "cameras");  // points stay on top
    map.addControl(switcher(), "top-left");
    const legend = document.querySelector(".legend");
    const sections = {};
    for (const kind of Object.keys(GROUPS)) {
      sections[kind] = document.createElement("div");
      sections[kind].className = "legend-section";
      sections[kind].id = `legend-${kind}`;
      sections[kind].hidden = true;
      legend.appendChild(sections[kind]);
    }
    const status = document.getElementById("ov-status");

    function show(kind, on) {
      for (const id of GROUPS[kind]) map.setLayoutProperty(id, "visibility", on ? "visible" : "none");
      sections[kind].hidden = !on;
    }

    async function guarded(kind, load) {
      try {
        await load();
        state.loaded[kind] = Date.now();
        status.textContent = "";
      } catch (error) {
        status.textContent = String(error);
      }
    }

    function loadPatrol() {
      return guarded("patrol", async () => {
        const last = Math.min(60, Math.max(1, parseInt(document.getElementById("ov-missed-n").value, 10) || 2));
        const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
        const [tracks, missed] = await Promise.all([
          api.getJson(`/patrol/tracks?${new URLSearchParams({from: since})}`),
          api.getJson(`/patrol/missed?last=${last}`)]);
        const workers = [...new Set(tracks.features.map((f) => f.properties.worker))].sort();
        const colours = workerColours(workers);
        map.getSource("patrol-tracks").setData(tracks);
        map.setPaintProperty("patrol-tracks", "line-color",
          matchExpression(["get", "worker"], [...colours.entries()], "#e6194b"));
        const codes = missed.items.map((m) => m.grid);
        for (const id of ["patrol-missed-fill", "patrol-missed-line"]) {
          map.setFilter(id, ["in", ["get", "code"], ["literal", codes]]);
        }
        sections.patrol.innerHTML = legendHtml("patrol", {last, workers: [...colours.entries()]});
      });
    }

    function loadCompliance() {
      return guarded("compliance", async () => {
        map.getSource("patrol-compliance").setData(await api.getJson("/patrol/compliance?f=geojson"));
        sections.compliance.innerHTML = legendHtml("compliance");
      });
    }

    async function coverageRows() {
      let rows = [], offset = 0, total = 1;
      while (offset < total) {  // pages of 5000 (the endpoint's limit)
        const page = await api.getJson(`/coverage/grids?limit=5000&offset=${offset}`);
        rows = rows.concat(page.grids);
        total = page.total;
        offset += 5000;
      }
      return rows;
    }

    function loadCoverage() {
      return guarded("coverage", async () => {
        const rows = await coverageRows();
        const pairs = rows.map((r) => [r.grid_code, r.ratio ?? -1]);
        map.setFilter("coverage-grids", ["in", ["get", "code"], ["literal", pairs.map((p) => p[0])]]);
        map.setPaintProperty("coverage-grids", "fill-color",
          shareColour(matchExpression(["get", "code"], pairs, -1)));
        sections.coverage.innerHTML = legendHtml("coverage", {stale: rows.filter((r) => r.stale).length});
        drawViews();
      });
    }

    let viewsTimer = null;
    function drawViews() {
      // Views of the cameras in the loaded tiles (clusters below zoom 12 carry none).
      clearTimeout(viewsTimer);
      viewsTimer = setTimeout(() => {
        if (!state.coverage) return;
        const seen = new Set(), views = [];
        for (const f of map.querySourceFeatures("cameras", {sourceLayer: "cameras"})) {
          if (f.properties.cluster || seen.has(f.id)) continue;
          seen.add(f.id);
          const view = cameraView(f, defaults);
          if (view) views.push(view);
        }
        map.getSource("camera-views").setData({type: "FeatureCollection", features: views});
      }, 100);
    }

    let patrolTimer = null;
    const toggles = {
      patrol: async (on) => {
        clearInterval(patrolTimer);
        if (on) { await loadPatrol(); patrolTimer = setInterval(loadPatrol, PATROL_REFRESH_MS); }
      },
      compliance: async (on) => { if (on) await loadCompliance(); },
      coverage: async (on) => { if (on) await loadCoverage(); },
    };
    for (const kind of Object.keys(GROUPS)) {
      document.getElementById(`ov-${kind}`).addEventListener("change", async (event) => {
        state[kind] = event.target.checked;
        await toggles[kind](state[kind]);
        show(kind, state[kind]);
      });
    }
    document.getElementById("ov-missed-n").addEventListener("change", () => {
      if (state.patrol) loadPatrol();
    });
    map.on("sourcedata", (e) => { if (e.sourceId === "cameras" && e.isSourceLoaded) drawViews(); });
    map.on("moveend", drawViews);
    popups(map);

    function onVersions(changed) {
      // A coverage run changed the stored results: fetch the tiles and ratios afresh.
      if (!changed.includes("coverage") && !changed.includes("blind_spots")) return;
      map.getSource("coverage").setTiles([api.tileUrl("/tiles/coverage,blind_spots", {},
                                                      api.version("coverage"))]);
      if (state.coverage) loadCoverage();
    }
    return {state, onVersions};
  }

  function popups(map) {
    const table = (pairs) => "<table>" + pairs.map(([k, v]) =>
      `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("") + "</table>";
    map.on("click", "blind-spots-fill", (event) => {
      const p = event.features[0].properties;
      new maplibregl.Popup().setLngLat(event.lngLat).setHTML(table([
        ["盲区 Blind spot", p.grid_code], ["面积 Area m²", Math.round(p.area_m2)],
        ["事件 Incidents", p.incidents],
        ["最近摄像头 Nearest camera", `${p.nearest_camera ?? "—"} (${Math.round(p.camera_m ?? NaN)} m)`]]))
        .addTo(map);
    });
    map.on("click", "patrol-tracks", (event) => {
      const p = event.features[0].properties;
      new maplibregl.Popup().setLngLat(event.lngLat).setHTML(table([
        ["网格员 Worker", p.worker], ["日 Day", p.day], ["起 From", p.start], ["止 To", p.end],
        ["定位 Fixes", p.fixes]])).addTo(map);
    });
  }

  window.gridgisOverlays = {install, sector};
})();
