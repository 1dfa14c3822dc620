// The grid worker's app (/m): my work, report, patrol, visits, my month; every write goes through
// the offline queue (queue.js). The map draws our own vector tiles (grids, buildings,
// roads) and my grids; nothing is fetched from outside the server.
import * as queue from "/static/m/queue.js";
import {apply, t, toggleLang} from "/static/m/i18n.js";

const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const state = {me: null, here: null, pin: null, category: null, work: [], current: null,
               building: null, onDuty: false, fixes: 0, buffer: [], timer: null,
               intervalMs: 15000, batchSize: 20, grids: null};
window.fieldApp = {state, queue, flush: () => queue.flush()};  // tests and the console

function esc(value) {
  return String(value ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;",
    ">": "&gt;", '"': "&quot;"}[c]));
}

// A time as the phone shows it (its own zone), minutes only.
function local(iso) {
  if (!iso) return "";
  // an approved pause stops the clock: the server stores the far end of time for it
  if (iso.startsWith("9999-")) return t("paused");
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

async function getJson(url) {
  const response = await fetch(url, {credentials: "same-origin"});
  if (!response.ok) { const e = new Error(`${url}: ${response.status}`); e.status = response.status; throw e; }
  return response.json();
}

// -- connection and queue ------------------------------------------------------------------
function showNet() {
  const online = navigator.onLine;
  $("net").dataset.state = online ? "online" : "offline";
  $("net").textContent = t(online ? "online" : "offline");
}

function describe(item) {
  const words = {incident: t("incident"), photo: t("photo"), visit: t("visit"),
                 fixes: t("fixes_batch"), step: t("step")};
  return `${words[item.kind] || item.kind} ${esc(item.label || "")}`;
}

function renderQueue(items) {
  $("queue-badge").textContent = String(items.length);
  $("queue-badge").dataset.count = String(items.length);
  $("queue-list").innerHTML = items.map((item) => `<li class="${item.state}" data-seq="${item.seq}"
      data-state="${item.state}">#${item.seq} ${describe(item)}
      <span class="tag ${item.state === "waiting" ? "" : "red"}">${t(item.state)}</span>
      ${item.error ? `<div class="muted">${esc(item.error)}</div>` : ""}
      ${item.state !== "waiting" ? `<button data-dismiss="${item.seq}">${t("dismiss")}</button>` : ""}
      <div class="muted">${esc(local(item.queuedAt))}</div></li>`).join("") || `<li>${t("nothing")}</li>`;
  const visits = items.filter((i) => i.kind === "visit" && i.state === "waiting").length;
  $("visit-queued").textContent = visits ? `(+${visits} ${t("in_queue")})` : "";
}

async function flushNow() {
  const report = await queue.flush();
  if (report.sent) { refreshWork(); refreshVisits(); refreshGrids(); }
  return report;
}

// -- map --------------------------------------------------------------------------------
let map = null;
function startMap() {
  const origin = window.location.origin;
  map = new maplibregl.Map({
    container: "map", center: [116.4, 39.9], zoom: 14, attributionControl: false, fadeDuration: 0,
    style: {version: 8, sources: {
      base: {type: "vector", tiles: [`${origin}/tiles/admin_units,grids,roads,buildings/{z}/{x}/{y}?v=0`],
             minzoom: 0, maxzoom: 16},
      mine: {type: "geojson", data: {type: "FeatureCollection", features: []}},
      work: {type: "geojson", data: {type: "FeatureCollection", features: []}},
      me: {type: "geojson", data: {type: "FeatureCollection", features: []}}},
    layers: [
      {id: "bg", type: "background", paint: {"background-color": "#f4f1ea"}},
      {id: "buildings", type: "fill", source: "base", "source-layer": "buildings",
       paint: {"fill-color": "#d9d0c1", "fill-outline-color": "#b5a993"}},
      {id: "roads", type: "line", source: "base", "source-layer": "roads",
       paint: {"line-color": "#fff", "line-width": 3}},
      {id: "grids", type: "line", source: "base", "source-layer": "grids",
       paint: {"line-color": "#2c6aa0", "line-width": 1}},
      {id: "mine-fill", type: "fill", source: "mine",
       paint: {"fill-color": ["case", ["get", "patrolled"], "#27ae60", "#e67e22"], "fill-opacity": 0.2}},
      {id: "mine-line", type: "line", source: "mine", paint: {"line-color": "#1f4e79", "line-width": 2.5}},
      {id: "work", type: "circle", source: "work",
       paint: {"circle-radius": 7, "circle-color": ["case", ["to-boolean", ["get", "overdue"]], "#c0392b", "#3498db"],
               "circle-stroke-color": "#fff", "circle-stroke-width": 2}},
      {id: "me", type: "circle", source: "me",
       paint: {"circle-radius": ["case", ["==", ["get", "kind"], "pin"], 8, 6],
               "circle-color": ["case", ["==", ["get", "kind"], "pin"], "#f39c12", "#1e90ff"],
               "circle-stroke-color": "#fff", "circle-stroke-width": 2}}]}});
  window.gridgisMap = map;
  map.on("click", (event) => {
    if (currentTab !== "report") return;
    state.pin = [event.lngLat.lng, event.lngLat.lat];
    showPosition();
  });
}

function drawMe() {
  if (!map || !map.getSource("me")) return;
  const features = [];
  if (state.here) features.push(point(state.here, "me"));
  if (state.pin && currentTab === "report") features.push(point(state.pin, "pin"));
  map.getSource("me").setData({type: "FeatureCollection", features});
}

function point(coords, kind) {
  return {type: "Feature", geometry: {type: "Point", coordinates: coords}, properties: {kind}};
}

function bboxOf(features) {
  let b = [180, 90, -180, -90];
  const walk = (c) => { if (typeof c[0] === "number") { b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]),
    Math.max(b[2], c[0]), Math.max(b[3], c[1])]; } else c.forEach(walk); };
  features.forEach((f) => walk(f.geometry.coordinates));
  return b;
}

