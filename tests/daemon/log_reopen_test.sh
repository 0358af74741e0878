#!/bin/sh
# logrotate's way with the event log: the file is renamed, then SIGHUP (postrotate). The
# daemon writes to a new file at the log's path from then on, not to the renamed one.
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
"$tetherd" mirror "$work/src" "$work/dst" --socket "$work/sock" --log-file "$work/events.jsonl" \
  --log-format none &
pid=$!
wait_for_socket "$work/sock" "$pid"
mv "$work/events.jsonl" "$work/events.jsonl.1"
kill -HUP "$pid"
# wait_for_line PATTERN FILE: until FILE has a line matching PATTERN (60 s at most).
wait_for_line() {
  deadline=$(($(date +%s) + 60))
  until grep -q "$1" "$2" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "no line matching $1 in $2 after 60 s"
      exit 1
    fi
    sleep 0.05
  done
}
wait_for_line '"event":"event_log","result":"reopened"' "$work/events.jsonl"
echo data >"$work/src/after"
"$tetherd" settle --socket "$work/sock" --timeout 60
wait_for_line '"event":"copy".*"path":"after"' "$work/events.jsonl"
if grep -q '"path":"after"' "$work/events.jsonl.1"; then
  echo "the renamed log still gets events"
  exit 1
fi
kill -TERM "$pid"
wait "$pid"
pid=
echo "ok: SIGHUP reopened the event log"
