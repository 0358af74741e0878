#!/usr/bin/env bash
# Installs every build and test dependency of tetherd from Debian 12 packages.
# Idempotent: when everything is present it changes nothing and touches no network.
# Used by both Quick start commands and by CI.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  libuv1-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  # the S3 store: HTTP, S3's XML, SigV4 digests
  libcurl4-openssl-dev libpugixml-dev libssl-dev
  # the allocator of the tetherd executable (CMakeLists.txt: TETHERD_MIMALLOC)
  libmimalloc-dev
  # sd_notify and the journal (daemon/); systemd-analyze for the unit checks (tests/systemd)
  libsystemd-dev systemd
  # tests, sanitizers, fuzzing, microbenchmarks
  doctest-dev python3 python3-jsonschema clang-14 libclang-rt-14-dev libbenchmark-dev
  e2fsprogs
  # the SFTP store (libssh2) and its tests against a real sshd on loopback
  libssh2-1-dev openssh-server openssh-client
  # the S3 store's tests run against a one-node Ceph cluster with a radosgw
  radosgw ceph-mon ceph-osd ceph-common
  # peer tools for bench/
  inotify-tools rsync lsyncd time gnuplot-nox
  # the .deb and its test under a real systemd (tests/package)
  dpkg-dev lintian systemd-container procps bash-completion
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo $0)" >&2
  exit 77
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
