#!/usr/bin/env bash
# Install whatever is missing for gridgis on Debian/Ubuntu, as root or not (then via sudo):
# Python >= 3.11 with venv, PostgreSQL + PostGIS, Node.js/npm (web assets are installed
# locally, never loaded from a CDN), and with --test Chromium for the browser tests.
# Then create .venv and install gridgis into it. Safe to run again: it only adds what lacks.
set -euo pipefail
cd "$(dirname "$0")/.."
WANT_TEST=0
[ "${1:-}" = "--test" ] && WANT_TEST=1

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="__none__"; fi
fi

APT_UPDATED=0
apt_update() {
  if [ "$APT_UPDATED" -eq 0 ] && [ "$SUDO" != "__none__" ] && command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update -qq || true
    APT_UPDATED=1
  fi
}
apt_install() {
  [ "$#" -eq 0 ] && return 0
  if [ "$SUDO" = "__none__" ]; then
    say "missing system packages: $* — install them as root (apt-get install $*) and re-run"
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "not a Debian/Ubuntu system: please install $* with your package manager"; exit 1
  fi
  say "installing system packages: $*"
  apt_update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pick_python() {
  for p in python3.13 python3.12 python3.11 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "$p"; return 0
    fi
  done
  return 1
}

# --- Python >= 3.11 with venv ---------------------------------------------------------
PY=$(pick_python || true)
if [ -z "$PY" ]; then apt_install python3.11 python3.11-venv; PY=python3.11; fi
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  apt_install "python${ver}-venv" || apt_install python3-venv
fi

# --- PostgreSQL + PostGIS ------------------------------------------------------------
have_postgis() { ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 \
                 && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
if [ -z "${GRIDGIS_DATABASE_URL:-}" ] && ! have_postgis; then
  pgver=""
  for d in /usr/lib/postgresql/*/bin/pg_ctl; do [ -e "$d" ] && pgver=$(basename "$(dirname "$(dirname "$d")")"); done
  if [ -z "$pgver" ]; then
    apt_update
    pgver=$(apt-cache depends postgresql 2>/dev/null | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n1)
  fi
  [ -n "$pgver" ] || { say "cannot find a PostgreSQL version in apt"; exit 1; }
  say "PostGIS missing: installing PostgreSQL $pgver with PostGIS 3 from the OS packages"
  apt_install "postgresql-$pgver" "postgresql-$pgver-postgis-3"
fi

# --- Pango and CJK fonts: the monthly report's PDF (WeasyPrint) and Chinese in maps ---
# (read into variables: 'cmd | grep -q' fails under pipefail when grep stops reading early)
libs=$(ldconfig -p 2>/dev/null || true)
fonts=$(fc-list 2>/dev/null || true)
if [[ "$libs" != *libpangoft2-1.0* || "${fonts,,}" != *"noto sans cjk"* ]]; then
  apt_install libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk fontconfig
fi

# --- Node.js/npm: only to install the web page's JavaScript at setup ----------------
if ! command -v npm >/dev/null 2>&1; then apt_install nodejs npm; fi

# --- Chromium for the browser tests -------------------------------------------------
if [ "$WANT_TEST" -eq 1 ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  apt_install chromium chromium-driver
fi

# --- the virtual environment ---------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY"
  "$PY" -m venv .venv
fi
# Exactly the versions in lock/requirements.txt (runtime + test extra + build backend, every
# file hashed; `scripts/lock` refreshes it), then gridgis itself as an editable install with
# no dependency resolution of its own. Re-installed whenever the lock, pyproject.toml or the
# interpreter changes; packages the lock no longer names are removed.
lock="lock/requirements.txt"
stamp=".venv/.gridgis-installed"
want="$(cat "$lock" pyproject.toml | sha256sum | cut -c1-16)-$(.venv/bin/python -c 'import sys; print(sys.version.split()[0])')"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing the locked dependencies ($lock) and gridgis into .venv"
  .venv/bin/python -m pip install -q --require-hashes -r "$lock"
  .venv/bin/python scripts/lock_check.py "$lock" --prune >/dev/null
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi

# --- web assets (MapLibre GL JS etc.) into api/static/vendor -------------------------
if [ -x scripts/install-web-assets.sh ]; then scripts/install-web-assets.sh; fi
say "ready"
