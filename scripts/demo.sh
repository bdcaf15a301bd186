#!/usr/bin/env bash
# The main job: installs what is missing, builds, sets up a fresh appliance state under
# demo/, starts saksid on its default config, feeds it a simulated branch day (with broker
# scenarios and honest look-alikes) from several producers, then verifies the ledger the way
# an ombudsman would: with nothing but the log's verifier key and the producers' keyring.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
SAKSI_SKIP_SANITIZE=1 BUILD_DIR=build scripts/build.sh
bin=$PWD/build
state=$PWD/demo/state
rm -rf demo && mkdir -p demo

echo "== 1. a fresh appliance: log, disclosure and storage keys, config, keyring"
"$bin/saksi" init --dir "$state" --origin saksi.example/kc-makassar
echo "== 2. producers (web portal, app, kiosk, counter, partner HR, registry) get keys"
"$bin/saksi" simulate --state "$state" --register-only
"$bin/saksi" keyring list -r "$state/keyring.json"

echo "== 3. saksid starts"
"$bin/saksid" -c "$state/saksid.conf" 2>demo/saksid.log &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
url=$(sed -n 's/^listen *= *\(ipc:.*\)$/\1/p' "$state/saksid.conf" | sed -n 1p)
# Up to 60 s (a loaded machine), and at once if saksid exited.
for _ in $(seq 600); do
  "$bin/saksi" checkpoint --url "$url" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { echo "saksid exited: demo/saksid.log says why" >&2; cat demo/saksid.log >&2; exit 1; }
  sleep 0.1
done

# The detectors' alerts, live: saksid publishes each one once its commit is durable.
aurl=$(sed -n 's/^alerts_listen *= *\(.*\)$/\1/p' "$state/saksid.conf" | sed -n 1p)
"$bin/saksi" alerts follow --url "$aurl" >demo/alerts.log 2>demo/alerts.err &
fpid=$!
trap 'kill $pid $fpid 2>/dev/null || true' EXIT
# PUB keeps nothing for a subscriber not yet connected: wait until it is.
for _ in $(seq 600); do
  grep -q "following alerts" demo/alerts.err 2>/dev/null && break
  sleep 0.1
done

echo "== 4. a branch day: bookings, check-ins, calls, claims, documents, payments, brokers"
"$bin/saksi" simulate --url "$url" --state "$state" --branches 1 --days 1 --seed 20260624 \
  --brokers medium --truth demo/truth.json --evaluate

echo "== 5. the latest signed checkpoint"
"$bin/saksi" checkpoint --url "$url"
kill -TERM $pid && wait $pid || true
kill -TERM $fpid 2>/dev/null && wait $fpid 2>/dev/null || true
trap - EXIT
echo "   saksid log: demo/saksid.log"

echo "== 5b. alerts as they were published (saksi alerts follow, demo/alerts.log)"
cat demo/alerts.log
echo "== 5c. the same alerts as ledger entries, each covered by a signed checkpoint"
"$bin/saksi" alerts list --ledger "$state/ledger"
echo "== 5d. the deployed rules replayed over the ledger: the same alerts, byte for byte"
"$bin/saksi" replay --config "$state/saksid.conf" --check --quiet

echo "== 6. an ombudsman verifies the whole ledger with public keys only"
"$bin/saksi" verify --ledger "$state/ledger" --vkey "$(cat "$state/log.vkey")" \
  --keyring "$state/keyring.json" --progress

echo "== 7. the supervisory unit's report of the days around it (HTML, no personal value)"
# The simulated service day from the truth file; bookings open three days before it and
# payments follow up to two days after. KC-MAKASSAR keeps WITA time (UTC+8).
day=$(sed -n 's/.*"days": *\["\([0-9-]*\)".*/\1/p' demo/truth.json | sed -n 1p)
"$bin/saksi" report --config "$state/saksid.conf" --since "$(date -u -d "$day -4 days" +%F)" \
  --until "$(date -u -d "$day +3 days" +%F)" --utc-offset +08:00 -o demo/report.html
echo "   report: $PWD/demo/report.html (open it in a browser)"
if command -v chromium >/dev/null; then
  scripts/report-screenshot.sh demo/report.html demo/report.png
fi