// Ask for the base tiles over my grids once online: the service worker keeps them, so the
// map of my grids, their buildings and streets works with no signal.
async function warmTiles(b) {
  const tiles = [];
  for (let z = 13; z <= 16; z++) {
    const n = 2 ** z;
    const x = (lon) => Math.floor((lon + 180) / 360 * n);
    const y = (lat) => { const r = lat * Math.PI / 180;
      return Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n); };
    for (let i = x(b[0]); i <= x(b[2]); i++) for (let j = y(b[3]); j <= y(b[1]); j++) tiles.push([z, i, j]);
  }
  for (const [z, i, j] of tiles.slice(0, 400)) {
    await fetch(`/tiles/admin_units,grids,roads,buildings/${z}/${i}/${j}?v=0`).catch(() => null);
  }
  state.warmedTiles = Math.min(tiles.length, 400);
}

// -- position -----------------------------------------------------------------------------
function locate() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error("no geolocation")); return; }
    navigator.geolocation.getCurrentPosition((pos) => {
      state.here = [pos.coords.longitude, pos.coords.latitude];  // WGS 84
      state.hereAt = pos.timestamp; state.accuracy = pos.coords.accuracy;
      drawMe();
      resolve(pos);
    }, reject, {enableHighAccuracy: true, maximumAge: 0, timeout: 15000});
  });
}

function showPosition() {
  const p = state.pin || state.here;
  $("r-pos").textContent = p ? `${p[0].toFixed(5)}, ${p[1].toFixed(5)}${state.pin ? " 📍" : ""}` : "—";
  if (p && map && !state.pin) map.easeTo({center: p, duration: 0});
  drawMe();
}

// -- tabs -------------------------------------------------------------------------------
let currentTab = "work";
function showTab(name) {
  currentTab = name;
  for (const sec of document.querySelectorAll(".panel")) sec.hidden = sec.id !== `tab-${name}`;
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("on", b.dataset.tab === name);
  if (name === "visits") refreshVisits();
  if (name === "patrol") refreshGrids();
  if (name === "month") refreshMonth();
  if (name === "report" && !state.here) locate().then(showPosition).catch(() => null);
  drawMe();
}

