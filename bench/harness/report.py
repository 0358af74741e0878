"""Results of a run: the table rows, latency samples and scaling series, and their
rendering as RESULTS.md plus gnuplot PNGs."""

import os
import platform
import shutil
import statistics
import subprocess
import time


class Results:
    def __init__(self):
        self.rows = []
        self.latency_samples = {}
        self.scaling = []  # (files, tool, kind, times s, rss MiB)
        self.loads = []  # (what, load average text)
        self.errors = []  # (scenario, message)
        self.durations = []  # (scenario, seconds)
        self.images = []  # (files, what, ScratchImage.describe()): scratch filesystems used
        self.goals = []  # dicts: scenario, goal, tetherd, peer, ratio, met (None: not known), note
        self.sections = {}  # title: text, sections of RESULTS.md a scenario adds

    def add(self, scenario, measure, tool, unit, values, note="", timed_out=False,
            ref="tetherd", reference=False, ratio=True):
        self.rows.append({"scenario": scenario, "measure": measure, "tool": tool, "unit": unit,
                          "values": list(values), "note": note, "timed_out": timed_out,
                          "ref": ref if ratio else None, "reference": reference,
                          "skipped": False})

    def skip(self, scenario, measure, tool, note):
        self.rows.append({"scenario": scenario, "measure": measure, "tool": tool, "unit": "",
                          "values": [], "note": note, "timed_out": False, "ref": "tetherd",
                          "reference": False, "skipped": True})

    def goal(self, scenario, goal, tetherd, peer, ratio, met, note=""):
        """A performance goal and whether this run met it. tetherd, peer: the figures
        compared, as text; ratio: tetherd ÷ peer, or None; met: True, False or None (not
        measured)."""
        self.goals.append({"scenario": scenario, "goal": goal, "tetherd": tetherd,
                           "peer": peer, "ratio": ratio, "met": met, "note": note})

    def record_load(self, what):
        with open("/proc/loadavg") as handle:
            self.loads.append((what, " ".join(handle.read().split()[:3])))


def fmt(value, unit):
    if unit == "requests":
        return f"{value:,.0f}"
    if unit == "s":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if unit == "ms":
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return f"{value:.1f}"


def median(values):
    return statistics.median(values) if values else None


def ratio_text(row, rows):
    if row["skipped"] or not row["values"] or row["tool"] == row["ref"]:
        return "—"
    ref = next((r for r in rows if r["scenario"] == row["scenario"] and
                r["measure"] == row["measure"] and r["tool"] == row["ref"] and r["values"]),
               None)
    if ref is None:
        return "—"
    mine = median(row["values"])
    theirs = median(ref["values"])
    if mine == 0:
        return "—" if theirs == 0 else "∞"
    value = theirs / mine
    text = f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"
    if row["timed_out"]:
        return f"≤ {text}"
    if ref["timed_out"]:
        return f"≥ {text}"
    return text


def table(results):
    lines = ["| scenario | measure | tool | median | min–max | runs | "
             "tetherd ÷ tool | note |",
             "|---|---|---|---:|---|---:|---:|---|"]
    for row in results.rows:
        values, unit = row["values"], row["unit"]
        if row["skipped"] or not values:
            cells = ["—", "—", "0"]
        else:
            prefix = "≥ " if row["timed_out"] else ""
            cells = [f"{prefix}{fmt(median(values), unit)} {unit}",
                     f"{fmt(min(values), unit)}–{fmt(max(values), unit)}", str(len(values))]
        lines.append(f"| {row['scenario']} | {row['measure']} | {row['tool']} | "
                     + " | ".join(cells) + f" | {ratio_text(row, results.rows)} | "
                     f"{row['note']} |")
    return "\n".join(lines)


def goals_table(results):
    """The goals of the remote scenarios: met, not met or not measured, with the figures."""
    if not results.goals:
        return ""
    lines = ["| scenario | goal | tetherd | peer | tetherd ÷ peer | met | note |",
             "|---|---|---:|---:|---:|---|---|"]
    for goal in results.goals:
        ratio = ("—" if goal["ratio"] is None else f"{goal['ratio']:.2f}"
                 if goal["ratio"] >= 0.1 else f"{goal['ratio']:.2g}")
        met = {True: "**yes**", False: "**no**", None: "not measured"}[goal["met"]]
        lines.append(f"| {goal['scenario']} | {goal['goal']} | {goal['tetherd']} | "
                     f"{goal['peer']} | {ratio} | {met} | {goal['note']} |")
    return "\n".join(lines)


def command_output(argv, lines=1):
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = [line.strip() for line in (result.stdout + result.stderr).strip().split("\n")
            if line.strip()]
    return "; ".join(text[:lines]) if text else "unknown"


