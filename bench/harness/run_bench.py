#!/usr/bin/env python3
"""Runs the scenarios of issue 7 (tetherd vs lsyncd, rsync, cp, inotifywait) and writes
RESULTS.md plus PNG plots into --out. Normally started by bench/run.sh, which installs the
peers and builds tetherd first.

  run_bench.py --tetherd PATH --out DIR [--quick] [--work DIR] [--only NAME,...]

Exit status: 0 when every scenario ran and the table was written; 1 when a scenario failed
(its error is in RESULTS.md and on stderr; the other scenarios still run); 2 on bad usage.
"""

import argparse
import copy
import json
import os
import shlex
import signal
import sys
import time
import traceback

import remote
import report
import scenarios
from tools import Work

# Sizes and repetitions. full: 5 runs of every scenario (issue 7) but the idle window, one
# 60 s window with every tool at once. Trees in the work directory are kept until the end
# (deleting them would slow the next creations for minutes on a journal-less ext4), which
# five cold targets of 1M files for each of the four tools (20 M inodes) cannot afford: the
# 1M-file point (empty files) is on scratch filesystems instead ("scratch_image", see
# scenarios.scratch_image_runs), its source on a loop-mounted ext4 image of its own and the
# targets of each run on a fresh image, deleted with one unlink before the next run. On the
# quiet 2-core machine a full run takes about 35 minutes, 20 of them the 1M point (about 4
# minutes a run; --max-files 100000 leaves it out). The 100,000-file headline point is on
# such images too, made in RAM (/dev/shm, "scratch_image": "ram"): on the bench
# directory's disk its cold figures were the disk's (cp -a 2 to 9 s from run to run). quick: every scenario reduced, under 2
# minutes, nothing on a scratch image (those need root and loop devices).
# The remote scenarios (sftp, s3; remote.py): 3 runs, not 5. Their full plan took 39
# minutes on the 2-core machine (sftp 7, s3 32: S3's small files and its 100,000-object
# no-op, whose target rclone alone takes 7 minutes to upload); 5 runs would take about an
# hour. A tool too slow for a run's timeout is not repeated. The S3 no-op's targets are
# each tool's own upload, timed once, within prep_timeout: 1,200 s, as a tetherd that no
# longer writes on its no-op (the rule that leaves it out) but uploads at this run's ~115
# objects/s needs ~870 s for its target; that adds ~15 minutes, and its no-ops more.
# quick: about 10 s each plus the servers' start (Ceph's: ~4 s), skipped and marked where
# root, sshd or Ceph is missing.
REMOTE_FULL = {"files": 10_000, "dirs": 100, "mib": 1024, "noop_files": 100_000, "reps": 3,
               "timeout": 600,
               "latency": {"seconds": 15, "rate": 20, "reps": 3, "grace": 10}}
REMOTE_QUICK = {"files": 100, "dirs": 10, "mib": 8, "noop_files": 1_000, "reps": 1,
                "timeout": 60, "latency": {"seconds": 1, "rate": 20, "reps": 1, "grace": 5}}
PLANS = {
    "full": {
        "latency": {"seconds": 30, "rate": 100, "reps": 5, "grace": 10},
        "burst": {"files": 10_000, "dirs": 100, "reps": 5, "timeout": 60},
        "scaling": {"headline": 100_000, "sizes": [
            {"files": 1_000, "reps": 5, "bytes": 4096, "timeout": 600},
            {"files": 10_000, "reps": 5, "bytes": 4096, "timeout": 600},
            {"files": 100_000, "reps": 5, "bytes": 4096, "timeout": 1200,
             "scratch_image": "ram"},
            {"files": 1_000_000, "reps": 5, "bytes": 0, "timeout": 3600,
             "scratch_image": True}]},
        "watch": {"dirs": 20_000, "reps": 5, "idle": 60},
        "big": {"mib": 1024, "reps": 5},
        "overflow": {"files": 50_000, "dirs": 50, "reps": 5, "timeout": 300},
        "sftp": REMOTE_FULL,
        "s3": dict(REMOTE_FULL, prep_timeout=1200),
    },
    "quick": {
        "latency": {"seconds": 1, "rate": 100, "reps": 1, "grace": 2},
        "burst": {"files": 300, "dirs": 10, "reps": 1, "timeout": 5},
        "scaling": {"headline": 1_000, "sizes": [
            {"files": 100, "reps": 1, "bytes": 4096, "timeout": 60},
            {"files": 1_000, "reps": 1, "bytes": 4096, "timeout": 60}]},
        "watch": {"dirs": 500, "reps": 1, "idle": 1},
        "big": {"mib": 16, "reps": 1},
        "overflow": {"files": 9_000, "dirs": 30, "reps": 1, "timeout": 25},
        "sftp": REMOTE_QUICK,
        "s3": dict(REMOTE_QUICK, prep_timeout=60),
    },
}

