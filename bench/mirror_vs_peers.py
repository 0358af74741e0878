#!/usr/bin/env python3
"""tetherd's sync engine against the tools people use today, on this machine, in one run.

Scenarios (local source and target on the same file system, warm page cache):
  latency  4 KiB files written at a steady rate; close() -> complete file at the target:
           tetherd mirror --delay 0 vs lsyncd default.direct (delay = 0).
  burst    10,000 files of 4 KiB in 100 directories created at once into a watched source;
           time until the target is complete, vs `cp -a` of the same tree.
  initial  N files in N/20 directories into an empty target (tetherd mirror --once vs
           `rsync -a` vs `cp -a`), then a no-op run on the identical target (vs `rsync -a`).
  idle     CPU used by a watching tetherd over an idle period.
Figures only, nothing asserted. Trees are created fresh per run and deleted at the end only
(on this ext4, creating files right after mass deletions is much slower).

Usage: bench/mirror_vs_peers.py --tetherd build/release/daemon/tetherd [--quick]
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ARGS = None
WORK = None


def make_tree(root, files, per_dir, size=4096):
    os.makedirs(root)
    payload = b"t" * size
    for i in range(files):
        directory = os.path.join(root, f"d{i // per_dir}")
        if i % per_dir == 0:
            os.mkdir(directory)
        with open(os.path.join(directory, f"f{i}"), "wb") as handle:
            handle.write(payload)


def count_files(root):
    return sum(len(files) for _, _, files in os.walk(root))


def timed(command):
    os.sync()
    start = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def fresh(name):
    return tempfile.mkdtemp(prefix=name + "-", dir=WORK)


def wait_for(predicate, timeout=600, interval=0.001):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(interval)


def start_tetherd(source, target, extra=()):
    sock = os.path.join(fresh("sock"), "s")
    log = os.path.join(os.path.dirname(sock), "events.jsonl")
    process = subprocess.Popen([ARGS.tetherd, "mirror", source, target, "--delay", "0",
                                "--socket", sock, "--log-file", log, "--log-format", "none",
                                "-q", *extra])
    wait_for(lambda: subprocess.run([ARGS.tetherd, "status", "--socket", sock],
                                    capture_output=True).returncode == 0, interval=0.01)
    subprocess.run([ARGS.tetherd, "settle", "--socket", sock], check=True)
    return process, sock


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)


def start_lsyncd(source, target, delay=0):
    config = os.path.join(fresh("lsyncd"), "lsyncd.conf")
    with open(config, "w") as handle:
        handle.write(f'settings {{ nodaemon = true, logfile = "{config}.log", '
                     f'insist = true }}\n'
                     f'sync {{ default.direct, source = "{source}", target = "{target}", '
                     f'delay = {delay} }}\n')
    os.makedirs(target, exist_ok=True)
    process = subprocess.Popen(["lsyncd", config], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    # Ready once a probe file makes it across.
    probe = os.path.join(source, ".probe")
    with open(probe, "wb") as handle:
        handle.write(b"p")
    wait_for(lambda: os.path.exists(os.path.join(target, ".probe")), timeout=60, interval=0.01)
    os.remove(probe)
    return process


def latency(tool, seconds, rate=100):
    source, target = fresh("lat-src"), fresh("lat-dst")
    process = start_tetherd(source, target)[0] if tool == "tetherd" else start_lsyncd(source,
                                                                                       target)
    payload = os.urandom(4096)
    samples = []
    pending = {}
    lock = threading.Lock()
    done = threading.Event()

    def poll():
        while not done.is_set() or pending:
            with lock:
                items = list(pending.items())
            for name, closed_at in items:
                try:
                    if os.stat(os.path.join(target, name)).st_size == len(payload):
                        seen = time.monotonic()
                        with lock:
                            del pending[name]
                        samples.append(seen - closed_at)
                except FileNotFoundError:
                    pass
            time.sleep(0.0002)

    poller = threading.Thread(target=poll)
    poller.start()
    count = int(seconds * rate)
    start = time.monotonic()
    for i in range(count):
        name = f"f{i}"
        with open(os.path.join(source, name), "wb") as handle:
            handle.write(payload)
        closed = time.monotonic()
        with lock:
            pending[name] = closed
        next_at = start + (i + 1) / rate
        time.sleep(max(0, next_at - time.monotonic()))
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        time.sleep(0.01)
    done.set()
    poller.join()
    stop(process)
    samples.sort()
    ms = [s * 1000 for s in samples]
    return {"n": len(ms), "p50": ms[len(ms) // 2], "p95": ms[int(len(ms) * 0.95)],
            "p99": ms[int(len(ms) * 0.99)], "lost": count - len(ms)}


def burst(files=10_000):
    source, target = fresh("burst-src"), fresh("burst-dst")
    process, sock = start_tetherd(source, target)
    os.sync()
    start = time.monotonic()
    make_tree(os.path.join(source, "b"), files, 100)
    subprocess.run([ARGS.tetherd, "settle", "--socket", sock, "--timeout", "600"], check=True)
    elapsed = time.monotonic() - start
    stop(process)
    assert count_files(target) == files
    # The physical floor: creating the same tree, then cp -a of it.
    floor_source = fresh("burst-cp-src")
    os.sync()
    start = time.monotonic()
    make_tree(os.path.join(floor_source, "b"), files, 100)
    create = time.monotonic() - start
    copy = timed(["cp", "-a", os.path.join(floor_source, "b"), fresh("burst-cp-dst")])
    return {"tetherd": elapsed, "create_only": create, "create_plus_cp": create + copy,
            "cp": copy}


def initial(files):
    source = os.path.join(fresh("init-src"), "tree")
    make_tree(source, files, 20)
    results = {}
    results["tetherd_cold"] = timed([ARGS.tetherd, "mirror", source, fresh("init-t") + "/t",
                                     "--once", "--log-format", "none", "-q"])
    rsync_target = fresh("init-r")
    results["rsync_cold"] = timed(["rsync", "-a", source + "/", rsync_target + "/"])
    results["cp_cold"] = timed(["cp", "-a", source, fresh("init-c") + "/t"])
    tetherd_target = fresh("init-t2") + "/t"
    subprocess.run(["cp", "-a", source, tetherd_target], check=True)
    results["tetherd_noop"] = timed([ARGS.tetherd, "mirror", source, tetherd_target, "--once",
                                     "--log-format", "none", "-q"])
    results["rsync_noop"] = timed(["rsync", "-a", source + "/", rsync_target + "/"])
    return results


def idle(dirs, seconds):
    source = fresh("idle-src")
    for i in range(dirs):
        os.makedirs(os.path.join(source, f"a{i // 100}", f"b{i}"))
    process, _ = start_tetherd(source, fresh("idle-dst"))

    def cpu():
        with open(f"/proc/{process.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before = cpu()
    time.sleep(seconds)
    used = cpu() - before
    stop(process)
    return {"dirs": dirs, "seconds": seconds, "cpu_seconds": used}


def main():
    global ARGS, WORK
    parser = argparse.ArgumentParser()
    parser.add_argument("--tetherd", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workdir", default=None)
    ARGS = parser.parse_args()
    WORK = tempfile.mkdtemp(prefix="tetherd-bench-", dir=ARGS.workdir)
    quick = ARGS.quick
    try:
        print(f"# tetherd vs peers ({'quick' if quick else 'full'}), {time.strftime('%F %T')}, "
              f"{os.uname().release}, {os.cpu_count()} cores; warm page cache")
        for tool in ("tetherd", "lsyncd"):
            if tool == "lsyncd" and not shutil.which("lsyncd"):
                print("latency lsyncd: not installed")
                continue
            r = latency(tool, 3 if quick else 30)
            print(f"latency {tool}: p50 {r['p50']:.2f} ms  p95 {r['p95']:.2f} ms  "
                  f"p99 {r['p99']:.2f} ms  (n={r['n']}, not seen: {r['lost']})")
        b = burst(1000 if quick else 10_000)
        print(f"burst: tetherd {b['tetherd']:.2f} s until complete; creating alone "
              f"{b['create_only']:.2f} s; create + cp -a {b['create_plus_cp']:.2f} s "
              f"(cp -a {b['cp']:.2f} s); ratio tetherd/(create+cp) "
              f"{b['tetherd'] / b['create_plus_cp']:.2f}")
        n = 5_000 if quick else 100_000
        i = initial(n)
        print(f"initial {n} files: tetherd {i['tetherd_cold']:.2f} s, rsync -a "
              f"{i['rsync_cold']:.2f} s, cp -a {i['cp_cold']:.2f} s; ratio vs cp "
              f"{i['tetherd_cold'] / i['cp_cold']:.2f}, vs rsync {i['tetherd_cold'] / i['rsync_cold']:.2f}")
        print(f"no-op {n} files: tetherd {i['tetherd_noop']:.2f} s, rsync -a "
              f"{i['rsync_noop']:.2f} s; ratio {i['tetherd_noop'] / i['rsync_noop']:.2f}")
        d = idle(2_000 if quick else 20_000, 3 if quick else 60)
        print(f"idle: {d['cpu_seconds']:.2f} s CPU over {d['seconds']} s watching {d['dirs']} dirs")
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