def machine(work_dir, tetherd):
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        memory = int(handle.readline().split()[1]) // 1024
    mount = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "-T", work_dir],
                           capture_output=True, text=True).stdout.strip()
    tools = {
        "tetherd": command_output([tetherd, "version"], lines=4) + f" (`{shown_path(tetherd)}`)",
        "lsyncd": command_output(["lsyncd", "--version"]),
        "rsync": command_output(["rsync", "--version"]),
        "inotifywait": command_output(["inotifywait", "--help"]),
        "cp": command_output(["cp", "--version"]),
        "ssh, sftp, sshd": command_output(["ssh", "-V"]),
        "rclone": command_output(["rclone", "version"]),
        "s3cmd": command_output(["s3cmd", "--version"]),
        "radosgw": command_output(["radosgw", "--version"]),
        "gnuplot": command_output(["gnuplot", "--version"]),
        "python3": platform.python_version(),
    }
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mib": memory,
            "kernel": platform.release(), "mount": mount, "tools": tools,
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}


def scratch_text(results):
    """What RESULTS.md says of the scaling points on scratch filesystems, if any ran."""
    points = sorted({files for files, _, _ in results.images})
    if not points:
        return ""
    names = " and ".join(f"{files:,}" for files in points)
    point = "points of the scaling series are" if len(points) > 1 else \
        "point of the scaling series is"
    its = "their" if len(points) > 1 else "its"
    return f"""
The {names}-file {point} the exception:
{its} trees are on loop-mounted ext4 images (in the bench directory, or in RAM where Machine
says so: then copying and writeback are CPU-bound and repeatable, not the disk's),
**journaled** (the bench directory's ext4 is not), made by the mkfs.ext4 shown under Machine, which initialises the
inode tables and the journal itself, so no ext4lazyinit thread writes while a run is
measured. The source has an image of its own, kept for all the point's runs; each run gets
a fresh image for the targets of every tool (cold for each tool, then no-op, then no-op
again), unmounted and deleted (one unlink of one file, no mass deletion) before the next
run. So it is repeated like the other sizes without every run's targets piling up, but its
figures come from another filesystem and run order than theirs."""


def write_markdown(path, results, info, args, plan_text, plots, started, finished, pending):
    loads = "\n".join(f"- {what}: {load}" for what, load in results.loads)
    tools = "\n".join(f"- {name}: {version}" for name, version in info["tools"].items())
    durations = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in results.durations)
    errors = "\n".join(f"- **{scenario}**: {message}" for scenario, message in results.errors)
    images = "".join(f"\n- scratch filesystem of the {files:,}-file point, {what}: {text}"
                     for files, what, text in results.images)
    plot_lines = "\n".join(f"![{title}]({os.path.basename(file)})" for title, file in plots) \
        or ("(no plots: gnuplot is not installed)" if shutil.which("gnuplot") is None
            else "(no plots: none of the scenarios that make one ran)")
    status = (f"\n**Incomplete: still to run when this was written: {', '.join(pending)}.**\n"
              if pending else "")
    goals = (f"\n## Goals\nThe bars the issues set for the remote stores, from the medians "
             f"above.\n\n{goals_table(results)}\n" if results.goals else "")
    sections = "".join(f"\n## {title}\n{text}\n" for title, text in results.sections.items())
    text = f"""# tetherd benchmark results ({'quick' if args.quick else 'full'} run)
{status}
Produced by `{args.command_line}` on {info['date']} in {finished - started:.0f} s
({durations}).

## Machine
- CPU: {info['cpu']}, {info['cores']} cores; RAM {info['memory_mib']} MiB
- kernel: {info['kernel']}
- bench directory: `{args.work_parent}` on {info['mount']}{images}
- page cache: **warm**. It cannot be dropped in this container; every source tree was
  written just before it was read, so reads come from memory and the figures are about
  metadata, copying within memory and writeback, not disk reads.
- load average (1/5/15 min) when each scenario started: the machine is shared with other
  builds, so **figures are noisy**; compare tools within a scenario (runs are interleaved
  tool by tool), not across runs.
{loads}

## Tools
{tools}

lsyncd is tuned for speed, not run with its defaults: `delay = 0` (the smallest it accepts),
`maxProcesses = 8` in `settings` and in the `sync` (its default of 1 serialises every
action), `insist`, `nodaemon`; both `default.direct` (one `cp`/`mv`/`rm` per event, its
lowest latency) and `default.rsync` (batched rsync). tetherd runs `tetherd mirror SRC DST
--delay 0` (live) or `--once` (one reconciliation, like rsync), with its defaults otherwise:
it publishes every file atomically and durably (data and names synced before it reports a
copy done); cp, rsync and lsyncd do not sync at all, so they leave the writeback to the
kernel after the figure stops. "tetherd --no-durable" is the same initial sync without the
syncs (a local store with `"durable": false`), compared with the one-shot peers in rows of
its own ("time, not durable").

## How completion is measured
Daemons (lsyncd; tetherd in the latency, burst, rename and overflow scenarios): the target
is polled until every expected file is present with its full size (directories checked in
order; the poll interval is 1–20 ms, small against each figure; the latency poller stats
pending files every 0.2 ms). One-shot tools (cp, rsync, `tetherd mirror --once`) are timed
until they exit, which is when they say they are done; the same poll then checks, untimed,
that the target is complete (timing that check as well added the half-second walk of a
100,000-file tree to every one-shot figure). "No-op" figures time a run
against an already identical target (for lsyncd: until its log says the startup rsync
finished); `cp -a` has no such mode, so the initial sync measures it cold only. "cp -a +
sync" is `cp -a` followed by `sync -f` of the target's file system (syncfs): not a peer but
a reference, the same copy made durable as tetherd's are. Peak RSS:
`/usr/bin/time -f %M` for one-shot tools; VmHWM from /proc for daemons (for lsyncd plus the
largest child rsync seen while polling). Trees are created fresh for every run and deleted
only when the whole run ends (this ext4 has no journal: creating files after mass
deletions is up to 30× slower for minutes).{scratch_text(results)}

## Sizes and repetitions
{plan_text}

## Figures
"tetherd ÷ tool" is tetherd's median divided by the tool's median: below 1 tetherd is
faster (or smaller), above 1 it is slower. A "≥" median is a run stopped at its timeout.

{table(results)}
{goals}{sections}
{('## Errors' + chr(10) + errors) if errors else ''}

## Plots
{plot_lines}
"""
    with open(path, "w") as handle:
        handle.write(text)