// -- my work ----------------------------------------------------------------------------
async function refreshWork() {
  try { state.work = (await getJson("/field/work")).features; } catch (e) { return; }
  if (map && map.getSource("work")) map.getSource("work").setData({type: "FeatureCollection", features: state.work});
  $("work-list").innerHTML = state.work.map((f, i) => {
    const p = f.properties;
    return `<li data-i="${i}" data-id="${f.id}" class="${p.overdue ? "overdue" : ""}">
      <b>#${f.id} ${esc(t(p.category))}</b> <span class="tag">${esc(t(p.status))}</span>
      ${p.overdue ? `<span class="tag red">${t("overdue")}</span>` : ""}
      <div class="muted">${t("due")} ${esc(local(p.due_at))} · ${esc(p.grid_code)}</div></li>`;
  }).join("") || `<li>${t("nothing")}</li>`;
}

function openWork(i) {
  const f = state.work[i];
  state.current = f;
  const p = f.properties;
  $("work-detail").hidden = false;
  $("wd-title").textContent = `#${f.id} ${t(p.category)} · ${p.subcategory || ""}`;
  $("wd-meta").textContent = `${t(p.status)} · ${t("due")} ${local(p.due_at)}`;
  $("wd-desc").textContent = p.description || "";
  const action = p.status === "dispatched" ? "handle" : "feedback";
  $("wd-act").textContent = t(action);
  $("wd-act").dataset.action = action;
  if (map) map.flyTo({center: f.geometry.coordinates, zoom: 17});
}

async function act() {
  const f = state.current;
  if (!f) return;
  const action = $("wd-act").dataset.action;
  await queue.enqueue({kind: "step", label: `#${f.id} ${t(action)}`, method: "POST",
    url: `/field/incidents/${f.id}/transitions`,
    json: {action, version: f.properties.version, note: $("wd-note").value || null}});
  await queuePhotos($("wd-photos"), `/incidents/${f.id}/attachments`, undefined, action, `#${f.id}`);
  $("wd-note").value = ""; $("wd-photos").value = ""; $("work-detail").hidden = true;
  flushNow();
}

// 延期申请: one more working day on the case, the note as the reason; the level above decides
async function askExtension() {
  const f = state.current;
  if (!f) return;
  const reason = $("wd-note").value.trim();
  if (!reason) { $("wd-meta").textContent = t("need_reason"); return; }
  await queue.enqueue({kind: "step", label: `#${f.id} ${t("ask_extension")}`, method: "POST",
    url: `/incidents/${f.id}/extensions`, json: {amount: 1, unit: "working_days", reason}});
  $("wd-note").value = ""; $("work-detail").hidden = true;
  flushNow();
}

async function queuePhotos(input, url, ref, step, label) {
  for (const file of input.files || []) {
    const form = [["file", file, file.name || "photo.jpg"]];
    if (step) form.push(["step", step]);
    await queue.enqueue({kind: "photo", label: `${label} ${file.name}`, method: "POST", url, ref, form});
  }
}

// -- report -----------------------------------------------------------------------------
function renderCategories() {
  $("cats").innerHTML = Object.keys(config.mustReport).map((c) =>
    `<button type="button" data-cat="${c}" data-t="${c}">${t(c)}</button>`).join("");
}

function chooseCategory(cat) {
  state.category = cat;
  for (const b of $("cats").querySelectorAll("button")) b.classList.toggle("on", b.dataset.cat === cat);
  $("r-sub").innerHTML = config.mustReport[cat].map((s) => `<option value="${s}">${esc(t(s))}</option>`).join("");
  state.dupsSeen = false; $("r-dups").hidden = true;
}

async function duplicates(p) {
  if (!navigator.onLine) return [];
  try {
    const q = new URLSearchParams({lon: p[0], lat: p[1], category: state.category});
    return (await getJson(`/field/nearby?${q}`)).items;
  } catch (e) { return []; }
}

