"""The tools under test, behind one small interface each, and the measuring primitives
they share: fresh trees, scratch filesystems, target polling, RSS and CPU readings.

Completion is detected the same way for every tool: the target is polled until every
expected file is there with its full size (wait_tree). A daemon's own readiness signal
(tetherd settle, lsyncd's "Startup ... finished" log line) is only used to know when the
daemon is watching, never as the completion figure of a copy.
"""

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class BenchError(RuntimeError):
    """A scenario could not run (a tool failed or misbehaved): the run fails."""


class Work:
    """Fresh directories under one work root. Nothing is deleted until the whole run ends:
    on this journal-less ext4, creating files right after mass deletions is up to 30x
    slower for minutes (measured here). The exception, ScratchImage, is one big file
    per filesystem, deleted with one unlink."""

    def __init__(self, parent):
        self.root = tempfile.mkdtemp(prefix="tetherd-bench-", dir=parent)
        self.counter = 0

    def fresh(self, name):
        self.counter += 1
        path = os.path.join(self.root, f"{self.counter:04d}-{name}")
        os.mkdir(path)
        return path

    def remove(self):
        """Deletes the root. A scratch filesystem still mounted under it (a cleanup cut
        short) is unmounted first; if one cannot be, even lazily, the root is left in place
        with a warning: rmtree must never walk into a mounted image."""
        stuck = [path for path in mount_points(self.root) if not unmount(path)]
        if stuck:
            print(f"run_bench: not removing {self.root}: still mounted: {', '.join(stuck)}",
                  file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Trees: a spec is {relative directory: [file names]}, all files of one size.


def tree_spec(files, per_dir):
    spec = {}
    for index in range(files):
        spec.setdefault(f"d{index // per_dir:05d}", []).append(f"f{index:07d}")
    return spec


def make_tree(root, spec, size, files_only=False, unique=False):
    """Creates the tree of spec under root (root must not exist yet). files_only: root and
    its directories exist already, only the files are created. unique: random bytes, other
    in every file (s3cmd sends a file whose MD5 it has sent already as a server-side copy,
    so identical files would measure that shortcut instead of uploads)."""
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
            if size:
                os.write(fd, os.urandom(size) if unique else data)
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
# Scratch filesystems: an ext4 image per tree set, loop-mounted, dropped with one unlink.

BLOCK = 4096
INODE_SIZE = 256
JOURNAL_MIB = 128
GIB = 1 << 30
# -b/-I/-J fixed so that every image has the same block, inode and journal size whatever its
# size. lazy_itable_init=0, lazy_journal_init=0: mkfs initialises the inode tables and the
# journal itself (on a sparse file it punches holes or writes zeros: quick), so no
# ext4lazyinit thread zeroes inode tables in the background while a run is measured.
MKFS_OPTIONS = ["-q", "-F", "-b", str(BLOCK), "-I", str(INODE_SIZE), "-m", "0",
                "-J", f"size={JOURNAL_MIB}", "-E", "lazy_itable_init=0,lazy_journal_init=0"]


class Geometry:
    """What an ext4 image needs to hold copies of a tree, each in a directory of its own
    (DIR/tree): size (bytes, apparent: the file is sparse), inodes (for mkfs -N) and used
    (bytes it can come to take on the work filesystem: the room to check for)."""

    def __init__(self, spec, file_size, copies):
        names = [name for names in spec.values() for name in names]
        # Every directory takes at least one block; 1.5 × its entries' bytes covers the
        # htree index and partly filled leaves of the big ones.
        dir_blocks = 1 + _dir_blocks(spec) + sum(_dir_blocks(names) for names in spec.values())
        file_blocks = len(names) * -(-file_size // BLOCK)
        # 20 % more inodes than entries: temporary files of the tools, lost+found.
        self.inodes = math.ceil(copies * (len(names) + len(spec) + 2) * 1.2) + 1024
        self.used = (copies * (dir_blocks + file_blocks) * BLOCK + self.inodes * INODE_SIZE
                     + (JOURNAL_MIB << 20) + (64 << 20))
        # One block group's inode bitmap is one block: at most one inode per block, so the
        # inode count, not the bytes, sets the size of an image of small files.
        wanted = max(self.used * 1.5, self.inodes * BLOCK * 1.25, GIB)
        self.size = -(-int(wanted) // GIB) * GIB


def _dir_blocks(names):
    entries = sum(8 + -(-len(name) // 4) * 4 for name in names) + 24  # with . and ..
    return max(1, math.ceil(entries * 1.5 / BLOCK))


def check_room(path, needed, what):
    """Raises BenchError unless the filesystem of path has needed bytes free."""
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    if free < needed:
        raise BenchError(f"{what} needs {needed / GIB:.1f} GiB free in {path}, which has "
                         f"{free / GIB:.1f} GiB: give --work a filesystem with more room, "
                         "or leave the point out with --max-files")


class ScratchImage:
    """An ext4 filesystem of its own: a sparse image file in the work root, made by mkfs.ext4
    (MKFS_OPTIONS, -N for geometry's inodes) and loop-mounted (mount -o loop, which detaches
    the loop device on unmount) on a fresh directory, path. A context manager: on the way
    out, however it is left (an exception, Ctrl-C), the filesystem is unmounted (unmount)
    and the image deleted, one unlink of one file. BenchError when it cannot be made or
    mounted (no loop devices, not root)."""

    def __init__(self, work, name, geometry, image_dir=None):
        self.work = work
        self.name = name
        self.geometry = geometry
        self.image_dir = image_dir  # None: next to the mount point, in the work root
        self.path = None
        self.image = None
        self.mkfs = ["mkfs.ext4", *MKFS_OPTIONS, "-N", str(geometry.inodes)]

    def __enter__(self):
        try:
            self.path = self.work.fresh(self.name)
            self.image = (os.path.join(self.image_dir, os.path.basename(self.path) + ".img")
                          if self.image_dir else self.path + ".img")
            with open(self.image, "xb") as handle:
                handle.truncate(self.geometry.size)
            _run_or_fail([*self.mkfs, self.image], "mkfs.ext4")
            _run_or_fail(["mount", "-o", "loop", self.image, self.path], "mount -o loop")
        except BaseException:
            self.drop()
            raise
        return self

    def __exit__(self, *_):
        self.drop()

    def drop(self):
        """Unmounts and deletes the image; idempotent. SIGINT and SIGTERM wait until it is
        done, so a second Ctrl-C does not cut it short."""
        with signals_deferred():
            if self.path and os.path.ismount(self.path) and not unmount(self.path):
                print(f"run_bench: {self.path} is still mounted", file=sys.stderr)
            if self.image:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.image)

    def describe(self):
        """The image, its mkfs command and its mount, for RESULTS.md."""
        mount = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", self.path],
                               capture_output=True, text=True).stdout.split()
        where = (f"in RAM ({self.image_dir}, tmpfs)" if self.image_dir
                 else "in the bench directory")
        return (f"{self.geometry.size // GIB} GiB sparse image {where}, "
                f"`{' '.join(self.mkfs)} IMAGE`, `mount -o loop`: {' '.join(mount)}")


@contextlib.contextmanager
def ram_image_dir(needed):
    """A fresh directory on /dev/shm (tmpfs) for scratch images, removed on the way out; or
    None when there is no /dev/shm tmpfs with `needed` bytes free."""
    try:
        stat = os.statvfs("/dev/shm")
    except OSError:
        yield None
        return
    if stat.f_bavail * stat.f_frsize < needed:
        yield None
        return
    path = tempfile.mkdtemp(prefix="tetherd-bench-", dir="/dev/shm")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run_or_fail(argv, what):
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"{what} failed ({result.returncode}): "
                         f"{(result.stderr or result.stdout).strip()[-1000:]}")


@contextlib.contextmanager
def signals_deferred():
    """SIGINT and SIGTERM are held until the block ends (then delivered)."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def mount_points(under):
    """Mount points at or below the directory under, deepest first (/proc/self/mountinfo)."""
    prefix = os.path.realpath(under)
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)),
                           line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount(path):
    """Unmounts the filesystem at path: umount; if that fails (busy), the processes still
    using it are killed and umount is tried again (nothing but a tool this run started knows
    the path: one an interrupt left running, such as an rsync lsyncd had spawned); last
    umount -l, which detaches it at once (the loop device goes with its last user). True
    when path is no longer a mount point."""
    for step in ("umount", "kill", "lazy"):
        if not os.path.ismount(path):
            return True
        if step == "kill":
            for pid in users(path):
                print(f"run_bench: killing pid {pid}, still using {path}", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(BenchError):
                wait_for(lambda: not users(path), 10, 0.05, f"the users of {path} to exit")
        argv = ["umount", "-l", path] if step == "lazy" else ["umount", path]
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(argv, capture_output=True, timeout=300)
    return not os.path.ismount(path)


def users(path):
    """PIDs of the processes other than this one whose cwd, root or an open file is at or
    under path."""
    prefix = os.path.realpath(path)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        links = []
        for link in ("cwd", "root", *(f"fd/{fd}" for fd in _fds(entry))):
            with contextlib.suppress(OSError):
                links.append(os.readlink(f"/proc/{entry}/{link}"))
        if any(link == prefix or link.startswith(prefix + "/") for link in links):
            found.append(int(entry))
    return found


def _fds(pid):
    try:
        return os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []


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


class TimedOut(BenchError):
    """A tool was still running at its deadline, and was killed."""

    def __init__(self, argv, timeout):
        super().__init__(f"{argv[0]} was still running after {timeout} s (killed)")
        self.timeout = timeout


def run_timed(argv, cwd=None, env=None, timeout=None):
    """Runs argv to completion under /usr/bin/time: (elapsed s, peak RSS KiB). Raises
    BenchError with the tool's stderr when it fails, TimedOut when it is still running after
    timeout s. It runs in a session of its own, killed whole when this one is interrupted or
    its time is up: killing time alone would leave the tool running."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        start = time.monotonic()
        process = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", report.name, *argv],
                                   cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, stderr = process.communicate(timeout=timeout)
        except BaseException as error:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if isinstance(error, subprocess.TimeoutExpired):
                raise TimedOut(argv, timeout) from None
            raise
        elapsed = time.monotonic() - start
        if process.returncode != 0:
            raise BenchError(f"{' '.join(argv)} failed ({process.returncode}): "
                             f"{stderr.decode(errors='replace')[-2000:]}")
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
    """tetherd mirror SOURCE TARGET --delay 0, live. extra: more arguments (the key and
    known_hosts of an sftp:// target, the endpoint and credentials of an s3:// one)."""

    def __init__(self, binary, work, source, target, verbose_log=False, extra=()):
        self.binary = binary
        control = work.fresh("tetherd-control")
        self.socket = os.path.join(control, "control.sock")
        self.log = os.path.join(control, "events.jsonl")
        argv = [binary, "mirror", source, target, "--delay", "0", "--socket", self.socket,
                "--log-file", self.log, "--log-format", "none", *extra]
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
    globally and per sync (its default of 1 serialises every action), insist, nodaemon.
    remote: for default.rsyncssh, the lines of its sync that name the host, the target
    directory and ssh's options (target is None then); lsyncd refuses more than one process
    for rsyncssh, so it gets maxProcesses 1."""

    def __init__(self, work, source, target, mode, remote=None):
        config_dir = work.fresh(f"lsyncd-{mode}")
        self.log = os.path.join(config_dir, "lsyncd.log")
        config = os.path.join(config_dir, "lsyncd.conf.lua")
        processes = 1 if mode == "rsyncssh" else LSYNCD_PROCESSES
        where = remote if remote is not None else [f'target = "{target}",']
        with open(config, "w") as handle:
            handle.write(
                "settings {\n"
                f'  logfile = "{self.log}",\n'
                "  nodaemon = true,\n"
                "  insist = true,\n"
                f"  maxProcesses = {processes},\n"
                "}\n"
                "sync {\n"
                f"  default.{mode},\n"
                f'  source = "{source}",\n'
                + "".join(f"  {line}\n" for line in where) +
                "  delay = 0,\n"
                f"  maxProcesses = {processes},\n"
                "}\n")
        if target is not None:
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
