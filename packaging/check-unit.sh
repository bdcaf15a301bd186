#!/usr/bin/env bash
# Rates packaging/saksid.service (or the unit file given) with systemd's own exposure
# score and fails above the limit (default 2.0, systemd's "OK"), so that no change to
# the unit can weaken the sandbox unnoticed. Needs systemd-analyze (Debian: systemd).
set -euo pipefail
unit=${1:-"$(dirname "$0")/saksid.service"}
limit=${SAKSI_UNIT_MAX_EXPOSURE:-2.0}

if ! command -v systemd-analyze >/dev/null; then
  echo "check-unit: systemd-analyze is missing; install it: apt-get install systemd" >&2
  exit 2
fi
# --threshold would do the comparison too, but it exits 1 for any failure; parsing the
# score lets this script say what it measured.
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || true
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
if [ -z "$score" ]; then
  printf '%s\n' "$out" >&2
  echo "check-unit: systemd-analyze gave no exposure score for $unit" >&2
  exit 2
fi
printf '%s\n' "$out" | grep -F '✗' || true
echo "check-unit: $(basename "$unit") exposure $score (limit $limit)"
if awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
  echo "check-unit: FAIL: exposure $score is above $limit; see the ✗ lines above" >&2
  exit 1
fi
