#!/usr/bin/env bash
# Installs what MCP Auth needs to build, run and test on Debian or Ubuntu:
# system packages (Tauri's build libraries, gnome-keyring, D-Bus, Xvfb,
# Chromium, the WebKit WebDriver, python3-venv), the npm packages of
# tests/servers, tests/browser, tests/clients, tests/conformance (the MCP
# conformance suite and the Node.js 22 it needs) and ui, and the Python venv
# of tests/servers (the Python SDK test server). Installs only what is missing, so it is safe to run again.
# Uses sudo when not root. Rust (cargo) and Node.js (node, npm) must already be
# installed (python3 comes with python3-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

for tool in cargo node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "$tool is not installed: install Rust (https://rustup.rs) and Node.js 20 or newer first"
    exit 1
  fi
done

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
    say "not root and no sudo: install the packages below by hand"; fi
fi

PACKAGES=(
  build-essential pkg-config curl file ca-certificates
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libdbus-1-dev
  xvfb xauth x11-utils imagemagick webkit2gtk-driver
  gnome-keyring libsecret-tools dbus dbus-x11 at-spi2-core libglib2.0-bin xdg-utils desktop-file-utils
  # The desktop's colour scheme as the app reads it (tests/e2e/theme.test.mjs):
  # gsettings → dconf → xdg-desktop-portal(-gtk) → org.freedesktop.appearance.
  dconf-gsettings-backend gsettings-desktop-schemas xdg-desktop-portal-gtk
  # A desktop notification server whose notifications a test can click
  # (dunstctl action): tests/e2e/notifications.test.mjs.
  dunst
  # `python3 -m venv` for tests/servers/.venv (Debian splits it out of python3).
  python3-venv
)
# Debian ships Chromium as `chromium`; Ubuntu's `chromium-browser` is a snap wrapper.
if apt-cache show chromium >/dev/null 2>&1 || ! command -v apt-cache >/dev/null; then
  PACKAGES+=(chromium)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Chromium may have been unknown before the first apt-get update.
  if ! dpkg-query -W chromium >/dev/null 2>&1 && apt-cache show chromium >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
fi

# npm projects: `npm ci` when node_modules is missing or older than the lock file.
for dir in tests/servers tests/browser tests/clients tests/conformance ui; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
done
# Python venv of tests/servers (py_server.py): made when missing, refilled when
# requirements.txt is newer than the stamp written after the last install.
venv=tests/servers/.venv
if [ ! -x "$venv/bin/python" ] || [ tests/servers/requirements.txt -nt "$venv/.requirements.stamp" ]; then
  say "python venv in $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/servers/requirements.txt
  touch "$venv/.requirements.stamp"
fi
say "everything is installed"