def shown_path(path):
    """A path inside the repository as the repository names it; others as they are."""
    repo = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    absolute = os.path.abspath(path)
    return os.path.relpath(absolute, repo) if absolute.startswith(repo + os.sep) else path


def write_plots(out, results):
    """PNGs by gnuplot: latency CDF per tool, scaling time and RSS (log-log)."""
    if shutil.which("gnuplot") is None:
        return []
    plots = []
    data_dir = os.path.join(out, "data")
    os.makedirs(data_dir, exist_ok=True)
    script = ["set terminal png size 960,600", "set grid", "set key left top"]

    # The fraction is of every file written: a tool that never delivered some of them
    # ends below 1.
    series = [(tool, samples, count) for tool, (samples, count)
              in results.latency_samples.items() if samples]
    if series:
        plot = []
        for tool, samples, count in series:
            file = os.path.join(data_dir, f"latency-{tool.replace(' ', '_')}.dat")
            with open(file, "w") as handle:
                for index, value in enumerate(samples):
                    handle.write(f"{value:.4f} {(index + 1) / count:.5f}\n")
            plot.append(f"'{os.path.relpath(file, out)}' using 1:2 with lines lw 2 title '{tool}'")
        png = os.path.join(out, "latency_cdf.png")
        script += [f"set output '{os.path.relpath(png, out)}'",
                   "set title 'Latency close() → complete at target, 4 KiB files at 100/s (CDF)'",
                   "set xlabel 'latency (ms, log scale)'", "set ylabel 'fraction of files'",
                   "set logscale x", "unset logscale y", "set yrange [0:1]",
                   "plot " + ", ".join(plot)]
        plots.append(("latency CDF", png))

    for kind, column, unit, name, title in (
            ("initial", 2, "s", "scaling_time.png", "time"),
            ("initial", 3, "MiB", "scaling_rss.png", "peak RSS"),
            ("watch", 2, "s", "watch_scaling_time.png", "time to watching"),
            ("watch", 3, "MiB", "watch_scaling_rss.png", "RSS watching")):
        tools = sorted({tool for _, tool, k, _, _ in results.scaling if k == kind})
        if not tools:
            continue
        plot = []
        for tool in tools:
            file = os.path.join(data_dir, f"scaling-{kind}-{tool.replace(' ', '_')}.dat")
            with open(file, "w") as handle:
                for files, t, k, times, rss in sorted(results.scaling):
                    if t == tool and k == kind and times:
                        handle.write(f"{files} {median(times):.6f} {median(rss):.3f}\n")
            plot.append(f"'{os.path.relpath(file, out)}' using 1:{column} with linespoints lw 2 "
                        f"title '{tool}'")
        png = os.path.join(out, name)
        what = "initial sync" if kind == "initial" else "watch setup"
        script += [f"set output '{os.path.relpath(png, out)}'", f"set title 'Scaling: {what}, {title} vs files'",
                   "set xlabel 'files (log)'", f"set ylabel '{title} ({unit}, log)'",
                   "set logscale xy", "set autoscale y", "plot " + ", ".join(plot)]
        plots.append((f"scaling {what} {title}", png))

    script_file = os.path.join(data_dir, "plots.gp")
    with open(script_file, "w") as handle:
        handle.write("\n".join(script) + "\n")
    # Paths in the script are relative to `out`, so the committed script works in any clone.
    result = subprocess.run(["gnuplot", os.path.relpath(script_file, out)], cwd=out,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"gnuplot failed: {result.stderr}")
    return plots
