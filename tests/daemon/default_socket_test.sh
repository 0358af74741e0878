#!/bin/sh
# `tetherd mirror` run by hand as root, without XDG_RUNTIME_DIR, listens on the system
# socket /run/tetherd/control.sock, making /run/tetherd when it is missing (systemd makes
# it only for the service), and `tetherd settle` finds it there without --socket.
set -eu
. "$(dirname "$0")/wait_for_socket.sh"
tetherd=$1
if [ "$(id -u)" != 0 ]; then
  echo "skipped: needs root"
  exit 77
fi
unset XDG_RUNTIME_DIR
if [ -S /run/tetherd/control.sock ] && "$tetherd" status >/dev/null 2>&1; then
  echo "skipped: a tetherd already listens on /run/tetherd/control.sock"
  exit 77
fi
rmdir /run/tetherd 2>/dev/null || true  # only when empty: exercise making it
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/src"
echo hello >"$work/src/a"
"$tetherd" mirror "$work/src" "$work/dst" --log-format none &
pid=$!
wait_for_socket /run/tetherd/control.sock "$pid"
echo world >"$work/src/b"
"$tetherd" settle --timeout 60
cmp "$work/src/a" "$work/dst/a"
cmp "$work/src/b" "$work/dst/b"
kill -TERM "$pid"
wait "$pid"
pid=
echo "ok: listened on /run/tetherd/control.sock, settled, exited 0"