SCENARIOS = [
    ("latency", scenarios.latency),
    ("burst", scenarios.burst),
    ("scaling", scenarios.initial_and_scaling),
    ("watch", scenarios.watch_and_idle),
    ("big", scenarios.big_file),
    ("overflow", scenarios.overflow),
    ("sftp", remote.sftp),
    ("s3", remote.s3),
]


def describe(plan):
    sizes = plan["scaling"]["sizes"]
    scaling = ", ".join(f"{size['files']:,} files of {size['bytes']} B × {size['reps']} runs"
                        + (" (on scratch images in RAM)" if size.get("scratch_image") == "ram"
                           else " (on scratch images)" if size.get("scratch_image") else "")
                        for size in sizes)
    imaged = [f"{size['files']:,}" for size in sizes if size.get("scratch_image")]
    return "\n".join([
        f"1. latency: 4 KiB files at {plan['latency']['rate']}/s for "
        f"{plan['latency']['seconds']} s, {plan['latency']['reps']} runs per tool (percentiles "
        "per run; the CDF pools every run)",
        f"2. burst: {plan['burst']['files']:,} files of 4 KiB in {plan['burst']['dirs']} dirs, "
        f"{plan['burst']['reps']} runs, timeout {plan['burst']['timeout']} s",
        f"3. initial sync: the {plan['scaling']['headline']:,}-file point of the scaling series "
        "(20 files per directory): cold against rsync -a, lsyncd rsync and cp -a, and for "
        "reference cp -a followed by `sync -f` of the target (tetherd's figure includes "
        "that sync, cp -a's does not); no-op against the first two (cp has no no-op "
        "mode), twice per target: the first run "
        "after the cold one, then again (tetherd's listing cache, saved by the first, "
        "serves the second)",
        f"4. scaling: {scaling}; initial sync as in 3, watch setup on the same trees"
        + (f" (left out of this run with --max-files: "
           f"{', '.join(f'{n:,}' for n in plan['left_out'])} files)"
           if plan.get("left_out") else "")
        + (f". On scratch images ({' and '.join(imaged)} files): the source on a "
           "loop-mounted ext4 image of its own, the targets of each run on a fresh one "
           "(cold for every tool, no-op for every tool, no-op again for every tool, then "
           "the image is deleted); the other sizes run every cold run first, in the bench "
           "directory" if imaged else ""),
        f"5. watch + idle: {plan['watch']['dirs']:,} directories, {plan['watch']['reps']} runs; "
        f"one idle window of {plan['watch']['idle']} s with every tool watching at once",
        f"6. big file: {plan['big']['mib']} MiB, {plan['big']['reps']} copies and "
        f"{plan['big']['reps']} renames per tool",
        f"7. overflow: {plan['overflow']['files']:,} files of 4 KiB in "
        f"{plan['overflow']['dirs']} dirs created while the daemon is SIGSTOPped, "
        f"{plan['overflow']['reps']} runs, timeout {plan['overflow']['timeout']} s; lsyncd in "
        "default.rsync mode only (default.direct cannot keep up with a burst, see 2)",
        f"8. sftp (sshd on 127.0.0.1): {remote_text(plan['sftp'])}; against rsync -a -e ssh, "
        "sftp -b (put -rp), rclone sync, and for latency lsyncd default.rsyncssh (sftp has "
        "no no-op mode); the no-op's target is one cp -a copy every tool runs against",
        f"9. s3 (Ceph radosgw on 127.0.0.1): {remote_text(plan['s3'])}; against rclone sync "
        "(--transfers 8) and s3cmd sync (no live mode: tetherd's latency stands alone); "
        "each small-files run is followed by a no-op against the bucket it filled; the "
        f"{plan['s3']['noop_files']:,}-object no-op's targets are each tool's own upload (timeout "
        f"{plan['s3']['prep_timeout']} s; s3cmd's is rclone's); requests counted from "
        "radosgw's log",
    ])


def remote_text(plan):
    latency = plan["latency"]
    return (f"{plan['files']:,} files of 4 KiB in {plan['dirs']} dirs, one "
            f"{plan['mib']:,} MiB file and a no-op restart over {plan['noop_files']:,} files "
            f"(20 a directory), {plan['reps']} runs each, timeout {plan['timeout']} s a run; "
            f"latency: 4 KiB files at {latency['rate']}/s for {latency['seconds']} s, "
            f"{latency['reps']} runs")


