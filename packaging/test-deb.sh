#!/usr/bin/env bash
# test-deb.sh: checks the saksi Debian package the way dpkg and an operator will meet it.
#   packaging/test-deb.sh [PKG.deb]      (default: build it with packaging/build-deb.sh)
# Quick part (CI, no network, a few seconds): control fields and computed Depends,
# conffiles, maintainer scripts, the file list with owners and modes, the man pages, the
# unit (syntax and systemd-analyze exposure <= 2.0), hardened and stripped binaries, and
# the packaged config driving the packaged binaries end to end (init, submit, verify).
# Opt-in SAKSI_DEB_ROOT_TEST=1 (root, the Debian mirror, a few minutes): debootstrap a
# fresh Debian root, install the .deb there with apt (so Depends must be right), check
# the user, directories, statoverrides, conffile and unit, run the operator's first start
# from saksid(8) as user saksi, then remove, purge (ledger and keys must survive) and
# reinstall. SAKSI_DEB_ROOT_KEEP=1 keeps that root for a look.
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

deb=${1:-}
if [ -z "$deb" ]; then
  deb=$(packaging/build-deb.sh)
fi
deb=$(realpath "$deb")

# ok, bad, check DESCRIPTION COMMAND..., finish.
. packaging/tap.sh

# The tools the checks use, installed if missing (Debian package names).
need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v strace >/dev/null || need+=(strace)
command -v groff >/dev/null || need+=(groff-base)
command -v readelf >/dev/null || need+=(binutils)
if ((${#need[@]})); then
  echo "test-deb: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

tmp=$(mktemp -d /tmp/saksi-deb.XXXXXX)
daemon_pid=
cleanup() {
  [ -z "$daemon_pid" ] || kill "$daemon_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# What the tree builds decides what the package must hold: once daemon/main.c and cli/
# exist, a package without the programs is broken, not early.
want_saksid=0; [ -f daemon/main.c ] && want_saksid=1
want_saksi=0; compgen -G 'cli/*.c' >/dev/null && want_saksi=1

echo "# $deb"
dpkg-deb -I "$deb" >"$tmp/info"
dpkg-deb -c "$deb" >"$tmp/list"
# "MODE OWNER PATH" per entry, path without the leading "."
awk '{ p = $6; sub(/^\./, "", p); print $1, $2, p }' "$tmp/list" >"$tmp/files"
mkdir "$tmp/ctl" "$tmp/x"
dpkg-deb -e "$deb" "$tmp/ctl"
dpkg-deb -x "$deb" "$tmp/x"
x=$tmp/x
field() { dpkg-deb -f "$deb" "$1"; }
has_file() { grep -qE "^$2 root/root $1\$" "$tmp/files"; }

## Control fields
check "Package is saksi" test "$(field Package)" = saksi
version=$(sed -n 's/^project(saksi VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
check "Version is the project's ($version-1)" test "$(field Version)" = "$version-1"
check "Architecture is this machine's" test "$(field Architecture)" = "$(dpkg --print-architecture)"
check "Section admin, Priority optional" test "$(field Section)/$(field Priority)" = admin/optional
check "Maintainer is set" test -n "$(field Maintainer)"
check "Description has a summary and a body" test "$(field Description | wc -l)" -gt 3
depends=$(field Depends)
echo "# Depends: $depends"
check "Depends on adduser (postinst needs it)" grep -qE '(^|, )adduser($|[ ,])' <<<"$depends"

## Binaries: present, hardened, stripped, and every library they need is in Depends
for b in usr/sbin/saksid usr/bin/saksi; do
  name=${b##*/}
  want=$want_saksi; [ "$name" = saksid ] && want=$want_saksid
  if [ "$want" = 0 ] && ! has_file "/$b" '-rwxr-xr-x'; then
    echo "# skip: /$b (not in this tree yet)"
    continue
  fi
  check "/$b is in the package, root-owned, 0755" has_file "/$b" '-rwxr-xr-x'
  [ -f "$x/$b" ] || continue
  check "/$b is PIE" sh -c "readelf -h '$x/$b' | grep -q 'Type:.*DYN'"
  check "/$b has full RELRO (BIND_NOW)" sh -c "readelf -lW '$x/$b' | grep -q GNU_RELRO && readelf -dW '$x/$b' | grep -qE 'BIND_NOW|FLAGS_1.*NOW'"
  check "/$b has a stack protector" sh -c "readelf -sW --dyn-syms '$x/$b' | grep -q __stack_chk_fail"
  check "/$b is stripped" sh -c "! readelf -SW '$x/$b' | grep -qE ' \\.(symtab|debug_info) '"
  for lib in $(readelf -dW "$x/$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !f { print $NF; f = 1 }')
    # dpkg knows a library by the path its package ships, /lib or /usr/lib (merged /usr).
    pkg=
    for p in "$path" "/usr${path#/usr}" "${path#/usr}"; do
      pkg=$(dpkg -S "$p" 2>/dev/null | sed -n '1s/:.*//p') && [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then
      bad "/$b: no package owns $lib ($path)"
      continue
    fi
    check "/$b needs $lib: Depends names $pkg" grep -qE "(^|, )$pkg( |,|\$)" <<<"$depends"
  done
done
if [ -x "$x/usr/bin/saksi" ]; then
  check "saksi --version prints $version" test "$("$x/usr/bin/saksi" --version)" = "saksi $version"
  check "saksi with no command: usage, exit 2" sh -c "'$x/usr/bin/saksi' >/dev/null 2>&1; test \$? = 2"
fi
if [ -x "$x/usr/sbin/saksid" ]; then
  check "saksid with no -c: usage, exit 1" sh -c "'$x/usr/sbin/saksid' 2>&1 | grep -q usage; '$x/usr/sbin/saksid' 2>/dev/null; test \$? = 1"
fi

## Files
check "every file is owned by root/root" sh -c "! grep -v ' root/root ' '$tmp/files'"
check "/etc/saksi/saksid.conf, 0644" has_file /etc/saksi/saksid.conf '-rw-r--r--'
check "/etc/saksi/keys/, 0750 (postinst hands it to saksi)" has_file /etc/saksi/keys/ 'drwxr-x---'
check "/var/lib/saksi/, 0700" has_file /var/lib/saksi/ 'drwx------'
check "/lib/systemd/system/saksid.service, 0644" has_file /lib/systemd/system/saksid.service '-rw-r--r--'
check "man page saksid.8.gz" has_file /usr/share/man/man8/saksid.8.gz '-rw-r--r--'
check "man page saksi.1.gz" has_file /usr/share/man/man1/saksi.1.gz '-rw-r--r--'
for d in README.md FORMATS.md; do
  check "doc $d" has_file "/usr/share/doc/saksi/$d" '-rw-r--r--'
done
for s in schemas/events/*.json; do
  check "schema ${s##*/} shipped unchanged" cmp "$s" "$x/usr/share/saksi/schemas/events/${s##*/}"
done
check "no schema beyond the tree's" test "$(ls "$x/usr/share/saksi/schemas/events" | wc -l)" = "$(ls schemas/events/*.json | wc -l)"
check "default rules shipped unchanged" cmp schemas/rules/default.rules "$x/usr/share/saksi/schemas/rules/default.rules"
check "no key material in the package" sh -c "! grep -E '\\.(key|pub|vkey)\$|keyring\\.json\$' '$tmp/files'"
check "/etc/saksi/keys is empty in the package" sh -c "! grep -E '^[^ ]+ [^ ]+ /etc/saksi/keys/.' '$tmp/files'"
check "nothing from the build tree (tests, benches, libsaksi.a)" sh -c "! grep -E '_test\$|bench_|\\.a\$|/include/' '$tmp/files'"
check "no build path baked into the config or unit" sh -c "! grep -r '$src' '$x/etc' '$x/lib'"

## conffiles and maintainer scripts
check "conffiles is exactly /etc/saksi/saksid.conf" test "$(cat "$tmp/ctl/conffiles")" = /etc/saksi/saksid.conf
for s in postinst prerm postrm; do
  check "$s is 0755 and valid sh" sh -c "test -x '$tmp/ctl/$s' && sh -n '$tmp/ctl/$s'"
done
# With backslash-continued lines joined, so the check reads the command as sh runs it.
joined() { sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' "$1"; }
adds_user() { joined "$tmp/ctl/postinst" | grep -E 'adduser .*--system --group --home /var/lib/saksi .*saksi$' >/dev/null; }
check "postinst creates the system user saksi with home /var/lib/saksi" adds_user
check "postinst gives /etc/saksi/keys to saksi, 0750" grep -q 'dpkg-statoverride --update --add saksi saksi 0750 /etc/saksi/keys' "$tmp/ctl/postinst"
check "postinst gives /var/lib/saksi to saksi, 0700" grep -q 'dpkg-statoverride --update --add saksi saksi 0700 /var/lib/saksi' "$tmp/ctl/postinst"
for s in postinst prerm postrm; do
  check "$s makes no keys (no saksi init/keygen)" sh -c "! { sed 's/#.*//' '$tmp/ctl/$s' | grep -qE 'saksi +(init|keygen)|sodium|openssl'; }"
  check "$s never deletes the ledger or the keys" sh -c "! { sed 's/#.*//' '$tmp/ctl/$s' | grep -qE 'rm .*(/var/lib/saksi|/etc/saksi/keys)'; }"
done
check "postinst does not start saksid on first install" sh -c "! { sed 's/#.*//' '$tmp/ctl/postinst' | grep -qE 'systemctl (start|enable|restart)|deb-systemd-invoke start|deb-systemd-helper enable'; }"

## Man pages
for m in usr/share/man/man8/saksid.8.gz usr/share/man/man1/saksi.1.gz; do
  check "${m##*/} renders without groff warnings" sh -c "zcat '$x/$m' | LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z 2>&1 | { ! grep .; }"
  check "${m##*/} has NAME, SYNOPSIS, FILES, EXIT STATUS" sh -c "z=\$(zcat '$x/$m'); for s in NAME SYNOPSIS FILES 'EXIT STATUS'; do printf '%s\n' \"\$z\" | grep -q \"^\\.SH \\\"\\?\$s\" || exit 1; done"
done
if [ -x "$x/usr/bin/saksi" ]; then
  # Every command that saksi --help lists has a section in saksi.1.
  # Candidates from the help's indented lines; saksi itself says which are commands.
  for c in $("$x/usr/bin/saksi" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u); do
    case $("$x/usr/bin/saksi" "$c" </dev/null 2>&1 || true) in *"unknown command"*) continue ;; esac
    check "saksi.1 documents '$c'" sh -c "zcat '$x/usr/share/man/man1/saksi.1.gz' | sed 's/\\\\-/-/g' | grep -qE '^\\.B $c( |\$)'"
  done
fi
# Every option the programs name in their help and usage lines is in their man page.
if [ -x "$x/usr/bin/saksi" ]; then
  for o in $("$x/usr/bin/saksi" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    check "saksi.1 documents $o" sh -c "zcat '$x/usr/share/man/man1/saksi.1.gz' | sed 's/\\\\-/-/g' | grep -q -- '$o'"
  done
fi
if [ -x "$x/usr/sbin/saksid" ]; then
  for o in $("$x/usr/sbin/saksid" 2>&1 | grep -oE -- '-[a-z]' | sort -u); do
    check "saksid.8 documents $o" sh -c "zcat '$x/usr/share/man/man8/saksid.8.gz' | grep -qE '^\\.B(I)? \\\\$o( |\$)'"
  done
fi

## The unit
# The system calls a unit's SystemCallFilter= lines allow: the groups named without ~,
# expanded by systemd itself, less those named with ~, line after line (later lines
# win, as in systemd).
expand_syscalls() {
  local n
  for n in "$@"; do
    case $n in
      @*) systemd-analyze syscall-filter --no-pager "$n" | sed '1d; s/^ *//; /^#/d; /^$/d' |
            while read -r m; do expand_syscalls "$m"; done ;;
      *) echo "$n" ;;
    esac
  done
}
unit_syscalls() {
  local v set
  set=$(mktemp)
  # In order: a line without ~ adds its calls, one with ~ takes them away, so a later
  # line can give back one call of a group an earlier one denied (as systemd merges
  # them, the first line being an allow list).
  while read -r v; do
    case $v in
      '~'*) v=${v#\~}
            comm -23 "$set" <(expand_syscalls $v | sort -u) >"$set.new" ;;
      *) sort -u "$set" <(expand_syscalls $v) >"$set.new" ;;
    esac
    mv "$set.new" "$set"
  done < <(sed -n 's/^SystemCallFilter=//p' "$1")
  cat "$set"
  rm -f "$set"
}
unit=$x/lib/systemd/system/saksid.service
check "the packaged unit is packaging/saksid.service" cmp "$unit" packaging/saksid.service
# verify checks every key; point ExecStart at a binary that exists here.
mkdir "$tmp/unit"
sed "s|^ExecStart=/usr/sbin/saksid|ExecStart=$(command -v true)|" "$unit" >"$tmp/unit/saksid.service"
check "systemd-analyze verify: no unknown key or bad value" sh -c "out=\$(systemd-analyze verify --man=no '$tmp/unit/saksid.service' 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
check "ExecStart runs /usr/sbin/saksid on /etc/saksi/saksid.conf" grep -qx 'ExecStart=/usr/sbin/saksid -c /etc/saksi/saksid.conf' "$unit"
check "systemctl reload sends SIGHUP (the rules reload)" grep -qx 'ExecReload=/bin/kill -HUP \$MAINPID' "$unit"
for opt in User=saksi StateDirectory=saksi RuntimeDirectory=saksi ConfigurationDirectory=saksi \
           CapabilityBoundingSet= NoNewPrivileges=yes PrivateUsers=yes ProtectSystem=strict \
           IPAddressDeny=any IPAddressAllow=localhost LimitCORE=0 UMask=0077; do
  check "unit sets $opt" grep -qx "$opt" "$unit"
done
check "unit exposure <= 2.0 (packaging/check-unit.sh)" packaging/check-unit.sh "$unit"
packaging/check-unit.sh "$unit" 2>/dev/null | tail -n 1 | sed 's/^/# /' || true

## The packaged config drives the packaged programs (no root, no systemd)
if [ -x "$x/usr/sbin/saksid" ] && [ -x "$x/usr/bin/saksi" ]; then
  origin=test.example/saksi-deb
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$tmp/state" "$tmp/run" "$tmp/prod"
  # The conffile as shipped, with origin set (step 1 of FIRST START) and its paths moved
  # under $tmp; nothing else changed, so every key the package ships is parsed. But
  # `user = saksi`: this run is root (CI) or not (then it is ignored) and, like the
  # unit, must not change ids, so that its system calls compare with the unit's.
  sed -e "s|^#origin = .*|origin = $origin|" -e "s|/etc/saksi|$x/etc/saksi|g" \
      -e "s|/var/lib/saksi|$tmp/state|g" -e "s|/run/saksi|$tmp/run|g" \
      -e "s|/usr/share/saksi|$x/usr/share/saksi|g" -e "s|127.0.0.1:7400|127.0.0.1:$port|" \
      -e "s|^user = saksi\$|allow_root = yes|" \
      "$x/etc/saksi/saksid.conf" >"$tmp/saksid.conf"
  S=$x/usr/bin/saksi
  check "the shipped config without origin is refused (exit 1)" sh -c "'$x/usr/sbin/saksid' -c '$x/etc/saksi/saksid.conf' -d 2>&1 | grep -q origin; '$x/usr/sbin/saksid' -c '$x/etc/saksi/saksid.conf' -d 2>/dev/null; test \$? = 1"
  check "saksi init makes the keys in etc/saksi/keys (FIRST START step 2)" \
    sh -c "'$S' init --dir '$x/etc/saksi/keys' --origin $origin --schemas '$x/usr/share/saksi/schemas/events' >'$tmp/vkey' && rm '$x/etc/saksi/keys/saksid.conf'"
  check "producer key and keyring entry (step 4)" sh -c "'$S' keygen --kind sign -o '$tmp/prod/kiosk.key' --no-passphrase >/dev/null && '$S' keyring add -r '$x/etc/saksi/keys/keyring.json' --name kiosk --pub '$tmp/prod/kiosk.pub' --role queue --branch KC-MAKASSAR >/dev/null"
  # Under strace when it is there, to check below that the unit's system call filter
  # and address families allow everything saksid does (a denied call would fail EPERM
  # only under systemd, where no test here can run it).
  tracer=()
  command -v strace >/dev/null && tracer=(strace -f -qq -o "$tmp/trace")
  "${tracer[@]}" "$x/usr/sbin/saksid" -c "$tmp/saksid.conf" -d 2>"$tmp/saksid.log" &
  daemon_pid=$!
  if [ ${#tracer[@]} -gt 0 ]; then
    # Signals go to saksid itself, not to the tracer: its only child.
    tracer_pid=$daemon_pid
    for _ in $(seq 1200); do
      daemon_pid=$(pgrep -P "$tracer_pid" || true)
      [ -n "$daemon_pid" ] && break
      sleep 0.05
    done
  fi
  # Bounded at 60 s: under strace on a loaded two-core machine the start (keys, the
  # keyring entry and its synced commit, the rules and their tail) has taken over 10 s.
  for _ in $(seq 1200); do
    [ -S "$tmp/run/ingest.sock" ] && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.05
  done
  check "saksid starts on the packaged config" test -S "$tmp/run/ingest.sock"
  for url in "ipc://$tmp/run/ingest.sock" "tcp://127.0.0.1:$port"; do
    seq=$(( ${seq:-0} + 1 ))
    check "submit over ${url%%:*} with the packaged schemas is accepted" \
      sh -c "'$S' submit --url '$url' -k '$tmp/prod/kiosk.key' --box-pub '$x/etc/saksi/keys/box.pub' --vkey-file '$tmp/vkey' --type queue.checkin --seq $seq --payload schemas/examples/clear/queue.checkin.json --schemas '$x/usr/share/saksi/schemas/events' --timeout 10000 >'$tmp/receipt.$seq'"
  done
  if [ ${#tracer[@]} -gt 0 ]; then
    # Ask again who the tracee is: the first look may have come before strace forked.
    daemon_pid=$(pgrep -P "$tracer_pid" || echo "$daemon_pid")
    waited=$tracer_pid
  else
    waited=$daemon_pid
  fi
  kill -TERM "$daemon_pid" 2>/dev/null || true
  # Bounded: a saksid that ignores SIGTERM fails this check instead of hanging CI.
  for _ in $(seq 600); do
    kill -0 "$waited" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$waited" 2>/dev/null; then
    echo "# saksid (pid $daemon_pid) still running 30 s after SIGTERM; its threads:"
    for t in /proc/"$daemon_pid"/task/*; do
      echo "#   $(cat "$t/comm" 2>/dev/null) $(cat "$t/wchan" 2>/dev/null)"
    done
    kill -KILL "$daemon_pid" "$waited" 2>/dev/null || true
  fi
  rc=0
  # strace exits with its tracee's status.
  wait "$waited" || rc=$?
  daemon_pid=
  check "saksid stops cleanly on SIGTERM (exit 0)" test "$rc" = 0
  if [ ${#tracer[@]} -gt 0 ]; then
    sed -n 's/^[0-9]* *\(<\.\.\. \)\{0,1\}\([a-z0-9_]*\)[( ].*/\2/p' "$tmp/trace" | sort -u >"$tmp/used"
    unit_syscalls "$unit" >"$tmp/allowed"
    echo "# saksid made $(wc -l <"$tmp/used") distinct system calls; the unit allows $(wc -l <"$tmp/allowed")"
    check "every system call saksid made is in the unit's SystemCallFilter" \
      sh -c "! comm -23 '$tmp/used' '$tmp/allowed' | grep ."
    fams=$(grep -oE '^[0-9]+ +socket\(AF_[A-Z0-9]+' "$tmp/trace" | sed 's/.*(//' | sort -u | tr '\n' ' ')
    echo "# saksid opened sockets of families: $fams"
    allowed_fams=" $(sed -n 's/^RestrictAddressFamilies=//p' "$unit") "
    for f in $fams; do
      check "socket family $f is in RestrictAddressFamilies" grep -q " $f " <<<"$allowed_fams"
    done
  else
    echo "# skip: system calls against the unit's filter (strace is not installed)"
  fi
  check "saksi verify: the ledger in state_dir is intact" \
    "$S" verify --ledger "$tmp/state/ledger" --vkey-file "$tmp/vkey" --keyring "$x/etc/saksi/keys/keyring.json"
  if [ "$nfail" -gt 0 ]; then sed 's/^/# saksid: /' "$tmp/saksid.log"; fi
else
  echo "# skip: end-to-end run of the packaged config (saksid and saksi not both built)"
fi

## Opt-in: a fresh Debian root
if [ "${SAKSI_DEB_ROOT_TEST:-0}" = 1 ]; then
  packaging/test-deb-root.sh "$deb" && ok "fresh Debian root (packaging/test-deb-root.sh)" \
    || bad "fresh Debian root (packaging/test-deb-root.sh)"
else
  echo "# skip: install into a fresh Debian root (set SAKSI_DEB_ROOT_TEST=1)"
fi
finish
