// The one-screen overview (一屏观城乡): the county's townships, communities and grids from
// our own tiles (outlines) and GeoJSON (the units of the selected area, coloured by a
// figure); a side panel with the selected area's figures; a click on a unit drills down
// (county → township → community → grid), breadcrumbs go back up. Everything comes
// from this server: no fonts, sprites or scripts from elsewhere.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("config").textContent);
  const origin = window.location.origin;
  // Figures where more is better are coloured the other way round.
  const GOOD = new Set(["resolution_rate", "coverage_ratio", "patrol_compliance"]);
  const RATIO = new Set([...GOOD]);
  const LEVELS = {county: "县 county", township: "乡镇/街道 township", community: "社区/村 community",
                  grid: "网格 grid"};
  let current = null;  // the overview JSON of the selected area

  const layers = [
    {id: "background", type: "background", paint: {"background-color": "#f4f1ea"}},
    {id: "units-fill", type: "fill", source: "units", paint: {"fill-color": "#cccccc",
     "fill-opacity": 0.55}},
    {id: "grids-line", type: "line", source: "base", "source-layer": "grids",
     paint: {"line-color": "#7f9bb5", "line-width": 0.6}},
    {id: "admin-line", type: "line", source: "base", "source-layer": "admin_units",
     paint: {"line-color": "#6c5b7b", "line-width": ["match", ["get", "level"],
             "county", 3, "township", 2, 1], "line-dasharray": [3, 2]}},
    {id: "units-line", type: "line", source: "units",
     paint: {"line-color": "#1f3b57", "line-width": 2}},
  ];
  const sources = {
    base: {type: "vector", minzoom: 0, maxzoom: 16,
           tiles: [`${origin}/tiles/admin_units,grids/{z}/{x}/{y}`]},
    units: {type: "geojson", data: {type: "FeatureCollection", features: []}},
  };
  if (config.baseTileUrl) {
    sources.raster = {type: "raster", tiles: [config.baseTileUrl], tileSize: 256};
    layers.splice(1, 0, {id: "raster", type: "raster", source: "raster"});
  }
  const map = new maplibregl.Map({
    container: "map", center: [0, 0], zoom: 1, style: {version: 8, sources, layers},
    attributionControl: false, fadeDuration: 0,
  });
  window.gridgisMap = map;  // for tests and the browser console
  map.addControl(new maplibregl.NavigationControl(), "top-left");
  map.addControl(new maplibregl.ScaleControl({unit: "metric"}));

  function esc(value) {
    return String(value ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;",
      ">": "&gt;", '"': "&quot;"}[c]));
  }
  const pct = (v) => (v == null ? "—" : `${(v * 100).toFixed(1)}%`);
  const num = (v) => (v == null ? "—" : Number(v).toLocaleString("en-US"));

  async function getJson(url) {
    const response = await fetch(url, {credentials: "same-origin"});
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(problem.detail || `${url}: ${response.status}`);
    }
    return response.json();
  }

  function figureRows(f) {
    const rows = [
      ["户数 Households", num(f.households)],
      ["网格 Grids (basic)", `${num(f.grids)} (${num(f.basic_grids)})`],
      ["超界网格 Out of bounds", num(f.out_of_bounds), f.out_of_bounds > 0],
      ["事件 Incidents (12 weeks)", num(f.incidents)],
      ["每千户 per 1,000 households", f.per_1000 == null ? "—" : f.per_1000.toFixed(2)],
      ["未结 Open", num(f.open)],
      ["超期 Overdue", num(f.overdue), f.overdue > 0],
      ["结案率 Resolution rate", pct(f.resolution_rate)],
      ["视频覆盖率 Camera coverage", pct(f.coverage_ratio)],
      ["盲区 Blind spots", f.coverage_ratio == null ? "—" : num(f.blind_spots)],
      ["巡查达标率 Patrol compliance", pct(f.patrol_compliance)],
    ];
    return "<table>" + rows.map(([k, v, bad]) =>
      `<tr><td>${esc(k)}</td><td class="num${bad ? " bad" : ""}">${esc(v)}</td></tr>`)
      .join("") + "</table>";
  }

  function trendSvg(weeks) {
    // Bars of incidents reported per week, closed as a line: enough to see the trend.
    const max = Math.max(1, ...weeks.map((w) => Math.max(w.reported, w.closed)));
    const bw = 100 / weeks.length;
    const bars = weeks.map((w, i) => {
      const h = (w.reported / max) * 60;
      return `<rect x="${i * bw + 1}" y="${62 - h}" width="${bw - 2}" height="${h}" ` +
             `fill="#4a90d9"><title>${esc(w.week_start.slice(0, 10))}: ${w.reported} / ` +
             `${w.closed}</title></rect>`;
    }).join("");
    const line = weeks.map((w, i) => `${i * bw + bw / 2},${62 - (w.closed / max) * 60}`)
      .join(" ");
    return `<svg viewBox="0 0 100 64" preserveAspectRatio="none">${bars}` +
           `<polyline points="${line}" fill="none" stroke="#27ae60" stroke-width="1.2"/></svg>` +
           `<small>上报 reported (bars) · 结案 closed (line), max ${max}/week</small>`;
  }

  function childrenTable(data) {
    if (!data.children.length) return "<p>—</p>";
    const head = "<tr><th>名称 Name</th><th class='num'>未结 Open</th>" +
                 "<th class='num'>超期 Overdue</th><th class='num'>巡查 Patrol</th></tr>";
    return "<table>" + head + data.children.map((c) =>
      `<tr class="unit" data-code="${esc(c.code)}"><td>${esc(c.name)}</td>` +
      `<td class="num">${num(c.open)}</td><td class="num${c.overdue ? " bad" : ""}">` +
      `${num(c.overdue)}</td><td class="num">${pct(c.patrol_compliance)}</td></tr>`)
      .join("") + "</table>";
  }

  function departmentsTable(rows) {
    if (!rows || !rows.length) return "<p>—</p>";
    const head = "<tr><th>#</th><th>部门 Department</th><th class='num'>收案 Received</th>" +
                 "<th class='num'>按期办结率 On time</th><th class='num'>重办 Reopened</th></tr>";
    return "<table>" + head + rows.map((d) =>
      `<tr data-department="${esc(d.department_code)}"><td>${d.rank == null ? "—" : d.rank}</td>` +
      `<td>${esc(d.department_code)}</td><td class="num">${num(d.received)}</td>` +
      `<td class="num">${pct(d.on_time_rate)}</td><td class="num">${num(d.reopened)}</td></tr>`)
      .join("") + "</table>";
  }

  function showPanel(data) {
    const panel = document.getElementById("ov-panel");
    panel.dataset.areaCode = data.area.code;
    document.getElementById("ov-title").textContent =
      `${data.area.name} · ${LEVELS[data.area.level] || data.area.level} ${data.area.code}`;
    document.getElementById("ov-figures").innerHTML = figureRows(data.figures);
    document.getElementById("ov-trend").innerHTML = trendSvg(data.incident_trend);
    document.getElementById("ov-notes").innerHTML =
      data.notes.map((n) => `<li>${esc(n)}</li>`).join("");
    document.getElementById("ov-children-title").textContent =
      data.area.child_level && data.area.level !== "grid"
        ? `下级 ${LEVELS[data.area.child_level]} (${data.children.length})` : "";
    document.getElementById("ov-children").innerHTML =
      data.area.level === "grid" ? "" : childrenTable(data);
    document.getElementById("ov-departments").innerHTML = departmentsTable(data.departments);
    const crumbs = data.breadcrumbs.map((b, i) => (i === data.breadcrumbs.length - 1
      ? `<strong>${esc(b.name)}</strong>`
      : `<a data-code="${esc(b.code)}">${esc(b.name)}</a>`)).join("<span class='sep'>›</span>");
    document.getElementById("crumbs").innerHTML = crumbs;
  }

  function colourUnits() {
    // Colour the units by the chosen figure; units without a value stay grey.
    if (!current) return;
    const metric = document.getElementById("metric").value;
    const values = current.children.map((c) => c[metric]).filter((v) => v != null);
    const top = RATIO.has(metric) ? 1 : Math.max(1, ...values);
    const [low, high] = GOOD.has(metric) ? ["#c0392b", "#f7fbff"] : ["#f7fbff", "#c0392b"];
    map.setPaintProperty("units-fill", "fill-color", ["case",
      ["==", ["typeof", ["get", metric]], "number"],
      ["interpolate", ["linear"], ["get", metric], 0, low, top, high], "#cccccc"]);
    legend.innerHTML = `${esc(document.getElementById("metric").selectedOptions[0].text)}<br>` +
      `<svg class="ramp"><defs><linearGradient id="g"><stop offset="0" stop-color="${low}"/>` +
      `<stop offset="1" stop-color="${high}"/></linearGradient></defs>` +
      `<rect width="160" height="10" fill="url(#g)"/></svg><br>0 — ${RATIO.has(metric) ? "100%" : top}`;
  }

  async function go(code, push = true) {
    const panel = document.getElementById("ov-panel");
    panel.dataset.loading = "true";
    try {
      const [data, units] = await Promise.all([
        getJson(`/overview/${encodeURIComponent(code)}`),
        getJson(`/overview/${encodeURIComponent(code)}/units`)]);
      const byCode = Object.fromEntries(data.children.map((c) => [c.code, c]));
      if (data.area.level === "grid") byCode[data.area.code] = data.figures;
      for (const f of units.features) Object.assign(f.properties, byCode[f.properties.code] || {});
      current = data;
      map.getSource("units").setData(units);
      colourUnits();
      showPanel(data);
      if (data.area.bbox) map.fitBounds(data.area.bbox, {padding: 30, animate: false});
      if (push) history.pushState({code}, "", `/overview?area=${encodeURIComponent(code)}`);
    } catch (error) {
      document.getElementById("ov-title").textContent = String(error.message || error);
    } finally {
      delete panel.dataset.loading;
    }
  }
  window.gridgisOverviewGo = go;

  const legend = document.createElement("div");
  legend.className = "ov-legend";
  document.querySelector("main").appendChild(legend);

  map.on("click", "units-fill", (event) => {
    const code = event.features[0].properties.code;
    if (current && current.area.level !== "grid" && code !== current.area.code) go(code);
  });
  map.on("mouseenter", "units-fill", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "units-fill", () => { map.getCanvas().style.cursor = ""; });
  document.getElementById("ov-children").addEventListener("click", (event) => {
    const row = event.target.closest("tr.unit");
    if (row) go(row.dataset.code);
  });
  document.getElementById("crumbs").addEventListener("click", (event) => {
    if (event.target.dataset.code) go(event.target.dataset.code);
  });
  document.getElementById("metric").addEventListener("change", colourUnits);
  window.addEventListener("popstate", (event) => {
    if (event.state && event.state.code) go(event.state.code, false);
  });

  map.on("load", async () => {
    const start = new URLSearchParams(window.location.search).get("area") || config.root;
    if (!start) {
      document.getElementById("ov-title").textContent = "没有行政区划 No admin units loaded";
    } else {
      await go(start, false);
      history.replaceState({code: start}, "", window.location.href);
    }
    map.once("idle", () => { window.gridgisReady = true; });
    map.triggerRepaint();
  });
})();
