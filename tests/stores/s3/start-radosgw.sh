#!/usr/bin/env bash
# Starts a one-node Ceph cluster (one mon, one memstore OSD, one radosgw) on 127.0.0.1,
# for the S3 store tests. Usage: start-radosgw.sh DIR MON_PORT RGW_PORT ACCESS_KEY SECRET
# Everything lives in DIR (config, keyring, mon store, logs); object data lives in the OSD's
# RAM. On success prints "pids MON OSD RGW" as its last line and exits 0 with the daemons
# running in the background (the caller stops them by PID with SIGTERM); on failure stops
# what it started and exits non-zero with the reason on stderr.
set -euo pipefail
dir=$1 mon_port=$2 rgw_port=$3 access_key=$4 secret=$5
conf=$dir/ceph.conf
pids=()
fail() {
  echo "start-radosgw: $*" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  exit 1
}
mkdir -p "$dir"/{run,log,mon/a,osd/0}
fsid=$(cat /proc/sys/kernel/random/uuid)
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
osd objectstore = memstore
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
mon warn on pool no redundancy = false
auth allow insecure global id reclaim = false
[mon]
mon data = $dir/mon/\$id
paxos propose interval = 0.05
[osd]
osd data = $dir/osd/\$id
memstore device bytes = 2147483648
# Stopped with the mon at the same moment: do not wait 5 s to tell it we are going.
osd mon shutdown timeout = 0.1
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
EOF
# Every key is in one keyring, seeded into the mon's auth database at mkfs.
ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
  --cap mgr 'allow *' >/dev/null
ceph-authtool "$dir/keyring" --gen-key -n osd.0 --cap mon 'allow profile osd' \
  --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
ceph-authtool "$dir/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' \
  --cap osd 'allow rwx' >/dev/null
monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" ||
  fail "ceph-mon --mkfs failed"
ceph-mon -c "$conf" -i a -f >"$dir/log/mon.out" 2>&1 &
pids+=($!)
ceph() { command ceph -c "$conf" --connect-timeout 20 "$@"; }
osd_id=$(ceph osd new "$osd_uuid") || fail "ceph osd new failed (mon not reachable?)"
[[ $osd_id == 0 ]] || fail "unexpected osd id $osd_id"
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1 ||
  fail "ceph-osd --mkfs failed"
ceph-osd -c "$conf" -i 0 -f >"$dir/log/osd.out" 2>&1 &
pids+=($!)
# The pools radosgw needs, created up front (radosgw creating them itself waits on the
# OSD map for ~20 s), and the OSD placed under a host bucket in the crush map.
{
  echo "osd crush add-bucket host0 host"
  echo "osd crush move host0 root=default"
  echo "osd crush add osd.0 1.0 host=host0"
  for pool in .rgw.root default.rgw.control default.rgw.meta default.rgw.log \
    default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    echo "osd pool create $pool 8 8"
    echo "osd pool application enable $pool rgw"
  done
} | command ceph -c "$conf" --connect-timeout 20 >"$dir/log/pools.out" 2>&1 ||
  fail "creating pools failed"
radosgw -c "$conf" -n client.rgw.a -f >"$dir/log/rgw.out" 2>&1 &
pids+=($!)
radosgw-admin -c "$conf" user create --uid=tetherd --display-name=tetherd \
  --access-key="$access_key" --secret="$secret" >/dev/null 2>"$dir/log/user.out" ||
  fail "radosgw-admin user create failed: $(tail -3 "$dir/log/user.out")"
echo "pids ${pids[*]}"
