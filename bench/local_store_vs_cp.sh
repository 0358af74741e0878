#!/usr/bin/env bash
# Times the local store (bench/tools/local_store_copy) against cp on this machine:
#   1. one 1 GiB file:            store vs `cp`            (and, durable: store --durable
#                                                            vs `cp && sync FILE`)
#   2. 10,000 files of 4 KiB in 100 directories: store vs `cp -a`
# Each step runs RUNS times (default 3), interleaved; the median is reported, with the
# throughput ratio cp_time / store_time (>= 1 means the store is as fast as cp or faster),
# for elapsed time and for CPU time (user + system: less disturbed by other load), and the
# best (least disturbed) run of each: on a shared machine single runs vary several-fold.
#
# usage: bench/local_store_vs_cp.sh [BUILD_DIR]      (default build/default)
# env:   RUNS=3  BENCH_PARENT=/tmp (where the trees go; needs ~14 GiB free for RUNS=3)
#
# Following bench/README.md (rules on this machine): every run writes a fresh
# tree under a new name, nothing is deleted until the end, and `sync` runs before each
# timed step. The page cache cannot be dropped here: figures are warm-cache.
set -euo pipefail

build=${1:-build/default}
driver=$build/bench/local_store_copy
runs=${RUNS:-3}
parent=${BENCH_PARENT:-/tmp}
[[ -x $driver ]] || { echo "no driver at $driver (build the default preset first)" >&2; exit 66; }

work=$(mktemp -d "$parent/tetherd-bench-XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# timed NAME COMMAND...: syncs, runs the command, appends its elapsed seconds to the array
# NAME_elapsed and its CPU seconds (user + system, children included) to NAME_cpu.
timed() {
  local name=$1
  shift
  sync
  /usr/bin/time -f '%e %U %S' -o "$work/time.out" "$@"
  local elapsed cpu
  read -r elapsed cpu < <(awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$work/time.out")
  eval "${name}_elapsed+=(\"$elapsed\"); ${name}_cpu+=(\"$cpu\")"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
minimum() { printf '%s\n' "$@" | sort -g | head -1; }
ratio() { awk -v cp="$1" -v store="$2" 'BEGIN { printf "%.2f", cp / store }'; }

echo "preparing sources in $work ..."
mkdir -p "$work/src-big" "$work/src-small"
head -c $((1 << 30)) /dev/urandom >"$work/src-big/big.bin"
python3 - "$work/src-small" <<'PY'
import os, sys
root = sys.argv[1]
block = os.urandom(4096)
for d in range(100):
    directory = os.path.join(root, f"dir{d:03d}")
    os.mkdir(directory)
    for f in range(100):
        with open(os.path.join(directory, f"file{f:03d}.bin"), "wb") as out:
            out.write(block[f:] + block[:f])
PY
sync

for name in big_cp big_store big_cp_sync big_durable small_cp small_store; do
  eval "declare -a ${name}_elapsed=() ${name}_cpu=()"
done
for run in $(seq 1 "$runs"); do
  echo "run $run/$runs ..."
  mkdir -p "$work/cp-big-$run" "$work/cpsync-big-$run"
  if ((run % 2)); then
    timed big_cp cp "$work/src-big/big.bin" "$work/cp-big-$run/"
    timed big_store "$driver" "$work/src-big/big.bin" "$work/store-big-$run"
  else  # alternate the order, so neither tool always follows the other's writeback
    timed big_store "$driver" "$work/src-big/big.bin" "$work/store-big-$run"
    timed big_cp cp "$work/src-big/big.bin" "$work/cp-big-$run/"
  fi
  timed big_cp_sync sh -c "cp '$work/src-big/big.bin' '$work/cpsync-big-$run/' && sync '$work/cpsync-big-$run/big.bin'"
  timed big_durable "$driver" --durable "$work/src-big/big.bin" "$work/durable-big-$run"
  if ((run % 2)); then
    timed small_cp cp -a "$work/src-small" "$work/cp-small-$run"
    timed small_store "$driver" "$work/src-small" "$work/store-small-$run"
  else
    timed small_store "$driver" "$work/src-small" "$work/store-small-$run"
    timed small_cp cp -a "$work/src-small" "$work/cp-small-$run"
  fi
done

# Check the copies before reporting anything.
cmp "$work/src-big/big.bin" "$work/store-big-1/big.bin"
cmp "$work/src-big/big.bin" "$work/durable-big-1/big.bin"
diff -r "$work/src-small" "$work/store-small-1" >/dev/null
[[ $(find "$work/store-small-$runs" -type f | wc -l) -eq 10000 ]]

row() {  # row LABEL CP_NAME STORE_NAME
  local -n cp_e=${2}_elapsed cp_c=${2}_cpu st_e=${3}_elapsed st_c=${3}_cpu
  local me_cp me_st mc_cp mc_st
  me_cp=$(median "${cp_e[@]}"); me_st=$(median "${st_e[@]}")
  mc_cp=$(median "${cp_c[@]}"); mc_st=$(median "${st_c[@]}")
  printf '%-46s %8s %8s %6s   %8s %8s %6s\n' "$1" "$me_cp" "$me_st" "$(ratio "$me_cp" "$me_st")" \
    "$mc_cp" "$mc_st" "$(ratio "$mc_cp" "$mc_st")"
  local best_cp best_st
  best_cp=$(minimum "${cp_e[@]}"); best_st=$(minimum "${st_e[@]}")
  echo "    elapsed runs: cp ${cp_e[*]} | store ${st_e[*]}"
  echo "    best run: cp $best_cp | store $best_st | ratio $(ratio "$best_cp" "$best_st")"
}

echo
echo "local store vs cp ($(uname -r), $(nproc) cores, $(df -T "$work" | awk 'NR == 2 { print $2 }'), warm cache, median of $runs)"
printf '%-46s %8s %8s %6s   %8s %8s %6s\n' "scenario" "cp s" "store s" "ratio" "cp cpu" "st cpu" "ratio"
row "1 GiB file (cp | store)" big_cp big_store
row "1 GiB file, durable (cp+sync | store --durable)" big_cp_sync big_durable
row "10,000 x 4 KiB in 100 dirs (cp -a | store)" small_cp small_store
echo "(ratio = cp / store: >= 1.00 means the store is at least as fast / as frugal)"
