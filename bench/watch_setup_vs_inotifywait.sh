#!/bin/sh
# tetherd watch vs inotifywait -m -r: watch setup time and RSS on a fresh tree of 20,000
# directories, events/s sustained without overflow under a flat-out file creator, and CPU
# over an idle period with the 20,000 directories watched.
#
# usage: bench/watch_setup_vs_inotifywait.sh [--dirs N] [--files N] [--repeat N]
#                                            [--idle-seconds S | --long] [--work DIR]
#   --dirs N          directories per tree (default 20000)
#   --files N         files the writer creates for the events/s run (default 100000)
#   --repeat N        setup measurements per tool, median reported (default 3)
#   --idle-seconds S  idle CPU window (default 10); --long means 60
#   --work DIR        where the trees go (default /tmp/tetherd-bench-watch)
# Environment: TETHERD (default build/default/daemon/tetherd), CREATE_FILES (default
# build/default/bench/bench_create_files). Build first:
#   cmake --build build/default -j2 --target tetherd bench_create_files
#
# Every measurement gets a tree of its own, created fresh; nothing is deleted during the
# run (on this unjournaled ext4, creating files right after mass deletions is up to 30x
# slower, as measured here). Delete the work directory yourself afterwards. The page cache
# cannot be dropped here: figures are warm-cache.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
export TETHERD="${TETHERD:-$here/build/default/daemon/tetherd}"
export CREATE_FILES="${CREATE_FILES:-$here/build/default/bench/bench_create_files}"
dirs=20000 files=100000 repeat=3 idle=10 work=/tmp/tetherd-bench-watch
while [ $# -gt 0 ]; do
  case "$1" in
    --dirs) dirs=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --idle-seconds) idle=$2; shift 2 ;;
    --long) idle=60; shift ;;
    --work) work=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 64 ;;
  esac
done
for tool in "$TETHERD" "$CREATE_FILES"; do
  [ -x "$tool" ] || { echo "missing $tool (build it first)" >&2; exit 69; }
done
command -v inotifywait >/dev/null || { echo "inotifywait missing (inotify-tools)" >&2; exit 69; }
mkdir -p "$work"
run="$work/run-$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$run"
echo "work directory: $run (not deleted)"

exec python3 - "$run" "$dirs" "$files" "$repeat" "$idle" <<'PY'
import os, select, statistics, subprocess, sys, time

run, dirs, files, repeat, idle = sys.argv[1], *map(int, sys.argv[2:])
tetherd, create_files = os.environ["TETHERD"], os.environ["CREATE_FILES"]
ticks = os.sysconf("SC_CLK_TCK")
mask = "create,delete,modify,close_write,attrib,move"  # what tetherd watches, for fairness

def tools(root):
    return {
        "tetherd watch": ([tetherd, "watch", root], b"watching "),
        "inotifywait -m -r": (["inotifywait", "-m", "-r", "-e", mask, root],
                              b"Watches established"),
    }

counter = 0
def fresh_tree(ndirs):
    """A new tree of ndirs directories: sqrt-ish fan-out, two levels."""
    global counter
    counter += 1
    root = os.path.join(run, f"tree{counter}")
    width = max(1, int(ndirs ** 0.5))
    made = 0
    os.mkdir(root)
    top = 0
    while made < ndirs:
        parent = os.path.join(root, f"d{top}")
        os.mkdir(parent); made += 1; top += 1
        for sub in range(width):
            if made >= ndirs: break
            os.mkdir(os.path.join(parent, f"s{sub}")); made += 1
    os.sync()
    return root

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def start(argv, ready_marker, stdout=subprocess.DEVNULL):
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE)
    seen = b""
    while ready_marker not in seen:
        readable, _, _ = select.select([proc.stderr], [], [], 120)
        if not readable: raise RuntimeError(f"{argv[0]} never got ready")
        chunk = os.read(proc.stderr.fileno(), 65536)
        if not chunk: raise RuntimeError(f"{argv[0]} exited: {seen.decode(errors='replace')}")
        seen += chunk
    return proc, time.monotonic() - began

def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)

results = {}
print(f"\n== watch setup on a fresh tree of {dirs} directories (median of {repeat}) ==")
for name in tools("x"):
    setups, rsss, cpus = [], [], []
    for _ in range(repeat):
        root = fresh_tree(dirs)
        argv, marker = tools(root)[name]
        proc, elapsed = start(argv, marker)
        setups.append(elapsed); rsss.append(rss_kib(proc.pid)); cpus.append(cpu_seconds(proc.pid))
        stop(proc)
    results[name] = {"setup": statistics.median(setups), "rss": statistics.median(rsss),
                     "setup_cpu": statistics.median(cpus)}
    print(f"{name:20s} setup {results[name]['setup']*1000:8.1f} ms   RSS {results[name]['rss']/1024:7.1f} MiB"
          f"   CPU during setup {results[name]['setup_cpu']*1000:6.0f} ms   (runs: "
          + ", ".join(f"{s*1000:.0f}" for s in setups) + " ms)")

