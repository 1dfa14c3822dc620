// The resident's report page: a pin on our own base map (public outline tiles from this
// server; nothing is fetched from outside), or the phone's position; likely duplicates
// nearby; the report sent once (an Idempotency-Key per filled form, so a double tap or a
// retry after a lost answer never makes two reports); the tracking code shown.
const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
let pin = null;
let sendKey = newKey();

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)),
                    (b) => b.toString(16).padStart(2, "0")).join("");
}

const map = new maplibregl.Map({
  container: "map", bounds: config.bounds, fitBoundsOptions: {padding: 10},
  attributionControl: false, fadeDuration: 0,
  style: {version: 8, sources: {base: {type: "vector", maxzoom: 16,
    tiles: [`${window.location.origin}/report/tiles/{z}/{x}/{y}`]}},
  layers: [
    {id: "background", type: "background", paint: {"background-color": "#f4f1ea"}},
    {id: "buildings", type: "fill", source: "base", "source-layer": "buildings",
     paint: {"fill-color": "#d9d0c1", "fill-outline-color": "#b5a993"}},
    {id: "roads", type: "line", source: "base", "source-layer": "roads",
     paint: {"line-color": "#ffffff", "line-width": ["match", ["get", "class"],
             "primary", 5, "secondary", 4, "tertiary", 3, 2]}},
    {id: "grids", type: "line", source: "base", "source-layer": "grids",
     paint: {"line-color": "#8aa9c8", "line-width": 1}},
    {id: "admin", type: "line", source: "base", "source-layer": "admin_units",
     paint: {"line-color": "#6c5b7b", "line-width": ["match", ["get", "level"], "county", 3, 1],
             "line-dasharray": [3, 2]}},
  ]},
});
window.reportMap = map;  // for tests and the browser console
map.addControl(new maplibregl.NavigationControl({showCompass: false}), "top-left");
const marker = new maplibregl.Marker({draggable: true, color: "#c0392b"});

function setPin(lon, lat) {
  pin = {lon, lat};
  marker.setLngLat([lon, lat]).addTo(map);
  $("pin-text").textContent = `位置 Place: ${lat.toFixed(5)}, ${lon.toFixed(5)}`;
  sendKey = newKey();  // another report
  checkNearby();
}

map.on("click", (e) => setPin(e.lngLat.lng, e.lngLat.lat));
marker.on("dragend", () => { const p = marker.getLngLat(); setPin(p.lng, p.lat); });
$("locate").addEventListener("click", () => {
  if (!navigator.geolocation) return showError("此设备不能定位 This device cannot locate itself");
  navigator.geolocation.getCurrentPosition((pos) => {
    setPin(pos.coords.longitude, pos.coords.latitude);  // WGS 84 from the phone
    map.jumpTo({center: [pin.lon, pin.lat], zoom: Math.max(map.getZoom(), 16)});
  }, (err) => showError(`定位失败 Could not get your position: ${err.message}`),
  {enableHighAccuracy: true, timeout: 15000});
});
$("category").addEventListener("change", () => { sendKey = newKey(); checkNearby(); });

function esc(v) {
  return String(v ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                                       '"': "&quot;"}[c]));
}

let asked = 0;  // answers may arrive out of order: only the latest question counts
async function checkNearby() {
  if (!pin) return;
  const mine = ++asked;
  const q = new URLSearchParams({lon: pin.lon, lat: pin.lat, category: $("category").value});
  const response = await fetch(`/report/nearby?${q}`);
  if (!response.ok || mine !== asked) return;
  const found = (await response.json()).items;
  if (mine !== asked) return;
  $("nearby").hidden = found.length === 0;
  $("nearby-list").innerHTML = found.map((n) =>
    `<li>${esc(n.status)} · ${esc(n.reported_at.slice(0, 16).replace("T", " "))} · ` +
    `${Math.round(n.distance_m)} m</li>`).join("");
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

$("report-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("error").hidden = true;
  if (!pin) return showError("请先在地图上选择位置 Please choose the place on the map first");
  const form = new FormData();
  form.set("lon", pin.lon);
  form.set("lat", pin.lat);
  form.set("category", $("category").value);
  if ($("description").value.trim()) form.set("description", $("description").value.trim());
  if ($("phone").value.trim()) form.set("phone", $("phone").value.trim());
  const photo = $("photo").files[0];
  if (photo) {
    if (photo.size > config.maxPhotoMb * 1024 * 1024) {
      return showError(`照片过大 The photo is larger than ${config.maxPhotoMb} MB`);
    }
    form.set("photo", photo);
  }
  $("submit").disabled = true;
  try {
    const response = await fetch("/report", {method: "POST", body: form,
                                             headers: {"Idempotency-Key": sendKey}});
    const body = await response.json();
    if (!response.ok) {
      const wait = response.headers.get("Retry-After");
      return showError(`${body.detail || body.title}` + (wait ? ` (${wait} s)` : ""));
    }
    $("code").textContent = body.code;
    $("code-link").href = body.status_url;
    $("result").hidden = false;
    $("report-form").hidden = true;
    window.reportCode = body.code;
  } catch (error) {
    showError(`发送失败，请重试 Not sent, please try again: ${error}`);
  } finally {
    $("submit").disabled = false;
  }
});
window.reportReady = true;
