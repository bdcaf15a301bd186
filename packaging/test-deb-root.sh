#!/usr/bin/env bash
# test-deb-root.sh: installs the saksi .deb into a fresh Debian root and runs it the way
# an operator would, under the real systemd unit. Opt-in (packaging/test-deb.sh runs it
# with SAKSI_DEB_ROOT_TEST=1): needs root, the Debian mirror apt already uses, and a few
# minutes. Never touches the host's own files: everything happens in a root under
# /var/tmp, removed at the end (SAKSI_DEB_ROOT_KEEP=1 keeps it).
#   packaging/test-deb-root.sh PKG.deb
# 1. debootstrap (minbase + systemd; cached as build/debroot-CODENAME.tar.zst, delete it
#    to start from the mirror again), apt install the .deb: Depends must be right;
# 2. user, group, directories, statoverrides, conffile, programs, no keys;
# 3. the first start exactly as saksid(8) says (origin, saksi init as saksi, keyring);
# 4. boot the root with systemd-nspawn (private network) and start saksid.service: the
#    sandbox as systemd applies it (uid, no capabilities, seccomp, no new privileges,
#    live exposure score), submits over ipc by a member of group saksi and over tcp, a
#    non-member refused, clean stop, restart on the same ledger, saksi verify;
# 5. remove, purge (ledger and keys survive, statoverrides go), install again, upgrade,
#    all while systemd runs (prerm stops saksid, a first install neither enables nor
#    starts it, an upgrade restarts it).
# SAKSI_DEB_ROOT_BOOT=0 skips booting (where systemd-nspawn cannot run): step 4 is left
# out and step 5 runs in the chroot.
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
deb=$(realpath "${1:?usage: packaging/test-deb-root.sh PKG.deb}")

if [ "$(id -u)" != 0 ]; then
  echo "test-deb-root: needs root (debootstrap, chroot, systemd-nspawn)" >&2
  exit 2
