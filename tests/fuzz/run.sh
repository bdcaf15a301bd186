#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang, ASan+UBSan) and runs each for SECONDS
# (default 10: the smoke run of scripts/test.sh; `tests/fuzz/run.sh 3600` is the long run).
# Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]   (targets: note keys envelope ...)
# Exit 0 when every target ran its time without a finding; 1 when one found something
# (the input is kept in build-fuzz/artifacts/); 2 for a usage or set-up error.
# Environment: FUZZ_SEED (libFuzzer's -seed; default 1 for runs under 60 s, so that the CI
# smoke repeats the same search and a red CI names a new commit, not luck; random for
# longer runs), FUZZ_JOBS (targets run at once, default: online CPUs),
# FUZZ_BUILD_DIR (default build-fuzz), SAKSI_VECTORS_DIR (default ../shared/vectors).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
shift || true
case $secs in ''|*[!0-9]*) echo "usage: tests/fuzz/run.sh [SECONDS] [TARGET...]" >&2; exit 2;; esac
dir=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
if [ -n "${FUZZ_SEED:-}" ]; then seed_opt=(-seed="$FUZZ_SEED")
elif [ "$secs" -lt 60 ]; then seed_opt=(-seed=1)
else seed_opt=()
fi

# clang 14 with its libFuzzer/sanitizer runtimes and llvm-symbolizer (Debian 12); only
# installed when missing, as scripts/deps.sh does for the rest.
pkgs=(clang libclang-rt-14-dev llvm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fuzz: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DSAKSI_FUZZ=ON -DSAKSI_SANITIZE=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" --target fuzz -j "$(nproc)"
tests/fuzz/seed.sh

if (($#)); then
  targets=("$@")
else
  mapfile -t targets < <(sed -n 's/^fuzz_//p' "$dir/fuzz-targets.txt")
fi
((${#targets[@]})) || { echo "fuzz: no target built" >&2; exit 2; }

# The largest input worth trying per target: a little over the format's own cap, so
# that the "too large" paths are reached too.
max_len() {
  case $1 in
    note) echo 24576 ;;                 # SAKSI_TLOG_PROOF_MAX is 20480
    envelope|ledger|schema) echo 66000 ;; # SAKSI_ENV_MAX, SAKSI_LEAF_MAX, SAKSI_PAYLOAD_MAX
    submit) echo 140000 ;;              # two items of the largest envelope
    bundle) echo 65536 ;;               # a few entries with leaves and proofs
    *) echo 16384 ;;
  esac
}

mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/logs"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || true)}

run_one() {
  local t=$1 bin="$dir/tests/fuzz/fuzz_$1"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $t was not built" > "$dir/logs/$t.log"
    echo 2 > "$dir/logs/$t.rc"
    return
  fi
  mkdir -p "$dir/corpus/$t" "tests/fuzz/corpus/$t"
  # New inputs go to the first corpus dir (build-fuzz/corpus/T, kept between runs); the
  # seeds in tests/fuzz/corpus/T are only read.
  local rc=0
  "$bin" "${seed_opt[@]}" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/$t-" \
    "$dir/corpus/$t" "tests/fuzz/corpus/$t" > "$dir/logs/$t.log" 2>&1 || rc=$?
  echo "$rc" > "$dir/logs/$t.rc"
}

for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  echo "fuzz: $t for ${secs}s"
  rm -f "$dir/logs/$t.rc"
  run_one "$t" &
done
wait

pass=0 fail=0
for t in "${targets[@]}"; do
  if [ "$(cat "$dir/logs/$t.rc" 2>/dev/null)" = 0 ]; then
    pass=$((pass + 1))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/logs/$t.log")
    cov=$(grep -o 'cov: [0-9]*' "$dir/logs/$t.log" | tail -1)
    echo "fuzz: $t ok (${runs:-?} runs, ${cov:-cov: ?})"
  else
    fail=$((fail + 1))
    echo "fuzz: $t FAILED; log: $dir/logs/$t.log; inputs: $dir/artifacts/$t-*"
    grep -E "ERROR|SUMMARY|property failed|runtime error|Test unit written" \
      "$dir/logs/$t.log" | head -20 || tail -20 "$dir/logs/$t.log"
  fi
done
# Not in ctest's "N passed, N failed" form: the suite's count stays ctest's.
if ((fail == 0)); then
  echo "fuzz: all $pass targets ran ${secs}s each without a finding"
else
  echo "fuzz: $fail of $((pass + fail)) targets found something (see above)"
fi
((fail == 0))
