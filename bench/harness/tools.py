"""The tools under test, behind one small interface each, and the measuring primitives
they share: fresh trees, target polling, RSS and CPU readings.

Completion is detected the same way for every tool: the target is polled until every
expected file is there with its full size (wait_tree). A daemon's own readiness signal
(tetherd settle, lsyncd's "Startup ... finished" log line) is only used to know when the
daemon is watching, never as the completion figure of a copy.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time


class BenchError(RuntimeError):
    """A scenario could not run (a tool failed or misbehaved): the run fails."""


class Work:
    """Fresh directories under one work root. Nothing is deleted until the whole run ends:
    on this journal-less ext4, creating files right after mass deletions is up to 30x
    slower for minutes (TESTING-RECIPES.md)."""

    def __init__(self, parent):
        self.root = tempfile.mkdtemp(prefix="tetherd-bench-", dir=parent)
        self.counter = 0

    def fresh(self, name):
        self.counter += 1
        path = os.path.join(self.root, f"{self.counter:04d}-{name}")
        os.mkdir(path)
        return path

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Trees: a spec is {relative directory: [file names]}, all files of one size.


def tree_spec(files, per_dir):
    spec = {}
    for index in range(files):
        spec.setdefault(f"d{index // per_dir:05d}", []).append(f"f{index:07d}")
    return spec


def make_tree(root, spec, size, files_only=False):
    """Creates the tree of spec under root (root must not exist yet). files_only: root and
    its directories exist already, only the files are created."""
    if not files_only:
        os.mkdir(root)
    data = b"t" * size
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for directory, names in spec.items():
        path = os.path.join(root, directory)
        if not files_only:
            os.mkdir(path)
        for name in names:
            fd = os.open(os.path.join(path, name), flags, 0o644)
            if data:
                os.write(fd, data)
            os.close(fd)


def make_dirs(root, count):
    """A tree of count directories, two levels, sqrt fan-out (the watch-setup shape)."""
    os.mkdir(root)
    width = max(1, int(count**0.5))
    made = top = 0
    while made < count:
        parent = os.path.join(root, f"d{top}")
        os.mkdir(parent)
        made += 1
        top += 1
        for sub in range(width):
            if made >= count:
                break
            os.mkdir(os.path.join(parent, f"s{sub}"))
            made += 1


def wait_tree(target, spec, size, timeout, interval, process=None, sample=None):
    """Polls target until every file of spec is there with the expected size. Returns
    (monotonic time seen complete, files still missing). Missing > 0 means the timeout
    passed. Directories are checked in spec order and a round stops at the first one that is
    not complete yet, so a round costs little while the copy is running; the last round
    goes over every remaining directory, so detection lags completion by at most one round
    plus interval. A watched process that exits with an error aborts the wait; sample, when
    given, is called every round (peak RSS of short-lived children)."""
    pending = list(spec.items())
    deadline = time.monotonic() + timeout
    while True:
        if sample is not None:
            sample()
        while pending:
            directory, names = pending[0]
            if not _directory_complete(os.path.join(target, directory), names, size):
                break
            pending.pop(0)
        if not pending:
            return time.monotonic(), 0
        if time.monotonic() > deadline:
            return time.monotonic(), _count_missing(target, pending, size)
        if process is not None and process.poll() not in (None, 0):
            raise BenchError(f"{process.args[0]} exited with status {process.returncode}")
        time.sleep(interval)


def _directory_complete(path, names, size):
    try:
        present = set(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return False
    if len(present) < len(names) or not present.issuperset(names):
        return False
    for name in names:
        try:
            if os.stat(os.path.join(path, name)).st_size != size:
                return False
        except FileNotFoundError:
            return False
    return True


def _count_missing(target, pending, size):
    missing = 0
    for directory, names in pending:
        for name in names:
            try:
                if os.stat(os.path.join(target, directory, name)).st_size != size:
                    missing += 1
            except FileNotFoundError:
                missing += 1
    return missing


def wait_for(predicate, timeout, interval, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------
# /proc readings


def hwm_kib(pid):
    """Peak resident set (VmHWM) of pid, KiB; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def written_bytes(pid):
    """write_bytes of /proc/PID/io: bytes of page cache the process dirtied for storage
    (file data, not pipes or sockets), including every child it has already reaped."""
    with open(f"/proc/{pid}/io") as handle:
        for line in handle:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    raise BenchError(f"no write_bytes in /proc/{pid}/io")