async function sendReport() {
  const p = state.pin || state.here;
  if (!state.category) { $("r-msg").textContent = t("need_category"); return; }
  if (!p) { $("r-msg").textContent = t("need_position"); return; }
  if (!state.dupsSeen) {  // likely duplicates first: the worker decides
    const dups = await duplicates(p);
    state.dupsSeen = true;
    if (dups.length) {
      $("r-dups").hidden = false;
      $("r-dups").innerHTML = `<b>${t("dups")}</b><ul>` + dups.map((d) =>
        `<li>#${d.id} ${esc(t(d.category))} ${esc(d.description || "")} · ${d.metres} m</li>`).join("") + "</ul>";
      $("r-send").textContent = t("send_anyway");
      return;
    }
  }
  const body = {lon: p[0], lat: p[1], crs: "wgs84", category: state.category,
                subcategory: $("r-sub").value || null, description: $("r-desc").value || null,
                reported_at: new Date().toISOString()};
  const item = await queue.enqueue({kind: "incident", label: t(state.category), method: "POST",
                                    url: "/incidents", json: body});
  await queuePhotos($("r-photos"), "/incidents/{ref}/attachments", item.seq, "report", t(state.category));
  $("r-msg").textContent = `#${item.seq} ${t("queued")}`;
  $("r-desc").value = ""; $("r-photos").value = ""; $("r-dups").hidden = true;
  $("r-send").textContent = t("send"); state.dupsSeen = false; state.pin = null;
  showPosition();
  flushNow();
}

// -- patrol -----------------------------------------------------------------------------
async function refreshGrids() {
  try { state.grids = await getJson("/field/grids"); } catch (e) { return; }
  const features = state.grids.grids.map((g) => ({type: "Feature", geometry: g.geometry,
    properties: {code: g.code, patrolled: g.patrolled}}));
  if (map && map.getSource("mine")) map.getSource("mine").setData({type: "FeatureCollection", features});
  const open = state.grids.grids.filter((g) => !g.patrolled);
  $("unpatrolled").innerHTML = open.map((g) => `<li data-code="${g.code}">${esc(g.code)}
    <span class="muted">${esc(g.name || "")} · ${g.minutes} min</span></li>`).join("")
    || `<li>${t("all_patrolled")}</li>`;
  return features;
}

async function takeFix() {
  try {
    const pos = await locate();
    state.buffer.push({time: new Date(pos.timestamp).toISOString(), lon: pos.coords.longitude,
                       lat: pos.coords.latitude, accuracy: pos.coords.accuracy ?? null});
    state.fixes += 1;
  } catch (e) { /* no fix this time: try at the next tick */ }
  await queue.kvSet("buffer", state.buffer);
  if (state.buffer.length >= state.batchSize) await queueFixes();
  showFixes();
}

// One fix at a time: a slow GPS answer never overlaps the next tick.
function tick() {
  if (!state.taking) state.taking = takeFix().finally(() => { state.taking = null; });
  return state.taking;
}

async function queueFixes() {
  if (!state.buffer.length) return;
  const points = state.buffer.splice(0);
  await queue.kvSet("buffer", state.buffer);
  await queue.enqueue({kind: "fixes", label: `${points.length}`, method: "POST",
                       url: "/patrol/points", json: {crs: "wgs84", points}});
  flushNow();
}

function showFixes() {
  $("fix-count").textContent = String(state.fixes);
  $("fix-buffer").textContent = String(state.buffer.length);
  $("duty").textContent = t(state.onDuty ? "stop_duty" : "start_duty");
  $("duty").dataset.t = state.onDuty ? "stop_duty" : "start_duty";
}

async function toggleDuty() {
  state.onDuty = !state.onDuty;
  await queue.kvSet("onDuty", state.onDuty);
  clearInterval(state.timer);
  if (state.onDuty) {
    await tick();
    state.timer = setInterval(tick, state.intervalMs);
  } else {
    await state.taking;  // a fix asked for just before the stop belongs to this patrol
    await queueFixes();
  }
  showFixes();
}

// -- visits -----------------------------------------------------------------------------
async function refreshVisits() {
  try {
    const today = await getJson("/field/visits/today");
    $("visit-count").textContent = String(today.visits);
    $("visit-norm").textContent = String(today.norm);
  } catch (e) { /* offline: keep the last figure */ }
  queue.list().then(renderQueue);
}

