"""The seven scenarios of issue 7. Each adds rows to a Results and raises BenchError when a
tool fails. A peer that is too slow to finish within its scenario's timeout is reported as
such (with how much it had done) and not repeated: that is a figure, not an error."""

import contextlib
import os
import re
import select
import shutil
import subprocess
import threading
import time

from tools import (GIB, BenchError, Geometry, Lsyncd, ScratchImage, Tetherd, check_room,
                   children, cpu_seconds, make_dirs, make_tree, ram_image_dir, rss_kib,
                   run_timed, tree_spec, wait_for, wait_tree, written_bytes)

KIB4 = 4096


def have(command):
    return shutil.which(command) is not None


class Context:
    def __init__(self, args, work, results, plan):
        self.args = args
        self.tetherd = args.tetherd
        self.work = work
        self.results = results
        self.plan = plan

    def lsyncd_modes(self):
        return ["direct", "rsync"] if have("lsyncd") else []

    def sync(self):
        os.sync()

    def log(self, message):
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def start_daemon(ctx, tool, source, target, verbose_log=False):
    """tool: 'tetherd', 'lsyncd direct' or 'lsyncd rsync'. Returns the daemon, ready."""
    if tool == "tetherd":
        daemon = Tetherd(ctx.tetherd, ctx.work, source, target, verbose_log)
    else:
        daemon = Lsyncd(ctx.work, source, target, tool.split()[1])
    try:
        daemon.wait_ready()
    except BaseException:
        daemon.stop()
        raise
    return daemon


def daemon_tools(ctx):
    return ["tetherd"] + [f"lsyncd {mode}" for mode in ctx.lsyncd_modes()]


def skip_missing(ctx, scenario, measure, package, tools):
    for tool in tools:
        ctx.results.skip(scenario, measure, tool, f"skipped: package {package} not installed")


# ---------------------------------------------------------------------------------------
# 1. Latency


def latency(ctx):
    plan = ctx.plan["latency"]
    tools = daemon_tools(ctx)
    if not have("lsyncd"):
        skip_missing(ctx, "1 latency", "p50", "lsyncd", ["lsyncd direct", "lsyncd rsync"])
    per_tool = latency_series(ctx, "1 latency", "close()→mirrored", tools, plan, "latency")
    for tool, entry in per_tool.items():
        ctx.results.latency_samples[tool] = (sorted(entry["samples"]),
                                             len(entry["samples"]) + entry["unseen"])