def cpu_seconds(pid):
    """utime + stime of pid and of its waited-for children."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks


class PeakRss:
    """Tracks the peak RSS of a daemon plus the largest child it has had, sampled whenever
    sample() is called (children such as lsyncd's rsync are short-lived: sampled while the
    target is polled)."""

    def __init__(self, pid):
        self.pid = pid
        self.child_peak = 0

    def sample(self):
        for child in children(self.pid):
            self.child_peak = max(self.child_peak, hwm_kib(child))

    def kib(self):
        return hwm_kib(self.pid) + self.child_peak


def run_timed(argv, cwd=None):
    """Runs argv to completion under /usr/bin/time: (elapsed s, peak RSS KiB). Raises
    BenchError with the tool's stderr when it fails."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        start = time.monotonic()
        result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv],
                                cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.monotonic() - start
        if result.returncode != 0:
            raise BenchError(f"{' '.join(argv)} failed ({result.returncode}): "
                             f"{result.stderr.decode(errors='replace')[-2000:]}")
        lines = [line for line in report.read().split("\n") if line.strip()]
        return elapsed, int(lines[-1])


# ---------------------------------------------------------------------------------------
# Daemons


class Daemon:
    """A running mirroring daemon (tetherd mirror or lsyncd)."""

    name = "?"

    def __init__(self, process):
        self.process = process
        self.peak = PeakRss(process.pid)

    def pid(self):
        return self.process.pid

    def suspend(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Tetherd(Daemon):
    def __init__(self, binary, work, source, target, verbose_log=False):
        self.binary = binary
        control = work.fresh("tetherd-control")
        self.socket = os.path.join(control, "control.sock")
        self.log = os.path.join(control, "events.jsonl")
        argv = [binary, "mirror", source, target, "--delay", "0", "--socket", self.socket,
                "--log-file", self.log, "--log-format", "none"]
        if not verbose_log:
            argv.append("-q")
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        super().__init__(process)
        self.name = "tetherd"

    def wait_ready(self, timeout=600):
        """Watching and initial reconciliation done (status answers, then settle)."""
        def answers():
            if self.process.poll() is not None:
                raise BenchError("tetherd mirror exited: "
                                 + self.process.stderr.read().decode(errors="replace"))
            return subprocess.run([self.binary, "status", "--socket", self.socket],
                                  capture_output=True).returncode == 0
        wait_for(answers, timeout, 0.005, "tetherd to answer on its control socket")
        self.settle(timeout)

    def settle(self, timeout=600):
        result = subprocess.run([self.binary, "settle", "--socket", self.socket, "--timeout",
                                 str(timeout)], capture_output=True)
        if result.returncode != 0:
            raise BenchError(f"tetherd settle failed ({result.returncode}): "
                             + result.stderr.decode(errors="replace"))

    def events(self, name):
        """Number of event-log lines whose event is name."""
        needle = f'"event":"{name}"'
        try:
            with open(self.log) as handle:
                return sum(1 for line in handle if needle in line)
        except FileNotFoundError:
            return 0


LSYNCD_PROCESSES = 8


class Lsyncd(Daemon):
    """lsyncd tuned for speed: delay = 0 (the smallest it accepts), maxProcesses 8 both
    globally and per sync (its default of 1 serialises every action), insist, nodaemon."""

    def __init__(self, work, source, target, mode):
        config_dir = work.fresh(f"lsyncd-{mode}")
        self.log = os.path.join(config_dir, "lsyncd.log")
        config = os.path.join(config_dir, "lsyncd.conf.lua")
        with open(config, "w") as handle:
            handle.write(
                "settings {\n"
                f'  logfile = "{self.log}",\n'
                "  nodaemon = true,\n"
                "  insist = true,\n"
                f"  maxProcesses = {LSYNCD_PROCESSES},\n"
                "}\n"
                "sync {\n"
                f"  default.{mode},\n"
                f'  source = "{source}",\n'
                f'  target = "{target}",\n'
                "  delay = 0,\n"
                f"  maxProcesses = {LSYNCD_PROCESSES},\n"
                "}\n")
        os.makedirs(target, exist_ok=True)
        process = subprocess.Popen(["lsyncd", config], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        super().__init__(process)
        self.name = f"lsyncd {mode}"

    def log_count(self, text):
        try:
            with open(self.log, errors="replace") as handle:
                return handle.read().count(text)
        except FileNotFoundError:
            return 0

    def startups_finished(self):
        return self.log_count("finished")

    def wait_ready(self, timeout=600, previous=0):
        """Its recursive startup rsync has finished (the log says so), watches are set."""
        def finished():
            if self.process.poll() is not None:
                raise BenchError(f"lsyncd exited with status {self.process.returncode}; "
                                 f"log {self.log}")
            self.peak.sample()
            return self.startups_finished() > previous
        wait_for(finished, timeout, 0.005, "lsyncd's startup to finish")