fi
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v zstd >/dev/null || need+=(zstd)
if ((${#need[@]})); then
  echo "test-deb-root: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# ok, bad, check DESCRIPTION COMMAND..., finish.
. packaging/tap.sh

codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
# The mirror apt uses here (no host name is written into this project).
mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
         awk -v c="$codename" '$2 == c && !f { print $1; f = 1 }')
[ -n "$mirror" ] || { echo "test-deb-root: no apt source for $codename" >&2; exit 2; }

root=$(mktemp -d /var/tmp/saksi-root.XXXXXX)
nspawn_pid=
run_pid=
mounted=()
cleanup() {
  [ -z "$run_pid" ] || kill -TERM "$run_pid" 2>/dev/null || true
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  if [ "${SAKSI_DEB_ROOT_KEEP:-0}" = 1 ]; then
    echo "# kept $root"
  else
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
mount_proc() {
  mount -t proc proc "$root/proc"
  mounted=("$root/proc" "${mounted[@]}")
}
umount_proc() {
  umount "$root/proc"
  mounted=("${mounted[@]:1}")
}

## 1. A fresh Debian root, the package installed by apt
cache=$src/build/debroot-$codename.tar.zst
if [ -f "$cache" ]; then
  echo "# root from $cache"
  tar --zstd -xpf "$cache" -C "$root"
else
  echo "# debootstrap $codename from $mirror (a minute or two)"
  debootstrap --variant=minbase "$codename" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { cat "$root.debootstrap.log" >&2; exit 2; }
  rm -f "$root.debootstrap.log"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount_proc
  # systemd to boot the root; nothing of saksi's yet.
  in_root apt-get update -qq
  in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv >/dev/null'
  in_root apt-get clean
  umount_proc
  mkdir -p "$(dirname "$cache")"
  tar --zstd -cpf "$cache.tmp" -C "$root" . && mv "$cache.tmp" "$cache"
fi
chmod 755 "$root"   # it is the root's "/": every user must be able to traverse it
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount_proc
cp "$deb" "$root/tmp/saksi.deb"
cp "$deb" "$root/root/saksi.deb"
in_root apt-get update -qq
check "apt installs the .deb into a fresh $codename root (Depends resolve)" \
  in_root sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/saksi.deb'
check "dpkg: saksi is installed and configured" \
  test "$(in_root dpkg-query -W -f='${Status}' saksi)" = "install ok installed"

## 2. What the package left
pw=$(in_root getent passwd saksi || true)
echo "# passwd: $pw"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
check "user saksi exists" test -n "$pw"
check "saksi is a system user (uid $uid < 1000)" test "${uid:-1000}" -lt 1000
check "saksi's home is /var/lib/saksi" test "$home" = /var/lib/saksi
check "saksi cannot log in (shell $shell)" test "$shell" = /usr/sbin/nologin
check "group saksi is saksi's primary group" test "$(in_root getent group saksi | cut -d: -f3)" = "$gid"
own() { in_root stat -c '%U:%G %a' "$1"; }
check "/etc/saksi/keys is saksi:saksi 750" test "$(own /etc/saksi/keys)" = "saksi:saksi 750"
check "/var/lib/saksi is saksi:saksi 700" test "$(own /var/lib/saksi)" = "saksi:saksi 700"
check "/etc/saksi/saksid.conf is root:root 644" test "$(own /etc/saksi/saksid.conf)" = "root:root 644"
overrides=$(in_root dpkg-statoverride --list | sort -k4 | tr '\n' ';')
echo "# statoverrides: $overrides"
check "statoverrides record both directories" \
  test "$overrides" = "saksi saksi 750 /etc/saksi/keys;saksi saksi 700 /var/lib/saksi;"
conffile_registered() { in_root dpkg-query -W -f='${Conffiles}' saksi | grep -E '^ /etc/saksi/saksid.conf [0-9a-f]{32}$' >/dev/null; }
check "the conffile is registered" conffile_registered
check "no key was made" test -z "$(ls -A "$root/etc/saksi/keys")"
check "saksid runs (libraries found)" sh -c "chroot '$root' /usr/sbin/saksid 2>&1 | grep -q usage"
check "saksi runs (libraries found)" in_root saksi --version
check "man pages installed" test -f "$root/usr/share/man/man8/saksid.8.gz" -a -f "$root/usr/share/man/man1/saksi.1.gz"
check "the unit is installed, not enabled" sh -c "test -f '$root/lib/systemd/system/saksid.service' && ! test -e '$root/etc/systemd/system/multi-user.target.wants/saksid.service'"
check "systemd-analyze verify in the root: no complaint" \
  sh -c "out=\$(chroot '$root' systemd-analyze verify --man=no saksid.service 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"

## 3. The first start, as saksid(8) FIRST START says
origin=test.example/saksi-root
check "step 1: set origin" sed -i "s|^#origin = .*|origin = $origin|" "$root/etc/saksi/saksid.conf"
check "step 2: saksi init as saksi" in_root runuser -u saksi -- saksi init --dir /etc/saksi/keys \
  --origin "$origin" --schemas /usr/share/saksi/schemas/events
in_root rm -f /etc/saksi/keys/saksid.conf
check "keys are saksi's, 0600" test "$(own /etc/saksi/keys/log.key) $(own /etc/saksi/keys/box.key) $(own /etc/saksi/keys/store.key)" = "saksi:saksi 600 saksi:saksi 600 saksi:saksi 600"
mkdir -p "$root/root/prod"
cp schemas/examples/clear/queue.checkin.json "$root/root/prod/ev.json"
check "step 4: a producer key in the keyring" in_root sh -c \
  'saksi keygen --kind sign -o /root/prod/kiosk.key --no-passphrase >/dev/null &&
   saksi keyring add -r /etc/saksi/keys/keyring.json --name kiosk --pub /root/prod/kiosk.pub --role queue --branch KC-MAKASSAR'
# A producer account in group saksi may use the ipc socket; another, with a key of its
# own, may not: it must fail to connect (2), not be refused by the daemon (1).
in_root useradd --system --no-create-home --groups saksi kiosk
in_root useradd --system --no-create-home outsider
in_root chmod 755 /root /root/prod
in_root chown kiosk /root/prod/kiosk.key
mkdir -m 700 "$root/root/out"
cp "$root/root/prod/ev.json" "$root/etc/saksi/keys/box.pub" "$root/root/out/"
in_root chown -R outsider /root/out
in_root runuser -u outsider -- saksi keygen --kind sign -o /root/out/o.key --no-passphrase >/dev/null
check "step 5: systemctl enable saksid" in_root systemctl enable saksid.service
umount_proc

## 5. Remove, purge, install again, upgrade: with systemd running when the root booted
# (so prerm and postinst meet a live saksid), else in the chroot. $1 runs a command in
# the root.
lifecycle() {
  local R=$1 pid1 pid2
  verify_ledger() {
    $R runuser -u saksi -- saksi verify --ledger /var/lib/saksi/ledger \
      --vkey-file /etc/saksi/keys/log.vkey --keyring /etc/saksi/keys/keyring.json
  }
  check "saksi verify: the ledger the unit wrote is intact" verify_ledger
  check "dpkg -r saksi" $R dpkg -r saksi
  if [ "$booted" = 1 ]; then
    check "remove stopped saksid (prerm)" sh -c "! nsenter -t $leader -a systemctl is-active -q saksid.service"
    check "remove masked the unit (postrm)" test "$($R systemctl is-enabled saksid.service 2>/dev/null)" = masked
  fi
  check "after remove: programs gone, conffile kept" sh -c "! test -e '$root/usr/sbin/saksid' && test -f '$root/etc/saksi/saksid.conf'"
  check "dpkg -P saksi" $R dpkg -P saksi
  check "after purge: conffile gone" test ! -e "$root/etc/saksi/saksid.conf"
  check "after purge: the ledger survives" test -f "$root/var/lib/saksi/ledger/data.mdb"
  check "after purge: the keys survive" test -f "$root/etc/saksi/keys/log.key"
  check "after purge: no statoverride left" test -z "$($R dpkg-statoverride --list)"
  check "after purge: no enablement or mask left" sh -c "! ls '$root/etc/systemd/system/multi-user.target.wants/saksid.service' '$root/etc/systemd/system/saksid.service' 2>/dev/null"
  check "install again (dpkg -i)" $R dpkg -i /root/saksi.deb
  check "the saksi user keeps its uid" test "$($R id -u saksi)" = "$uid"
  check "/etc/saksi/keys is saksi:saksi 750 again" test "$(own /etc/saksi/keys)" = "saksi:saksi 750"
  if [ "$booted" = 1 ]; then
    check "a first install neither enables nor starts saksid" \
      test "$($R systemctl is-enabled saksid.service 2>&1)/$($R systemctl is-active saksid.service 2>&1)" = disabled/inactive
  fi
  # The purged conffile came back without origin: set it again.
  sed -i "s|^#origin = .*|origin = $origin|" "$root/etc/saksi/saksid.conf"
  check "the old ledger still verifies" verify_ledger
  if [ "$booted" = 1 ]; then
    $R systemctl enable --now saksid.service >/dev/null 2>&1 || true
    check "enable --now on the old ledger" wait_active
    pid1=$($R systemctl show -p MainPID --value saksid.service)
    # An upgrade (same version: dpkg runs postinst configure with the old version).
    check "upgrade with dpkg -i while saksid runs" $R dpkg -i /root/saksi.deb
    wait_active >/dev/null || true
    pid2=$($R systemctl show -p MainPID --value saksid.service)
    check "the upgrade restarted saksid (MainPID $pid1 -> $pid2)" test "$pid2" != 0 -a "$pid2" != "$pid1"
    check "which takes the next event" submit_as kiosk /root/prod/kiosk.key ipc:///run/saksi/ingest.sock 4
    check "clean stop" $R systemctl stop saksid.service
  else
    check "dpkg -i over itself (postinst twice)" $R dpkg -i /root/saksi.deb
  fi
  check "and the ledger verifies at the end" verify_ledger
}

## 4. Boot it; saksid under its unit
if [ "${SAKSI_DEB_ROOT_BOOT:-1}" = 1 ] && [ -e /sys/fs/cgroup ] && command -v systemd-nspawn >/dev/null; then
  # --keep-unit and --register=no: ask nothing of the host's systemd (there may be none).
  systemd-nspawn -q -D "$root" --register=no --keep-unit --private-network -b --console=pipe \
    >"$root.nspawn.log" 2>&1 </dev/null &
  nspawn_pid=$!
  leader=
  for _ in $(seq 300); do
    leader=$(pgrep -P "$nspawn_pid" || true)
    [ -n "$leader" ] && nsenter -t "$leader" -a systemctl is-system-running >/dev/null 2>&1 && break
    kill -0 "$nspawn_pid" 2>/dev/null || break
    sleep 0.1
  done
  # Boot may finish "degraded" (units a container has no use for); saksid is what counts.
  inside() { nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
  for _ in $(seq 300); do
    st=$(inside systemctl is-system-running 2>/dev/null || true)
    case $st in running|degraded) break ;; esac
    sleep 0.1
  done
  echo "# booted: $st"
  wait_active() {
    for _ in $(seq 200); do
      inside test -S /run/saksi/ingest.sock 2>/dev/null && return 0
      inside systemctl is-failed -q saksid.service 2>/dev/null && break
      sleep 0.05
    done
    inside systemctl status --no-pager saksid.service
    inside journalctl -b --no-pager -u saksid.service
    return 1
  }
  check "saksid.service is active with its socket" wait_active
  pid=$(inside systemctl show -p MainPID --value saksid.service)
  status=$(inside cat "/proc/$pid/status" || true)
  echo "# saksid MainPID $pid"
  pfield() { printf '%s\n' "$status" | awk -v k="$1:" '$1 == k && !f { print $2; f = 1 }'; }
  check "saksid runs as saksi" test "$(pfield Uid)" = "$uid"
  check "saksid has no capabilities (CapEff, CapBnd)" test "$(pfield CapEff)/$(pfield CapBnd)" = "0000000000000000/0000000000000000"
  check "saksid has NoNewPrivs" test "$(pfield NoNewPrivs)" = 1
  check "saksid is under a seccomp filter" test "$(pfield Seccomp)" = 2
  sock=$(inside stat -c '%U:%G %A' /run/saksi/ingest.sock || true)
  echo "# ingest.sock: $sock"
  check "/run/saksi/ingest.sock is saksi:saksi srwxrwx---" test "$sock" = "saksi:saksi srwxrwx---"
  score=$(inside systemd-analyze security --no-pager saksid.service 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
  echo "# live exposure of the running saksid.service: $score"
  check "live exposure <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
  vk=$(cat "$root/etc/saksi/keys/log.vkey")
  submit_as() { # USER KEY URL SEQ [BOX.PUB]
    inside runuser -u "$1" -- saksi submit --url "$3" -k "$2" \
      --box-pub "${5:-/etc/saksi/keys/box.pub}" --vkey "$vk" --type queue.checkin --seq "$4" \
      --payload /root/prod/ev.json --schemas /usr/share/saksi/schemas/events --timeout "${timeout_ms:-10000}"
  }
  K=/root/prod/kiosk.key
  check "kiosk (group saksi) submits over ipc" submit_as kiosk $K ipc:///run/saksi/ingest.sock 1
  check "submit over tcp://127.0.0.1:7400" submit_as kiosk $K tcp://127.0.0.1:7400 2
  outsider_cannot() {
    local rc=0
    # nanomsg retries a refused connect until the timeout: keep it short.
    timeout_ms=2000 submit_as outsider /root/out/o.key ipc:///run/saksi/ingest.sock 1 /root/out/box.pub || rc=$?
    echo "exit $rc"
    test "$rc" = 2
  }
  check "a user outside group saksi cannot reach the ipc socket (exit 2)" outsider_cannot
  check "nor read /etc/saksi/keys" sh -c "! nsenter -t $leader -a runuser -u outsider -- cat /etc/saksi/keys/box.pub"
  check "kiosk (group saksi) cannot read a secret key" sh -c "! nsenter -t $leader -a runuser -u kiosk -- cat /etc/saksi/keys/log.key"
  check "systemctl stop: clean exit 0" sh -c "nsenter -t $leader -a systemctl stop saksid.service &&
    test \"\$(nsenter -t $leader -a systemctl show -p ExecMainStatus --value saksid.service)\" = 0"
  check "it starts again on the same ledger" sh -c "nsenter -t $leader -a systemctl start saksid.service"
  wait_active >/dev/null || true
  check "and takes the next event" submit_as kiosk $K ipc:///run/saksi/ingest.sock 3
  booted=1
  lifecycle inside
  if inside journalctl -b --no-pager | grep -i 'bpf.*not supported\|firewall.*not supported' >/dev/null; then
    echo "# note: this kernel/cgroup setup cannot enforce IPAddressDeny= (journal says so)"
  fi
  if [ "$nfail" -gt 0 ]; then
    inside journalctl -b --no-pager -u saksid.service | sed 's/^/# journal: /' | tail -n 30
  fi
  inside systemctl poweroff >/dev/null 2>&1 || true
  for _ in $(seq 300); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$nspawn_pid" 2>/dev/null && kill -TERM "$nspawn_pid"
  wait "$nspawn_pid" 2>/dev/null || true
  nspawn_pid=
  rm -f "$root.nspawn.log"
else
  echo "# skip: booting the root (SAKSI_DEB_ROOT_BOOT=0, or no systemd-nspawn or cgroups here); package life cycle in the chroot"
  mount_proc
  booted=0
  # saksid by hand as saksi, as the unit would run it minus the sandbox, so that there
  # is a ledger; the tcp port moved off 7400 because this root shares the host's network.
  in_root install -d -o saksi -g saksi -m 750 /run/saksi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  sed "s|127.0.0.1:7400|127.0.0.1:$port|" "$root/etc/saksi/saksid.conf" >"$root/root/saksid-test.conf"
  chmod 644 "$root/root/saksid-test.conf"
  # exec all the way (setpriv, unlike runuser, does not fork): $! is saksid itself.
  (exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin setpriv --reuid=saksi \
    --regid=saksi --init-groups saksid -c /root/saksid-test.conf -d 2>"$root.saksid.log") &
  run_pid=$!
  for _ in $(seq 200); do [ -S "$root/run/saksi/ingest.sock" ] && break; sleep 0.05; done
  check "saksid (by hand, as saksi) takes an event" in_root runuser -u kiosk -- saksi submit \
    --url ipc:///run/saksi/ingest.sock -k /root/prod/kiosk.key --box-pub /etc/saksi/keys/box.pub \
    --vkey-file /etc/saksi/keys/log.vkey --type queue.checkin --seq 1 --payload /root/prod/ev.json \
    --schemas /usr/share/saksi/schemas/events --timeout 10000
  kill -TERM "$run_pid" 2>/dev/null || true
  rc=0; wait "$run_pid" || rc=$?
  run_pid=
  check "saksid (by hand) stops cleanly on SIGTERM" test "$rc" = 0
  [ "$nfail" = 0 ] || sed 's/^/# saksid: /' "$root.saksid.log"
  rm -f "$root.saksid.log" "$root/root/saksid-test.conf"
  lifecycle in_root
fi

finish
