#!/bin/sh
# A mirror whose event-log reader goes away (`tetherd mirror SRC DST | head -1`) goes on
# mirroring: writes to the closed pipe fail (EPIPE) instead of killing it with SIGPIPE,
# and SIGTERM still ends it with exit 0.
set -eu
. "$(dirname "$0")/wait_for_socket.sh"
tetherd=$1
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/src"
mkfifo "$work/log"
"$tetherd" mirror "$work/src" "$work/dst" --socket "$work/sock" >"$work/log" 2>&1 &
pid=$!
head -n 1 "$work/log" >/dev/null  # the reader takes one line and closes the pipe
wait_for_socket "$work/sock" "$pid"
# Every copy writes an event line into the closed pipe.
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo "$i" >"$work/src/f$i"; done
"$tetherd" settle --socket "$work/sock" --timeout 60
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do cmp "$work/src/f$i" "$work/dst/f$i"; done
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
if [ "$status" -ne 0 ]; then
  echo "tetherd mirror exited $status after SIGTERM"
  exit 1
fi
echo "ok: mirrored 20 files after its log reader left, exited 0"