async function findBuildings() {
  state.building = null;
  try { await locate(); } catch (e) { $("v-msg").textContent = t("need_position"); return; }
  let items = null;
  if (navigator.onLine) {
    try {
      const q = new URLSearchParams({lon: state.here[0], lat: state.here[1], limit: 5});
      items = (await getJson(`/field/buildings?${q}`)).items;
    } catch (e) { items = null; }
  }
  if (items === null) items = nearestKept(state.here, (await queue.kvGet("buildings")) || []);
  const rows = items.map((b) => `<li data-building="${b.id}">#${b.id} · ${b.households} ${t("households")}
      · ${b.metres} m ${b.key_households ? `<span class="tag red">${t("key_household")}</span>` : ""}</li>`);
  rows.push(`<li data-building="">${t("nearest_on_send")}</li>`);
  $("v-buildings").innerHTML = rows.join("");
  choose($("v-buildings").querySelector("li"));
}

// Offline: the nearest of my grids' buildings kept on the phone (metres on a local plane:
// exact enough within a grid).
function nearestKept(here, buildings, limit = 5, within = 300) {
  const k = 111320 * Math.cos(here[1] * Math.PI / 180);
  return buildings.map((b) => ({...b, metres: Math.round(Math.hypot((b.lon - here[0]) * k,
      (b.lat - here[1]) * 110540) * 10) / 10}))
    .filter((b) => b.metres <= within).sort((a, b) => a.metres - b.metres).slice(0, limit);
}

function choose(li) {
  for (const el of $("v-buildings").querySelectorAll("li")) el.classList.toggle("on", el === li);
  state.building = li ? li.dataset.building : null;
}

async function saveVisit() {
  if (!state.here) { $("v-msg").textContent = t("need_position"); return; }
  const body = {note: $("v-note").value || null, key_household: $("v-key").checked,
                time: new Date().toISOString()};
  if (state.building) body.building_id = Number(state.building);
  else { body.lon = state.here[0]; body.lat = state.here[1]; }
  const item = await queue.enqueue({kind: "visit", label: state.building ? `#${state.building}` : "",
                                    method: "POST", url: "/visits", json: body});
  $("v-msg").textContent = `#${item.seq} ${t("queued")}`;
  $("v-note").value = ""; $("v-key").checked = false;
  flushNow();
}

// -- my month (123456) -----------------------------------------------------------------
// The phone's own month; the server reads it in the county's zone (the same on a phone there).
function thisMonth() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

// Network first through the service worker (which keeps the last answer); the answer's own
// Date header is when the server made it, so a kept copy shows its real age. The page also
// keeps it in IndexedDB, for a phone whose service worker has not taken over yet.
async function refreshMonth() {
  const month = thisMonth();
  let kept = null;
  try {
    const response = await fetch(`/workers/assessment?month=${month}`, {credentials: "same-origin"});
    if (!response.ok) throw Object.assign(new Error(`${response.status}`), {status: response.status});
    const answer = await response.json();
    const date = response.headers.get("date");
    kept = {month, answer, fetchedAt: (date ? new Date(date) : new Date()).toISOString()};
    await queue.kvSet("month", kept);
  } catch (e) {
    kept = await queue.kvGet("month");
    if (!kept || kept.month !== month) { $("mo-msg").textContent = e.status ? `${e.message}` : t("offline"); kept = null; }
  }
  state.month = kept;
  showMonth();
}

// Each measure: label key, done, required (null: a count with no denominator).
function measures(r) {
  return [["m_patrol", r.patrol_windows_done, r.patrol_windows_required],
          ["m_key_visits", r.key_visits_done, r.key_visits_required],
          ["m_must_attend", r.must_attend_verified, r.must_attend_cases],
          ["m_must_report", r.must_report_count, null],
          ["m_visit_days", r.visit_days_ok, r.visit_days],
          ["m_report_weeks", r.report_weeks_ok, r.report_weeks]];
}

function showMonth() {
  const kept = state.month;
  if (!kept) return;
  const row = kept.answer.workers[0];
  $("mo-month").textContent = kept.month;
  $("mo-at").textContent = local(kept.fetchedAt);
  // older than a minute: the kept copy, not this moment's answer
  $("mo-stale").hidden = Date.now() - new Date(kept.fetchedAt).getTime() < 60000 && navigator.onLine;
  $("mo-msg").textContent = "";
  if (!row) { $("mo-list").innerHTML = `<li>${t("no_month")}</li>`; $("mo-stars").textContent = "";
              $("mo-notes").textContent = ""; return; }
  $("mo-list").innerHTML = measures(row).map(([key, done, required]) => {
    const figure = required === null ? `${done}` : `${done} / ${required}`;
    const cls = required === null ? "" : (done >= required ? "met" : "short");
    return `<li class="measure ${cls}" data-measure="${key.slice(2)}"><span>${t(key)}</span>
      <b>${esc(figure)}</b></li>`;
  }).join("");
  $("mo-stars").innerHTML = `<span data-t="stars">${t("stars")}</span> <span id="mo-star-count"
    data-stars="${row.stars}">${"★".repeat(row.stars)}${"☆".repeat(Math.max(0, 5 - row.stars))}</span>`;
  $("mo-notes").textContent = row.notes ? `${t("notes")}: ${row.notes}` : "";
}

