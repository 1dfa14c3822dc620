#!/usr/bin/env bash
# Install the JavaScript/CSS that the web pages and `gridgis map` serve or inline, from
# the npm registry, into api/static/vendor/ (git-ignored). Nothing is loaded from a CDN
# at run time: the pages must work on government intranets with no internet.
#   maplibre-gl  -> the dispatcher page (/map)
#   leaflet      -> the self-contained HTML written by `gridgis map` (folium)
#   idb          -> the grid worker's app (/m): its offline queue in IndexedDB (an ES module)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/api/static/vendor}"
MAPLIBRE="${MAPLIBRE_VERSION:-4}"
LEAFLET="${LEAFLET_VERSION:-1.9}"
IDB="${IDB_VERSION:-8}"

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required (apt-get install -y npm)" >&2
  exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
# npm's own errors go to stderr (a proxy or certificate problem must be visible).
if ! npm install --prefix "$TMP" --no-audit --no-fund --loglevel=error \
  "maplibre-gl@$MAPLIBRE" "leaflet@$LEAFLET" "idb@$IDB" >/dev/null; then
  echo "could not install the web assets from the npm registry (see npm's error above)" >&2
  exit 1
fi

mkdir -p "$DEST"
cp "$TMP/node_modules/maplibre-gl/dist/maplibre-gl.js" \
   "$TMP/node_modules/maplibre-gl/dist/maplibre-gl.css" \
   "$TMP/node_modules/leaflet/dist/leaflet.js" \
   "$TMP/node_modules/leaflet/dist/leaflet.css" "$DEST/"
cp "$TMP/node_modules/maplibre-gl/LICENSE.txt" "$DEST/maplibre-gl.LICENSE.txt"
cp "$TMP/node_modules/leaflet/LICENSE" "$DEST/leaflet.LICENSE.txt"
# idb's build/index.js is one self-contained ES module (no imports): served as is.
cp "$TMP/node_modules/idb/build/index.js" "$DEST/idb.js"
cp "$TMP/node_modules/idb/LICENSE" "$DEST/idb.LICENSE.txt"
echo "web assets installed in $DEST: $(cd "$DEST" && ls | tr '\n' ' ')"
