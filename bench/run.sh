#!/usr/bin/env bash
# tetherd against lsyncd, rsync, cp and inotifywait, side by side (issue 7), and against
# rsync, sftp, rclone, s3cmd and lsyncd over real SFTP and S3 servers: one command.
#
# usage: bench/run.sh [--quick] [--out DIR] [--tetherd PATH] [--work DIR] [--only LIST]
#                     [--max-files N] [--no-install] [--no-micro]
#   --quick         every scenario reduced: under 2 minutes (CI runs this as ctest bench.quick)
#   --out DIR       where RESULTS.md and the PNGs go. Default: bench/results for a full run
#                   (the committed results), build/bench-quick for --quick
#   --tetherd PATH  measure this binary instead of building the release preset
#   --work DIR      parent directory of the scratch trees (default: $TMPDIR or /tmp). A full
#                   run needs about 30 GiB and 4 M inodes there; it checks before starting
#   --only LIST     comma-separated scenarios: latency,burst,scaling,watch,big,overflow,
#                   sftp,s3 (the last two start an sshd and a Ceph radosgw on 127.0.0.1:
#                   root, openssh-server and ceph-mon/ceph-osd/radosgw are needed, which
#                   packaging/install-deps.sh installs; without them they are skipped)
#   --max-files N   leave out the scaling points above N files (the 1M point takes ~20 min)
#   --no-install    never call apt-get (a missing peer is skipped and marked in the table)
#   --no-micro      skip the Google Benchmark microbenchmarks (full run only)
#
# Steps: installs the missing peers from Debian packages (lsyncd rsync inotify-tools
# gnuplot-nox time rclone s3cmd; only as root, only when missing), builds tetherd with
# `cmake --preset release && cmake --build --preset release` unless --tetherd is given, runs
# bench/harness/run_bench.py and, for a full run, the microbenchmarks.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
quick=0 out="" tetherd="" source_note="given with --tetherd" work="${TMPDIR:-/tmp}" only="" max_files="" install=1 micro=1
command_line="bench/run.sh $*"
while (($#)); do
  case "$1" in
    --quick) quick=1; shift ;;
    --out) out=$2; shift 2 ;;
    --tetherd) tetherd=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --max-files) max_files=$2; shift 2 ;;
    --no-install) install=0; shift ;;
    --no-micro) micro=0; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 64 ;;
  esac
done

# 1. Peers, from Debian packages, only when missing.
peers=(lsyncd rsync inotify-tools gnuplot-nox time rclone s3cmd)
missing=()
for package in "${peers[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$' ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  if ((install)) && [[ $(id -u) -eq 0 ]]; then
    echo "run.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
          --no-install-recommends "${missing[@]}" >/dev/null; }
  else
    echo "run.sh: not installed: ${missing[*]} (their scenarios are skipped and marked)" >&2
  fi
fi
[[ -x /usr/bin/time ]] || { echo "run.sh: /usr/bin/time is needed (package time)" >&2; exit 69; }

# 2. tetherd, Release. -Wno-restrict: gcc 12's -O3 raises a false -Wrestrict in
# std::string inlined into stores/ (GCC bug 105329), which -Werror turns into a failure.
if [[ -z $tetherd ]]; then
  (cd "$repo" && cmake --preset release -DCMAKE_CXX_FLAGS=-Wno-restrict >/dev/null &&
    cmake --build --preset release -j2 --target tetherd)
  tetherd=$repo/build/release/daemon/tetherd
  source_note="built by run.sh (release preset) from $(git -C "$repo" describe --always --dirty 2>/dev/null || echo 'an unknown commit')"
fi
[[ -x $tetherd ]] || { echo "run.sh: no tetherd binary at $tetherd" >&2; exit 66; }

# 3. Room for the trees (a full run writes ~26 GiB and ~3.5 M inodes in the work dir, where
# nothing is deleted before the end, see bench/README.md;
# the 1M-file point's trees live on loop-mounted images there, ~3 GiB at a time, each
# dropped after its run, and the harness checks their room itself).
mkdir -p "$work"
need_kib=$((quick ? 1 << 20 : 30 << 20)) need_inodes=$((quick ? 100000 : 4000000))
read -r avail_kib avail_inodes < <(df -k --output=avail,iavail "$work" | tail -1)
if ((avail_kib < need_kib || avail_inodes < need_inodes)); then
  echo "run.sh: $work has $((avail_kib >> 20)) GiB and $avail_inodes inodes free;" \
    "this run needs $((need_kib >> 20)) GiB and $need_inodes inodes" >&2
  exit 73
fi

if [[ -z $out ]]; then
  out=$([[ $quick -eq 1 ]] && echo "$repo/build/bench-quick" || echo "$here/results")
fi
mkdir -p "$out"
args=(--tetherd "$tetherd" --out "$out" --work "$work" --command-line "$command_line"
  --tetherd-source "$source_note")
((quick)) && args+=(--quick)
[[ -n $only ]] && args+=(--only "$only")
[[ -n $max_files ]] && args+=(--max-files "$max_files")
status=0
PYTHONDONTWRITEBYTECODE=1 python3 "$here/harness/run_bench.py" "${args[@]}" || status=$?

# 4. Microbenchmarks (full run): appended to RESULTS.md.
microbench=$(dirname "$(dirname "$tetherd")")/bench/tetherd_microbench
if ((!quick && micro)) && [[ -f $out/RESULTS.md ]]; then
  if [[ ! -x $microbench ]]; then
    (cd "$repo" && cmake --build --preset release -j2 --target tetherd_microbench) || true
  fi
  if [[ -x $microbench ]]; then
    {
      echo
      echo "## Microbenchmarks (\`$microbench\`, CPU time per operation)"
      echo
      echo '```'
      "$microbench" --benchmark_min_time=0.2 2>&1 | grep -v '^\*\*\*'
      echo '```'
    } >>"$out/RESULTS.md"
  fi
fi
exit $status
