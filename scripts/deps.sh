#!/usr/bin/env bash
# Installs the Debian 12 packages saksi needs, and only if something is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsodium-dev liblmdb-dev lmdb-utils libzstd-dev
      libnanomsg-dev libjansson-dev libseccomp-dev libcmocka-dev
      golang-go golang-golang-x-mod-dev python3-jsonschema
      chromium)  # chromium: tests/report_cli_test.c renders saksi report's HTML
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