def events_per_second(name, mode, word):
    """The writer runs flat out; the tool's stdout is read until it has reported every write.
    Both tools are counted one line per write: tetherd prints one MODIFY per write (it merges
    the adjacent MODIFY+CLOSE_WRITE, except when a read boundary splits them), inotifywait
    prints MODIFY and CLOSE_WRITE on separate lines and only MODIFY is counted."""
    root = fresh_tree(10)
    target = os.path.join(root, "flat")
    os.mkdir(target)
    argv, marker = tools(root)[name]
    proc, _ = start(argv, marker, stdout=subprocess.PIPE)
    writer_argv = [create_files, target, str(files)] + ([mode] if mode == "modify" else [])
    fd = proc.stdout.fileno()
    seen = overflow = 0
    tail = b""
    def drain(timeout):
        nonlocal seen, overflow, tail
        readable, _, _ = select.select([fd], [], [], timeout)
        if not readable: return False
        data = tail + os.read(fd, 1 << 20)
        cut = data.rfind(b"\n") + 1
        complete, tail = data[:cut], data[cut:]
        seen += complete.count(word)
        overflow += complete.count(b"OVERFLOW") + complete.count(b"(overflow)")
        return True
    if mode == "modify":  # the 1000 files are created before the clock starts
        writer = subprocess.Popen([create_files, target, "1000"], stdout=subprocess.DEVNULL)
        writer.wait()
        while drain(0.5): pass  # their events are not counted
        seen = 0
    cpu_before = cpu_seconds(proc.pid)
    began = time.monotonic()
    writer = subprocess.Popen(writer_argv, stdout=subprocess.PIPE)
    last = began
    while seen < files:
        if not drain(5): break  # nothing for 5 s: the rest is lost
        last = time.monotonic()
    writer_seconds = float(writer.communicate()[0])
    cpu = cpu_seconds(proc.pid) - cpu_before
    stop(proc)
    seconds = last - began
    print(f"{name:20s} {seen:7d}/{files} reported in {seconds:6.2f} s = "
          f"{seen/seconds:9.0f} events/s   overflow: {'YES' if overflow else 'no'}   "
          f"tool CPU {cpu:5.2f} s = {cpu/max(seen,1)*1e6:5.1f} us/event   "
          f"(writer alone: {writer_seconds:.2f} s = {files/writer_seconds:.0f} ops/s)")
    return seen / seconds, cpu / max(seen, 1)

for mode, word, what in (("create", b"CREATE", f"creates {files} new files"),
                         ("modify", b"MODIFY", f"makes {files} one-byte writes to 1000 files")):
    print(f"\n== events/s: one writer {what} flat out in one directory ==")
    for name in tools("x"):
        results[name][mode] = events_per_second(name, mode, word)

print(f"\n== CPU while idle for {idle} s with {dirs} directories watched ==")
for name in tools("x"):
    root = fresh_tree(dirs)
    argv, marker = tools(root)[name]
    proc, _ = start(argv, marker)
    before = cpu_seconds(proc.pid)
    time.sleep(idle)  # the measured idle window itself, not a synchronisation
    used = cpu_seconds(proc.pid) - before
    rss = rss_kib(proc.pid)
    stop(proc)
    results[name]["idle_cpu"] = used
    print(f"{name:20s} {used*1000:8.1f} ms CPU in {idle} s ({used/idle*100:.3f} %)   RSS {rss/1024:.1f} MiB")

t, i = results["tetherd watch"], results["inotifywait -m -r"]
print("\n== ratios (tetherd / inotifywait) ==")
print(f"setup time {t['setup']/i['setup']:.2f}x   RSS {t['rss']/i['rss']:.2f}x   "
      f"events/s create {t['create'][0]/i['create'][0]:.2f}x modify {t['modify'][0]/i['modify'][0]:.2f}x   "
      f"CPU/event create {t['create'][1]/i['create'][1]:.2f}x modify {t['modify'][1]/i['modify'][1]:.2f}x   idle CPU "
      + (f"{t['idle_cpu']/i['idle_cpu']:.2f}x" if i['idle_cpu'] > 0 else f"{t['idle_cpu']*1000:.0f} ms vs 0 ms"))
PY
