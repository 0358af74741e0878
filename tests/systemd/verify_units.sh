#!/usr/bin/env bash
# Runs `systemd-analyze verify` on every unit in systemd/, as the package installs them
# but with ExecStart= pointing at the binary just built (verify checks that it exists and
# is executable). Any output at all fails the test: verify reports unknown or misspelt
# directives only as warnings with exit status 0. Man pages are not checked here (--man=no):
# they are built by the packaging; the installed-package test checks them.
# Usage: verify_units.sh UNIT_SOURCE_DIR TETHERD_BINARY WORK_DIR
set -euo pipefail
units=$1 binary=$2 work=$3

command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (package systemd)"; exit 1; }
[[ -x $binary ]] || { echo "not an executable: $binary"; exit 1; }
rm -rf "$work"
mkdir -p "$work/system" "$work/user" "$work/runtime"
chmod 700 "$work/runtime"

copy_unit() {  # copy_unit SRC DST: the unit with /usr/bin/tetherd replaced by the build's binary
  sed "s#/usr/bin/tetherd #${binary} #g" "$1" >"$2"
  if ! grep -q "^ExecStart=${binary} " "$2"; then
    echo "$1: no 'ExecStart=/usr/bin/tetherd ...' line to point at the build"
    exit 1
  fi
}

# verify SCOPE UNIT_PATH...: fails on a non-zero status or any message.
verify() {
  local scope=$1
  shift
  local output status=0
  output=$(XDG_RUNTIME_DIR="$work/runtime" systemd-analyze "$scope" --man=no verify "$@" 2>&1) ||
    status=$?
  if ((status != 0)) || [[ -n $output ]]; then
    echo "systemd-analyze $scope verify $* (status $status):"
    echo "$output"
    return 1
  fi
}

copy_unit "$units/tetherd.service" "$work/system/tetherd.service"
copy_unit "$units/tetherd@.service" "$work/system/tetherd@.service"
copy_unit "$units/user/tetherd.service" "$work/user/tetherd.service"

# The check itself must be able to fail: a misspelt directive is caught.
cp "$work/system/tetherd.service" "$work/system/broken.service"
echo "ProtectSystm=strict" >>"$work/system/broken.service"
if verify --system "$work/system/broken.service" >/dev/null; then
  echo "verify did not report a misspelt directive: the check is broken"
  exit 1
fi
rm "$work/system/broken.service"

failed=0
verify --system "$work/system/tetherd.service" || failed=1
# A template is verified through an instance; the template file sits next to it.
verify --system "$work/system/tetherd@example.service" || failed=1
verify --user "$work/user/tetherd.service" || failed=1
if ((failed == 0)); then
  echo "verified: tetherd.service, tetherd@.service (as tetherd@example.service), user/tetherd.service"
fi
exit $failed
