// The grid worker's app offline: the app shell is kept at install; base-map tiles and the
// worker's own readings (my grids, my work, today's visits, my month, who am I) are kept as they
// pass, and answered from the cache when there is no connection. Writes are never
// touched here: the page queues them in IndexedDB and sends them itself (queue.js).
const SHELL_CACHE = "gridgis-m-shell-v1";
const TILE_CACHE = "gridgis-m-tiles-v1";
const DATA_CACHE = "gridgis-m-data-v1";
const SHELL = ["/m/", "/m/manifest.webmanifest", "/static/m/app.js", "/static/m/queue.js",
  "/static/m/i18n.js", "/static/m/m.css", "/static/m/icon.svg", "/static/m/icon-192.png",
  "/static/vendor/maplibre-gl.js", "/static/vendor/maplibre-gl.css", "/static/vendor/idb.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  const keep = [SHELL_CACHE, TILE_CACHE, DATA_CACHE];
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => !keep.includes(n)).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// Network first, the cache when the network fails (and the cache refreshed on success).
async function networkFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) cache.put(request, response.clone());
    return response;
  } catch (err) {
    const kept = await cache.match(request, {ignoreVary: true});
    if (kept) return kept;
    throw err;
  }
}

// Tiles: the kept copy at once when there is one (refreshed behind), else the network.
async function tileFirst(request) {
  const cache = await caches.open(TILE_CACHE);
  const kept = await cache.match(request);
  const fresh = fetch(request).then((response) => {
    if (response.ok) cache.put(request, response.clone());
    return response;
  });
  if (kept) { fresh.catch(() => null); return kept; }
  return fresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (path.startsWith("/tiles/")) { event.respondWith(tileFirst(request)); return; }
  if (path.startsWith("/field/") || path === "/auth/me" || path === "/workers/assessment") {
    event.respondWith(networkFirst(request, DATA_CACHE)); return;
  }
  if (path === "/m/" || path === "/m" || SHELL.includes(path)) {
    event.respondWith(networkFirst(request, SHELL_CACHE));
  }
});
