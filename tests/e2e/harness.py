"""Helpers for end-to-end tests: run the real tetherd binary on real directories.

Every wait is on a condition with a deadline (mostly `tetherd settle`), never a fixed sleep.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import unittest

# The shared wait (tests/support/waiting.py), found from this file's location so that a
# suite run by hand imports it as ctest's run does; test_mirror imports it from here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                                "support"))
from waiting import wait_until

TETHERD = os.environ.get("TETHERD", "tetherd")


def snapshot(root):
    """Everything the mirror must reproduce: type, bytes, mode, mtime, link targets.

    Keys are relative paths as bytes. Directory mtimes are not mirrored (writing children
    changes them), so they are left out; the root's own mode is left out too."""
    root = os.fsencode(root)
    result = {}
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in dirs + files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            if os.path.basename(relative).startswith(b".tetherd"):
                continue
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                result[relative] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                result[relative] = ("dir", stat.S_IMODE(info.st_mode))
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    content = handle.read()
                result[relative] = ("file", content, stat.S_IMODE(info.st_mode), info.st_mtime_ns)
            else:
                result[relative] = ("other",)
    return result


def differences(source, target):
    a, b = snapshot(source), snapshot(target)
    problems = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            problems.append(f"missing on target: {key!r}")
        elif key not in a:
            problems.append(f"extra on target: {key!r}")
        elif a[key] != b[key]:
            def short(entry):
                return tuple(x[:40] if isinstance(x, bytes) and len(x) > 40 else x for x in entry)
            problems.append(f"differs: {key!r}: source {short(a[key])} target {short(b[key])}")
    return problems


class Daemon:
    """A running `tetherd mirror` (or `run`) with its own socket and JSON event log."""

    def __init__(self, workdir, args, name="d", env=None):
        self.workdir = workdir
        self.socket = os.path.join(workdir, f"{name}.sock")
        self.log_path = os.path.join(workdir, f"{name}.events.jsonl")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.stderr = open(self.stderr_path, "wb")
        command = [TETHERD] + args + ["--socket", self.socket, "--log-file", self.log_path,
                                      "--log-format", "none", "-v"]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=self.stderr,
                                        env=env)
        wait_until(lambda: self.process.poll() is not None or self.events("ready"),
                   what="the daemon to be ready")
        if self.process.poll() is not None:
            raise AssertionError(f"tetherd exited {self.process.returncode}: {self.stderr_text()}")

    def stderr_text(self):
        with open(self.stderr_path, "rb") as handle:
            return handle.read().decode(errors="replace")

    def events(self, name=None):
        if not os.path.exists(self.log_path):
            return []
        result = []
        with open(self.log_path, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                event = json.loads(line)
                if name is None or event["event"] == name:
                    result.append(event)
        return result

    def settle(self, timeout=60):
        completed = subprocess.run([TETHERD, "settle", "--socket", self.socket, "--timeout",
                                    str(timeout)], capture_output=True)
        if completed.returncode != 0:
            raise AssertionError(f"settle exited {completed.returncode}: "
                                 f"{completed.stderr.decode(errors='replace')}\n"
                                 f"daemon stderr: {self.stderr_text()}")

    def status(self):
        completed = subprocess.run([TETHERD, "status", "--json", "--socket", self.socket],
                                   capture_output=True, check=True)
        return json.loads(completed.stdout)

    def stop(self, expect=0):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.stderr.close()
        if expect is not None and code != expect:
            raise AssertionError(f"tetherd exited {code}, expected {expect}: {self.stderr_text()}")
        return code


class MirrorTestCase(unittest.TestCase):
    """A fresh source and target directory per test, removed afterwards."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="tetherd-e2e-")
        self.source = os.path.join(self.workdir, "source")
        self.target = os.path.join(self.workdir, "target")
        os.mkdir(self.source)
        self.daemons = []

    def tearDown(self):
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait()
        if os.environ.get("TETHERD_E2E_KEEP"):  # debugging: keep logs and trees
            print(f"\nkept {self.workdir}", file=sys.stderr)
            return
        shutil.rmtree(self.workdir, ignore_errors=True)

    def mirror(self, *extra, name="d"):
        daemon = Daemon(self.workdir, ["mirror", self.source, self.target, "--delay", "0",
                                       "--delete", "true"] + list(extra), name=name)
        self.daemons.append(daemon)
        return daemon

    def src(self, *parts):
        return os.path.join(self.source, *parts)

    def dst(self, *parts):
        return os.path.join(self.target, *parts)

    def assertMirrored(self):
        problems = differences(self.source, self.target)
        if problems:
            self.fail("target differs from source:\n  " + "\n  ".join(problems[:20]))

    @staticmethod
    def write(path, data=b"x", mode=None):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(path, mode)
