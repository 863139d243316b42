#!/usr/bin/env bash
# Installs the Debian 12 packages mantle needs, and only those that are missing.
# Called by scripts/run.sh and scripts/test.sh, so a fresh machine needs nothing else.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libcurl4-openssl-dev libssl-dev libjansson-dev libcmocka-dev libmicrohttpd-dev
  python3 python3-botocore awscli openssl locales
)
[ "${MANTLE_DEPS_EXTRA:-}" ] && packages+=(${MANTLE_DEPS_EXTRA})

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "mantle: installing missing packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "mantle: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
