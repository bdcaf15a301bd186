# tap.sh: the test lines packaging/test-deb.sh and test-deb-root.sh print ("ok - ...",
# "not ok - ...", then "N passed, N failed"), in one place. Sourced, never run; bash.
npass=0
nfail=0
ok() { npass=$((npass + 1)); echo "ok - $*"; }
bad() { nfail=$((nfail + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: one test line per check, the command's output on failure.
check() {
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then
    ok "$desc"
  else
    bad "$desc"
    [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/#   /'
  fi
}
# The last line, and the exit status: 0 only if nothing failed.
finish() {
  echo "$npass passed, $nfail failed"
  [ "$nfail" -eq 0 ]
}