def scaling_sizes(text):
    """--scaling-sizes: a JSON list of scaling sizes, each with the keys of PLANS'."""
    try:
        sizes = json.loads(text)
        for size in sizes:
            if not {"files", "reps", "bytes", "timeout"} <= set(size):
                raise ValueError(f"{size} lacks one of files, reps, bytes, timeout")
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(str(error))
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tetherd", required=True, help="the tetherd binary to measure")
    parser.add_argument("--out", required=True, help="where RESULTS.md and the PNGs go")
    parser.add_argument("--quick", action="store_true", help="every scenario, reduced")
    parser.add_argument("--work", default=None,
                        help="parent of the scratch trees (default: the system temp dir)")
    parser.add_argument("--only", default="", help="comma-separated scenario names: "
                        + ", ".join(name for name, _ in SCENARIOS))
    parser.add_argument("--max-files", type=int, default=0,
                        help="leave out the scaling points above this many files")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch trees (not the scratch images: each goes when "
                        "its runs are done)")
    parser.add_argument("--command-line", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tetherd-source", default="", help=argparse.SUPPRESS)
    # Testing the harness: the scaling sizes as a JSON list of PLANS entries, e.g.
    # '[{"files": 10000, "reps": 2, "bytes": 0, "timeout": 600, "scratch_image": true}]'.
    parser.add_argument("--scaling-sizes", type=scaling_sizes, default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.tetherd = os.path.abspath(args.tetherd)
    if not os.access(args.tetherd, os.X_OK):
        print(f"run_bench: {args.tetherd} is not an executable", file=sys.stderr)
        return 2
    only = [name for name in args.only.split(",") if name]
    unknown = [name for name in only if name not in dict(SCENARIOS)]
    if unknown:
        print(f"run_bench: unknown scenario {', '.join(unknown)}", file=sys.stderr)
        return 2
    args.command_line = args.command_line or " ".join(shlex.quote(a) for a in sys.argv)
    # SIGTERM unwinds like Ctrl-C: scratch images are unmounted, the work root removed.
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    os.makedirs(args.out, exist_ok=True)
    if args.work:
        os.makedirs(args.work, exist_ok=True)
    work = Work(args.work)
    # tetherd's listing caches live with the trees they describe, and go with them.
    os.environ["XDG_STATE_HOME"] = os.path.join(work.root, "state")
    args.work_parent = os.path.dirname(work.root)
    plan = copy.deepcopy(PLANS["quick" if args.quick else "full"])
    if args.scaling_sizes is not None:
        plan["scaling"]["sizes"] = args.scaling_sizes
    if args.max_files:
        left_out = [size["files"] for size in plan["scaling"]["sizes"]
                    if size["files"] > args.max_files]
        plan["scaling"]["sizes"] = [size for size in plan["scaling"]["sizes"]
                                    if size["files"] <= args.max_files]
        plan["left_out"] = left_out
    results = report.Results()
    context = scenarios.Context(args, work, results, plan)
    info = report.machine(work.root, args.tetherd)
    if args.tetherd_source:
        info["tools"]["tetherd"] += f", {args.tetherd_source}"
    started = time.monotonic()
    path = os.path.join(args.out, "RESULTS.md")
    selected = [(name, function) for name, function in SCENARIOS if not only or name in only]

    def write(done):
        """RESULTS.md after every scenario: a run stopped early still leaves its figures."""
        pending = [name for name, _ in selected if name not in done]
        plots = report.write_plots(args.out, results)
        report.write_markdown(path, results, info, args, describe(plan), plots, started,
                              time.monotonic(), pending)

    try:
        done = []
        for name, function in selected:
            results.record_load(f"before {name}")
            began = time.monotonic()
            try:
                function(context)
            except Exception as error:  # one scenario failing must not hide the others
                traceback.print_exc()
                results.errors.append((name, f"{type(error).__name__}: {error}"))
            results.durations.append((name, time.monotonic() - began))
            done.append(name)
            if len(done) < len(selected):
                write(done)
        results.record_load("at the end")
        write(done)
    finally:
        if not args.keep:
            context.log(f"removing {work.root}")
            work.remove()
    print(f"wrote {path}")
    print(report.table(results))
    for scenario, message in results.errors:
        print(f"run_bench: scenario {scenario} failed: {message}", file=sys.stderr)
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