def latency_series(ctx, scenario, measure, tools, plan, name, starts=None):
    """plan["reps"] latency runs per tool, tools alternating, and their rows (p50, p95, p99
    of each run). name: what the progress log calls them. starts: {tool: start} for
    latency_run, for targets that are not local directories. Returns {tool: {"samples":
    [...], "unseen": count, ...}}."""
    per_tool = {tool: {"p50": [], "p95": [], "p99": [], "unseen": 0, "samples": [],
                       "bounds": set()} for tool in tools}
    for rep in range(plan["reps"]):
        for tool in tools:
            ctx.log(f"{name} {tool} run {rep + 1}/{plan['reps']}")
            samples, unseen = latency_run(ctx, tool, plan["seconds"], plan["rate"],
                                          plan["grace"], (starts or {}).get(tool))
            entry = per_tool[tool]
            entry["samples"].extend(samples)
            entry["unseen"] += len(unseen)
            # A file never seen counts with the time it had waited when the run ended: a
            # lower bound, so a percentile that falls on one is marked "≥".
            everything = sorted([(value, False) for value in samples] +
                                [(value, True) for value in unseen])
            for key, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
                value, bound = everything[min(len(everything) - 1,
                                              int(len(everything) * fraction))]
                entry[key].append(value)
                if bound:
                    entry["bounds"].add(key)
    for tool, entry in per_tool.items():
        count = len(entry["samples"]) + entry["unseen"]
        note = (f"{count} files; {entry['unseen']} not at the target {plan['grace']} s after "
                "the writer stopped (counted as lower bounds)" if entry["unseen"] else
                f"{count} files")
        for key in ("p50", "p95", "p99"):
            ctx.results.add(scenario, f"{measure} {key}", tool, "ms", entry[key],
                            note if key == "p50" else "",
                            timed_out=key in entry["bounds"])
    return per_tool


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def latency_run(ctx, tool, seconds, rate, grace, start=None):
    """A writer creates 4 KiB files at a steady rate; a poller thread stats the pending
    ones at the target every 0.2 ms. Returns (latencies in ms, for each file never seen
    within grace s after the writer stopped: how long it had waited, ms). start: for a
    target that is not a local directory, start(source) starts the daemon, ready, and
    returns (daemon, arrived), arrived(name) telling whether the file is complete there."""
    source = ctx.work.fresh("lat-src")
    if start is None:
        target = ctx.work.fresh("lat-dst")
        daemon = start_daemon(ctx, tool, source, target)

        def arrived(name):
            try:
                return os.stat(os.path.join(target, name)).st_size == KIB4
            except FileNotFoundError:
                return False
    else:
        daemon, arrived = start(source)
    payload = os.urandom(KIB4)
    samples, pending = [], {}
    lock = threading.Lock()
    done = threading.Event()

    def poll():
        # Every 0.2 ms, or after as long again as a round took when a slow tool has a
        # backlog of thousands of files: the poller never takes more than half a core.
        while not done.is_set():
            began = time.monotonic()
            with lock:
                items = list(pending.items())
            for name, closed_at in items:
                if arrived(name):
                    seen = time.monotonic()
                    with lock:
                        del pending[name]
                    samples.append((seen - closed_at) * 1000)
            time.sleep(max(0.0002, time.monotonic() - began))

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        count = int(seconds * rate)
        start = time.monotonic()
        for index in range(count):
            name = f"f{index:06d}"
            fd = os.open(os.path.join(source, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            os.write(fd, payload)
            os.close(fd)
            closed = time.monotonic()
            with lock:
                pending[name] = closed
            time.sleep(max(0.0, start + (index + 1) / rate - time.monotonic()))
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with lock:
                if not pending:
                    break
            time.sleep(0.01)
    finally:
        done.set()
        poller.join()
        daemon.stop()
    ended = time.monotonic()
    return samples, [(ended - closed_at) * 1000 for closed_at in pending.values()]


# ---------------------------------------------------------------------------------------
# 2. Burst


def burst(ctx):
    plan = ctx.plan["burst"]
    spec = tree_spec(plan["files"], plan["files"] // plan["dirs"])
    tools = daemon_tools(ctx) + ["cp -a"]
    if not have("lsyncd"):
        skip_missing(ctx, "2 burst", "start→target complete", "lsyncd",
                     ["lsyncd direct", "lsyncd rsync"])
    figures = {tool: [] for tool in tools}
    notes = {}
    create_only = []
    for rep in range(plan["reps"]):
        for tool in tools:
            if tool in notes:
                continue  # timed out before: not repeated
            ctx.log(f"burst {tool} run {rep + 1}/{plan['reps']}")
            elapsed, missing = burst_run(ctx, tool, spec, plan["timeout"], create_only)
            figures[tool].append(elapsed)
            if missing:
                notes[tool] = (f"timed out: {missing} of {plan['files']} files missing after "
                               f"{plan['timeout']} s; not repeated")
    measure = f"{plan['files']} files in {plan['dirs']} dirs: start→target complete"
    for tool in tools:
        ctx.results.add("2 burst", measure, tool, "s", figures[tool], notes.get(tool, ""),
                        timed_out=tool in notes)
    ctx.results.add("2 burst", measure, "(creating the tree alone)", "s", create_only,
                    "the writer's own time: a floor for every tool", reference=True)


def burst_run(ctx, tool, spec, timeout, create_only):
    """Clock from the first file created to the target complete. cp -a: create, then copy
    (the physical floor: the same bytes written twice, no watching)."""
    source, target = ctx.work.fresh("burst-src"), ctx.work.fresh("burst-dst")
    tree = os.path.join(source, "b")
    if tool == "cp -a":
        ctx.sync()
        start = time.monotonic()
        make_tree(tree, spec, KIB4)
        create_only.append(time.monotonic() - start)
        subprocess.run(["cp", "-a", tree, target], check=True)
        done = time.monotonic()  # cp says it is done when it exits; the check is untimed
        _, missing = wait_tree(os.path.join(target, "b"), spec, KIB4, timeout, 0.001)
        return done - start, missing
    daemon = start_daemon(ctx, tool, source, target)
    try:
        ctx.sync()
        start = time.monotonic()
        make_tree(tree, spec, KIB4)
        seen, missing = wait_tree(os.path.join(target, "b"), spec, KIB4, timeout, 0.005,
                                  daemon.process)
        return seen - start, missing
    finally:
        daemon.stop()


# ---------------------------------------------------------------------------------------
# 3 + 4. Initial sync (cold and no-op) at every size of the scaling series; watch setup


def initial_and_scaling(ctx):
    """Cold (empty target): tetherd, rsync -a, lsyncd rsync and cp -a, the floor the
    performance bar is set against, plus cp -a followed by a sync of the target's file
    system: the durability tetherd's figure includes and cp -a's leaves out; and tetherd
    --no-durable, which leaves it out too (its ratios to the one-shot peers are rows of
    their own). No-op (target identical): tetherd (durable), rsync -a and lsyncd; the cp
    runs have no such mode (they would copy everything again)."""
    plan = ctx.plan["scaling"]
    noop_tools = ["tetherd", "rsync -a"] + (["lsyncd rsync"] if have("lsyncd") else [])
    tools = noop_tools + [NOT_DURABLE, "cp -a", CP_AND_SYNC]
    if not have("lsyncd"):
        skip_missing(ctx, "3 initial sync", "cold", "lsyncd", ["lsyncd rsync"])
    for size in plan["sizes"]:
        scenario = "3 initial sync" if size["files"] == plan["headline"] else "4 scaling"
        scaling_point(ctx, scenario, size, tools, noop_tools)


def scaling_point(ctx, scenario, size, tools, noop_tools):
    """One size of the series: its source tree, every run of every tool, watch setup.
    In the work directory unless the size says scratch_image (see scratch_image_runs)."""
    files, reps, file_size = size["files"], size["reps"], size["bytes"]
    spec = tree_spec(files, 20)
    label = f"{files:,} files ({file_size} B) in {len(spec):,} dirs"
    # cold, no-op: the first run against the target the cold run left; again: a second
    # one. They differ for tetherd only: its listing cache is saved by a run whose target
    # directories were stable (the cold run created them all), so the first no-op lists
    # the target and the second confirms it (README "How it copies").
    figures = {kind: {tool: [] for tool in (tools if kind.startswith("cold") else noop_tools)}
               for kind in ("cold", "cold rss", "no-op", "no-op rss", "no-op again")}
    with contextlib.ExitStack() as images:
        if size.get("scratch_image"):
            # The source gets an image of its own rather than sharing the targets': made
            # once, it must outlive the targets' image, dropped after every run (sharing
            # one would mean keeping every run's targets again), and unmounting that image
            # evicts only its own cached inodes, dentries and pages, so the source stays
            # warm as in the work directory. Its own journal also keeps the atime updates
            # of reading it apart from the commits of the targets' writes, which tetherd's
            # syncs wait for.
            target_geometry = Geometry(spec, file_size, len(tools))
            source_geometry = Geometry(spec, file_size, 1)
            needed = source_geometry.used + target_geometry.used + GIB
            image_dir = None
            if size["scratch_image"] == "ram":
                # Images in RAM: the copying is then CPU-bound and repeatable, where the
                # bench directory's disk made cp -a take 2 to 9 s from run to run.
                image_dir = images.enter_context(ram_image_dir(needed))
                if image_dir is None:
                    ctx.log(f"scaling: no room on /dev/shm for the {files:,}-file point; "
                            "its images go in the bench directory")
            if image_dir is None:
                check_room(ctx.work.root, needed, f"the {files:,}-file point (scratch images)")
            ctx.log(f"scaling: source image for {files} files: "
                    f"{source_geometry.size // GIB} GiB, {source_geometry.inodes} inodes")
            image = images.enter_context(ScratchImage(ctx.work, f"scale{files}-src",
                                                      source_geometry, image_dir))
            ctx.results.images.append((files, "source", image.describe()))
            home = image.path
        else:
            home = ctx.work.fresh(f"scale{files}-src")
        ctx.log(f"scaling: creating the source tree of {files} files of {file_size} B")
        source = os.path.join(home, "tree")
        make_tree(source, spec, file_size)
        if size.get("scratch_image"):
            scratch_image_runs(ctx, size, spec, source, tools, noop_tools, figures,
                               target_geometry, image_dir)
        else:
            work_dir_runs(ctx, size, spec, source, tools, noop_tools, figures)
        for tool in tools:
            ctx.results.add(scenario, f"cold, {label}: time", tool, "s", figures["cold"][tool],
                            "cold only: cp has no no-op mode" if tool.startswith("cp -a")
                            else "cold only: its no-op runs are tetherd's"
                            if tool == NOT_DURABLE else "")
            ctx.results.add(scenario, f"cold, {label}: peak RSS", tool, "MiB",
                            figures["cold rss"][tool])
            if tool in noop_tools:
                ctx.results.add(scenario, f"no-op, {label}: time", tool, "s",
                                figures["no-op"][tool],
                                "until lsyncd logs its startup finished" if "lsyncd" in tool
                                else "first run after the cold one" if tool == "tetherd"
                                else "")
                ctx.results.add(scenario, f"no-op again, {label}: time", tool, "s",
                                figures["no-op again"][tool],
                                "with the listing cache the first no-op saved"
                                if tool == "tetherd" else "")
            ctx.results.scaling.append((files, tool, "initial", figures["cold"][tool],
                                        figures["cold rss"][tool]))
        # The same cold figures again, as ratios of tetherd --no-durable to the one-shot
        # peers that do not sync either.
        for tool in [NOT_DURABLE, "rsync -a", "cp -a"]:
            ctx.results.add(scenario, f"cold, {label}: time, not durable", tool, "s",
                            figures["cold"][tool], ref=NOT_DURABLE)
        watch_setup_series(ctx, source, files, reps)


def work_dir_runs(ctx, size, spec, source, tools, noop_tools, figures):
    """Targets in the work directory, kept to the end: every cold run (tools alternating
    within a repetition), then every no-op run, then every no-op-again run."""
    targets = {tool: [] for tool in tools}
    for rep in range(size["reps"]):
        for tool in tools:
            target = os.path.join(ctx.work.fresh(f"scale{size['files']}-dst"), "tree")
            scaling_cold(ctx, size, spec, rep, tool, source, target, figures)
            targets[tool].append(target)
    for again in (False, True):
        for rep in range(size["reps"]):
            for tool in noop_tools:
                scaling_noop(ctx, size, rep, tool, source, targets[tool][rep], figures, again)


def scratch_image_runs(ctx, size, spec, source, tools, noop_tools, figures, geometry,
                       image_dir):
    """Repetition by repetition, each on a fresh ScratchImage holding the targets of every
    tool: cold for every tool, no-op for every tool, no-op again for every tool, then the
    image is unmounted and deleted (one unlink: no mass deletion to slow the next run). Its
    mount point is a fresh path too, so tetherd's listing cache (keyed by target path)
    never sees the target of an earlier repetition."""
    for rep in range(size["reps"]):
        ctx.log(f"initial {size['files']} run {rep + 1}/{size['reps']}: targets image, "
                f"{geometry.size // GIB} GiB, {geometry.inodes} inodes")
        with ScratchImage(ctx.work, f"scale{size['files']}-dst{rep + 1}", geometry,
                          image_dir) as image:
            if rep == 0:
                ctx.results.images.append((size["files"], "targets (a fresh one per run)",
                                           image.describe()))
            targets = {}
            for tool in tools:
                home = os.path.join(image.path, re.sub(r"[^A-Za-z0-9]+", "-", tool))
                os.mkdir(home)
                targets[tool] = os.path.join(home, "tree")
                scaling_cold(ctx, size, spec, rep, tool, source, targets[tool], figures)
            for again in (False, True):
                for tool in noop_tools:
                    scaling_noop(ctx, size, rep, tool, source, targets[tool], figures, again)


def scaling_cold(ctx, size, spec, rep, tool, source, target, figures):
    ctx.log(f"initial {size['files']} cold {tool} run {rep + 1}/{size['reps']}")
    elapsed, rss = initial_cold(ctx, tool, source, target, spec, size["bytes"],
                                size["timeout"])
    figures["cold"][tool].append(elapsed)
    figures["cold rss"][tool].append(rss / 1024)


def scaling_noop(ctx, size, rep, tool, source, target, figures, again):
    kind = "no-op again" if again else "no-op"
    ctx.log(f"initial {size['files']} {kind} {tool} run {rep + 1}/{size['reps']}")
    elapsed, rss = initial_noop(ctx, tool, source, target, size["timeout"])
    figures[kind][tool].append(elapsed)
    if not again:
        figures["no-op rss"][tool].append(rss / 1024)


CP_AND_SYNC = "cp -a + sync"  # a reference for the cold initial sync, not a peer
NOT_DURABLE = "tetherd --no-durable"  # tetherd leaving the writeback to the kernel, as cp


def one_shot_argv(ctx, tool, source, target):
    """The command of a one-shot tool that makes target a copy of the directory source.
    cp -a: target must not exist yet (cp then creates it, not target/tree). CP_AND_SYNC:
    cp -a, then `sync -f` (syncfs) of the target's file system, as tetherd syncs it."""
    if tool in ("tetherd", NOT_DURABLE):
        return [ctx.tetherd, "mirror", source, target, "--once", "--log-format", "none", "-q",
                *(["--no-durable"] if tool == NOT_DURABLE else [])]
    if tool == "rsync -a":
        return ["rsync", "-a", source + "/", target + "/"]
    if tool == CP_AND_SYNC:
        return ["sh", "-c", 'cp -a "$1" "$2" && exec sync -f "$2"', "sh", source, target]
    return ["cp", "-a", source, target]


def initial_cold(ctx, tool, source, target, spec, file_size, timeout):
    """Empty target: copy everything. A one-shot tool is timed until it exits, then the
    target is checked complete (untimed); lsyncd until the target polls complete."""
    ctx.sync()
    if tool in ("tetherd", NOT_DURABLE, "rsync -a", "cp -a", CP_AND_SYNC):
        argv = one_shot_argv(ctx, tool, source, target)
        elapsed, rss = run_timed(argv)
        _, missing = wait_tree(target, spec, file_size, 5, 0.001)
        if missing:
            raise BenchError(f"{tool} exited 0 but {missing} files are missing in {target}")
        return elapsed, rss
    start = time.monotonic()
    daemon = Lsyncd(ctx.work, source, target, tool.split()[1])
    try:
        interval = 0.002 if len(spec) < 1000 else 0.02
        seen, missing = wait_tree(target, spec, file_size, timeout, interval, daemon.process,
                                  daemon.peak.sample)
        if missing:
            raise BenchError(f"{tool} startup left {missing} files missing after {timeout} s")
        return seen - start, daemon.peak.kib()
    finally:
        daemon.stop()


def initial_noop(ctx, tool, source, target, timeout):
    """Target already identical: how long to find out there is nothing to do."""
    ctx.sync()
    if tool in ("tetherd", "rsync -a"):
        return run_timed(one_shot_argv(ctx, tool, source, target))
    start = time.monotonic()
    daemon = Lsyncd(ctx.work, source, target, tool.split()[1])
    try:
        daemon.wait_ready(timeout)
        return time.monotonic() - start, daemon.peak.kib()
    finally:
        daemon.stop()


def watch_ready(argv, marker, timeout=600):
    """Starts a watcher and reads its stderr until marker: (process, seconds)."""
    began = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    while marker not in seen:
        readable, _, _ = select.select([process.stderr], [], [], timeout)
        if not readable:
            process.kill()
            raise BenchError(f"{argv[0]} was not watching within {timeout} s")
        chunk = os.read(process.stderr.fileno(), 65536)
        if not chunk:
            raise BenchError(f"{argv[0]} exited: {seen.decode(errors='replace')}")
        seen += chunk
    return process, time.monotonic() - began


WATCH_MASK = "create,delete,modify,close_write,attrib,move"  # what tetherd watches


def watchers(ctx, root):
    found = {"tetherd watch": ([ctx.tetherd, "watch", root], b"watching ")}
    if have("inotifywait"):
        found["inotifywait -m -r"] = (["inotifywait", "-m", "-r", "-e", WATCH_MASK, root],
                                      b"Watches established")
    return found


def watch_setup_series(ctx, root, files, reps):
    """tetherd watch vs inotifywait -m -r on the scaling tree: time to watching, RSS."""
    times, rss = {}, {}
    for rep in range(reps):
        for name, (argv, marker) in watchers(ctx, root).items():
            ctx.sync()
            process, elapsed = watch_ready(argv, marker)
            times.setdefault(name, []).append(elapsed)
            rss.setdefault(name, []).append(rss_kib(process.pid) / 1024)
            process.terminate()
            process.wait(timeout=60)
    if not have("inotifywait"):
        skip_missing(ctx, "4 scaling", f"watch setup, {files:,} files", "inotify-tools",
                     ["inotifywait -m -r"])
    for name in times:
        ctx.results.add("4 scaling", f"watch setup, {files:,} files / {files // 20:,} dirs: time",
                        name, "s", times[name], ref="tetherd watch")
        ctx.results.add("4 scaling", f"watch setup, {files:,} files / {files // 20:,} dirs: RSS",
                        name, "MiB", rss[name], ref="tetherd watch")
        ctx.results.scaling.append((files, name, "watch", times[name], rss[name]))


# ---------------------------------------------------------------------------------------
# 5. Watch setup and idle on 20,000 directories


def watch_and_idle(ctx):
    plan = ctx.plan["watch"]
    dirs = plan["dirs"]
    names = ["tetherd watch"] + (["inotifywait -m -r"] if have("inotifywait") else [])
    names += ["tetherd mirror"] + (["lsyncd direct"] if have("lsyncd") else [])
    if not have("inotifywait"):
        skip_missing(ctx, "5 watch + idle", "time to watching", "inotify-tools",
                     ["inotifywait -m -r"])
    if not have("lsyncd"):
        skip_missing(ctx, "5 watch + idle", "time to watching", "lsyncd", ["lsyncd direct"])
    times = {name: [] for name in names}
    rss = {name: [] for name in names}
    running = {}
    for rep in range(plan["reps"]):
        last = rep == plan["reps"] - 1
        for name in names:
            ctx.log(f"watch setup {name} run {rep + 1}/{plan['reps']}")
            root = os.path.join(ctx.work.fresh("watch"), "src")
            make_dirs(root, dirs)
            if name in ("tetherd mirror", "lsyncd direct"):
                # Target already identical: the figure is watching, not copying.
                target = os.path.join(os.path.dirname(root), "dst")
                subprocess.run(["cp", "-a", root, target], check=True)
                ctx.sync()
                start = time.monotonic()
                daemon = start_daemon(ctx, "tetherd" if name == "tetherd mirror"
                                      else "lsyncd direct", root, target)
                times[name].append(time.monotonic() - start)
                rss[name].append(rss_kib(daemon.pid()) / 1024)
                if last:
                    running[name] = daemon
                else:
                    daemon.stop()
            else:
                ctx.sync()
                argv, marker = watchers(ctx, root)[name]
                process, elapsed = watch_ready(argv, marker)
                times[name].append(elapsed)
                rss[name].append(rss_kib(process.pid) / 1024)
                if last:
                    running[name] = process
                else:
                    process.terminate()
                    process.wait(timeout=60)
    # The idle window: every tool of the last round watches its own tree at once.
    ctx.log(f"idle: {len(running)} tools watching for {plan['idle']} s")
    pids = {name: (value.pid() if hasattr(value, "pid") and callable(value.pid)
                   else value.pid) for name, value in running.items()}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(plan["idle"])  # the measured idle window itself, not a synchronisation
    idle_cpu = {name: (cpu_seconds(pid) - before[name]) * 1000 for name, pid in pids.items()}
    for value in running.values():
        if hasattr(value, "stop"):
            value.stop()
        else:
            value.terminate()
            value.wait(timeout=60)
    label = f"{dirs:,} dirs"
    for name in names:
        ref = "tetherd watch" if name in ("tetherd watch", "inotifywait -m -r") else \
            "tetherd mirror"
        ctx.results.add("5 watch + idle", f"{label}: time to watching", name, "s", times[name],
                        "target identical; includes the no-op reconciliation"
                        if name in ("tetherd mirror", "lsyncd direct") else "", ref=ref)
        ctx.results.add("5 watch + idle", f"{label}: RSS watching", name, "MiB", rss[name],
                        ref=ref)
        ctx.results.add("5 watch + idle", f"{label}: CPU over {plan['idle']} s idle", name,
                        "ms", [idle_cpu[name]], "one window, all tools at once", ref=ref)


# ---------------------------------------------------------------------------------------
# 6. Big file and rename


def big_file(ctx):
    plan = ctx.plan["big"]
    size = plan["mib"] << 20
    master_dir = ctx.work.fresh("big-master")
    master = os.path.join(master_dir, "big.bin")
    ctx.log(f"big file: writing {plan['mib']} MiB")
    chunk = os.urandom(1 << 20)
    with open(master, "wb") as handle:
        for _ in range(plan["mib"]):
            handle.write(chunk)
    label = f"{plan['mib']} MiB file"
    copy = {"tetherd": [], "cp": []}
    for rep in range(plan["reps"]):
        for tool in copy:
            ctx.log(f"big file copy {tool} run {rep + 1}/{plan['reps']}")
            target = ctx.work.fresh("big-copy")
            ctx.sync()
            argv = ([ctx.tetherd, "mirror", master_dir, target, "--once", "--log-format",
                     "none", "-q"] if tool == "tetherd" else ["cp", master, target + "/"])
            elapsed, _ = run_timed(argv)
            _, missing = wait_tree(target, {".": ["big.bin"]}, size, 5, 0.001)
            if missing:
                raise BenchError(f"{tool} did not produce {target}/big.bin")
            copy[tool].append(elapsed)
    for tool, values in copy.items():
        ctx.results.add("6 big file", f"{label}: copy", tool, "s", values)

    tools = daemon_tools(ctx)
    if not have("lsyncd"):
        skip_missing(ctx, "6 big file", "rename", "lsyncd", ["lsyncd direct", "lsyncd rsync"])
    for tool in tools:
        source, target = ctx.work.fresh("big-src"), ctx.work.fresh("big-dst")
        os.link(master, os.path.join(source, "r0.bin"))  # a hard link: no extra space
        ctx.log(f"big file rename {tool}: initial copy")
        daemon = start_daemon(ctx, tool, source, target, verbose_log=True)
        times, written = [], []
        try:
            wait_tree(target, {".": ["r0.bin"]}, size, 600, 0.01, daemon.process)
            wait_for(lambda: not children(daemon.pid()), 60, 0.01, f"{tool}'s children to end")
            for rep in range(plan["reps"]):
                ctx.log(f"big file rename {tool} run {rep + 1}/{plan['reps']}")
                old, new = f"r{rep}.bin", f"r{rep + 1}.bin"
                ctx.sync()
                before = written_bytes(daemon.pid())
                start = time.monotonic()
                os.rename(os.path.join(source, old), os.path.join(source, new))
                seen, _ = wait_tree(target, {".": [new]}, size, 600, 0.001, daemon.process)
                wait_for(lambda: not os.path.exists(os.path.join(target, old)), 600, 0.001,
                         f"{tool} to remove the old name")
                times.append(max(seen, time.monotonic()) - start)
                wait_for(lambda: not children(daemon.pid()), 60, 0.01,
                         f"{tool}'s children to end")
                written.append((written_bytes(daemon.pid()) - before) / (1 << 20))
        finally:
            daemon.stop()
        note = ("file data the daemon and its children wrote (write_bytes of /proc/PID/io, "
                "includes its own log)")
        if tool == "tetherd":
            note += f"; event log: {daemon.events('move')} move events"
        ctx.results.add("6 big file", f"{label}: rename in source→target renamed", tool, "s",
                        times)
        ctx.results.add("6 big file", f"{label}: rename: MiB written", tool, "MiB", written,
                        note, ratio=False)


# ---------------------------------------------------------------------------------------
# 7. Overflow recovery


def overflow(ctx):
    plan = ctx.plan["overflow"]
    spec = tree_spec(plan["files"], plan["files"] // plan["dirs"])
    # lsyncd default.rsync only: default.direct spawns a cp per event and cannot keep up
    # with a burst at all (scenario 2), so it would only measure its timeout here.
    tools = ["tetherd"] + (["lsyncd rsync"] if have("lsyncd") else [])
    if not have("lsyncd"):
        skip_missing(ctx, "7 overflow", "converge", "lsyncd", ["lsyncd rsync"])
    figures = {tool: [] for tool in tools}
    notes, overflowed = {}, {tool: 0 for tool in tools}
    for rep in range(plan["reps"]):
        for tool in tools:
            if tool in notes:
                continue
            ctx.log(f"overflow {tool} run {rep + 1}/{plan['reps']}")
            source, target = ctx.work.fresh("ovf-src"), ctx.work.fresh("ovf-dst")
            # The directories exist and are watched (mirrored) before the daemon stops, so
            # the kernel queues an event per file and overflows.
            tree = os.path.join(source, "o")
            os.mkdir(tree)
            for directory in spec:
                os.mkdir(os.path.join(tree, directory))
            daemon = start_daemon(ctx, tool, source, target, verbose_log=True)
            try:
                wait_for(lambda: all(os.path.isdir(os.path.join(target, "o", directory))
                                     for directory in spec), 60, 0.01,
                         f"{tool} to mirror the directories")
                daemon.suspend()
                make_tree(tree, spec, KIB4, files_only=True)
                ctx.sync()
                start = time.monotonic()
                daemon.resume()
                seen, missing = wait_tree(os.path.join(target, "o"), spec, KIB4,
                                          plan["timeout"], 0.005, daemon.process)
                figures[tool].append(seen - start)
                if missing:
                    notes[tool] = (f"timed out: {missing} of {plan['files']} files missing "
                                   f"after {plan['timeout']} s; not repeated")
            finally:
                daemon.resume()
                daemon.stop()
            # Counted once the daemon has stopped: its log is complete then.
            if tool == "tetherd":
                overflowed[tool] += daemon.events("overflow") > 0
            else:
                overflowed[tool] += daemon.log_count("OVERFLOW") > 0
    for tool in tools:
        note = notes.get(tool, "")
        runs = len(figures[tool])
        note = (note + "; " if note else "") + \
            f"queue overflow logged in {overflowed[tool]} of {runs} runs"
        ctx.results.add("7 overflow", f"{plan['files']:,} files created while stopped: "
                        "SIGCONT→target complete", tool, "s", figures[tool], note,
                        timed_out=tool in notes)
