#!/usr/bin/env bash
# Renders a saksi report (one self-contained HTML file) to a PNG with headless Chromium,
# for a person who wants a picture of it: scripts/report-screenshot.sh report.html out.png
# [WIDTHxHEIGHT]. Debian's chromium package; a throw-away profile, removed afterwards.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 report.html out.png [WIDTHxHEIGHT, default 1280x9000: the whole report]" >&2
  exit 2
fi
in=$1 out=$2 size=${3:-1280x9000}
[ -r "$in" ] || { echo "$0: cannot read $in" >&2; exit 2; }
case $size in *x*) ;; *) echo "$0: size is WIDTHxHEIGHT" >&2; exit 2 ;; esac
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "$0: chromium is not installed (apt-get install chromium)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs_in=$(realpath "$in")
case $out in /*) abs_out=$out ;; *) abs_out=$PWD/$out ;; esac
# As root Chromium refuses to run with its sandbox; the page is our own file, no network.
sandbox=()
[ "$(id -u)" = 0 ] && sandbox=(--no-sandbox)
timeout 120 "$chromium" --headless "${sandbox[@]}" --disable-gpu --disable-dev-shm-usage \
  --user-data-dir="$profile" --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$abs_out" "file://$abs_in" >/dev/null 2>&1
if ! head -c 8 "$abs_out" 2>/dev/null | grep -q PNG; then
  echo "$0: chromium made no PNG" >&2
  exit 1
fi
echo "screenshot: $out"