// -- start ------------------------------------------------------------------------------
async function whoAmI() {
  try { return await getJson("/auth/me"); } catch (e) {
    if (e.status === 401) return null;
    return (await queue.kvGet("me")) || null;  // offline: the last known account
  }
}

async function login(event) {
  event.preventDefault();
  const response = await fetch("/auth/login", {method: "POST", credentials: "same-origin",
    body: new URLSearchParams(new FormData(event.target))});
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    $("login-error").textContent = problem.detail || "login failed";
    return;
  }
  start();
}

async function logout() {
  await fetch("/auth/logout", {method: "POST", credentials: "same-origin"}).catch(() => null);
  await queue.clearAll();
  if (window.caches) for (const name of await caches.keys()) if (name.includes("data")) await caches.delete(name);
  location.reload();
}

async function start() {
  const me = await whoAmI();
  if (!me) { $("login-view").hidden = false; $("app-view").hidden = true; return; }
  state.me = me;
  await queue.kvSet("me", me);
  $("login-view").hidden = true; $("app-view").hidden = false;
  if (!map) startMap();
  state.buffer = (await queue.kvGet("buffer")) || [];
  showFixes();
  await new Promise((resolve) => map.loaded() ? resolve() : map.once("load", resolve));
  const grids = await refreshGrids();
  if (grids && grids.length) {
    const b = bboxOf(grids);
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]], {padding: 20, duration: 0});
    if (navigator.onLine) warmTiles(b);
  }
  await refreshWork();
  await refreshVisits();
  try { await queue.kvSet("buildings", (await getJson("/field/grids/buildings")).items); } catch (e) { /* offline */ }
  if (await queue.kvGet("onDuty")) toggleDuty();  // on duty when the app was closed
  window.gridgisReady = true;
  flushNow();
}

function wire() {
  apply();
  renderCategories();
  $("lang").onclick = () => { toggleLang(); showNet(); showFixes(); refreshWork(); showMonth(); queue.list().then(renderQueue); };
  $("login").addEventListener("submit", login);
  for (const b of document.querySelectorAll("[data-tab]")) b.onclick = () => showTab(b.dataset.tab);
  $("work-list").onclick = (e) => { const li = e.target.closest("li[data-i]"); if (li) openWork(Number(li.dataset.i)); };
  $("wd-act").onclick = act;
  $("wd-extend").onclick = askExtension;
  $("cats").onclick = (e) => { const b = e.target.closest("button[data-cat]"); if (b) chooseCategory(b.dataset.cat); };
  $("r-here").onclick = () => { state.pin = null; locate().then(showPosition).catch(() => showPosition()); };
  $("r-send").onclick = sendReport;
  $("duty").onclick = toggleDuty;
  $("v-find").onclick = findBuildings;
  $("v-buildings").onclick = (e) => { const li = e.target.closest("li"); if (li) choose(li); };
  $("v-save").onclick = saveVisit;
  $("q-send").onclick = flushNow;
  $("logout").onclick = logout;
  $("queue-list").onclick = (e) => { const b = e.target.closest("button[data-dismiss]");
    if (b) queue.dismiss(Number(b.dataset.dismiss)); };
  queue.onChange(renderQueue);
  window.addEventListener("online", () => { showNet(); flushNow(); });
  window.addEventListener("offline", showNet);
  setInterval(() => { if (navigator.onLine) flushNow(); }, 30000);
  showNet();
  queue.list().then(renderQueue);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/m/sw.js", {scope: "/m/"}).catch((e) => console.warn("service worker", e));
  }
}

wire();
start();
