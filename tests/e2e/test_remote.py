"""End-to-end tests of `tetherd run` mirroring to remote stores: SFTP (a real OpenSSH sshd on
127.0.0.1) and S3 (a one-node Ceph cluster's radosgw). Each class starts its server once;
each test gets a fresh directory on it. Without root, sshd or Ceph the classes are skipped
with the reason, unless TETHERD_REQUIRE_SERVERS=1 (then that is a failure)."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

from harness import Daemon, TETHERD, snapshot, wait_until
from servers import CephS3, ServerUnavailable, SshServer, unavailable

RULE = "r"
FIVE_MIB = 5 << 20
# Above the S3 store's multipart threshold (64 MiB): 9 parts of 8 MiB.
MULTIPART = (64 << 20) + (3 << 20)


def make_tree(root):
    """The tree every initial sync mirrors: nested directories, an empty file and an empty
    directory, a 5 MiB file, names with a space and with non-ASCII UTF-8, several modes."""
    def write(relative, data, mode=0o644):
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        os.chmod(path, mode)

    write("top.txt", b"top level\n")
    write("empty", b"")
    write("a/b/c/deep.txt", b"deep " * 100, 0o600)
    write("a/sibling.bin", os.urandom(70_000))
    write("a/b/script.sh", b"#!/bin/sh\necho hi\n", 0o755)
    write("big/five-mib.bin", os.urandom(FIVE_MIB))
    write("with space/a file name.txt", b"spaces")
    write("caf\u00e9/\u65e5\u672c\u8a9e \u00fc\u00f1\u00ee.txt", "non-ASCII \u2713".encode())
    os.makedirs(os.path.join(root, "empty dir"))
    os.utime(os.path.join(root, "top.txt"), ns=(1_600_000_000_123_456_789,) * 2)


def write(path, data=b"x", mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    if mode is not None:
        os.chmod(path, mode)


def shorten(entry):
    return tuple(x[:40] if isinstance(x, bytes) and len(x) > 40 else x for x in entry)


def compare(expected, actual):
    """The problems between two snapshots ({relative path: entry}), as text lines."""
    problems = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            problems.append(f"missing on target: {key!r}")
        elif key not in expected:
            problems.append(f"extra on target: {key!r}")
        elif expected[key] != actual[key]:
            problems.append(f"differs: {key!r}: source {shorten(expected[key])} "
                            f"target {shorten(actual[key])}")
    return problems


def whole_seconds(tree):
    """`tree` (a harness snapshot) with file mtimes floored to whole seconds: SFTP (version
    3) carries seconds, and the store floors what it sets."""
    result = {}
    for key, entry in tree.items():
        if entry[0] == "file":
            entry = entry[:3] + (entry[3] // 1_000_000_000 * 1_000_000_000,)
        result[key] = entry
    return result


class RemoteTestCase(unittest.TestCase):
    """A fresh source directory per test and `tetherd run` on a config naming a remote store.
    Subclasses start their server in setUpClass (server_class)."""

    server = None
    # Set by each subclass: the server class (started once per test class) and its name.
    SERVER = None
    SERVER_NAME = ""

    @classmethod
    def setUpClass(cls):
        try:
            cls.server = cls.SERVER()
        except ServerUnavailable as why:
            unavailable(cls, f"no {cls.SERVER_NAME} server: {why}")

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.close()

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="tetherd-e2e-remote-")
        self.source = os.path.join(self.workdir, "source")
        os.mkdir(self.source)
        self.daemons = []

    def tearDown(self):
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                daemon.process.kill()
                daemon.process.wait()
            if not daemon.stderr.closed:
                daemon.stderr.close()
        if os.environ.get("TETHERD_E2E_KEEP"):
            print(f"\nkept {self.workdir}", file=sys.stderr)
            return
        shutil.rmtree(self.workdir, ignore_errors=True)

    def src(self, *parts):
        return os.path.join(self.source, *parts)

    def write_config(self, stores, target, name="tetherd", **rule):
        config = os.path.join(self.workdir, f"{name}.json")
        settings = {"name": RULE, "source": self.source, "target": target, "delay_ms": 0,
                    "delete": True}
        settings.update(rule)
        with open(config, "w") as handle:
            json.dump({"stores": stores, "rules": [settings]}, handle, indent=2)
        return config

    def run_daemon(self, stores, target, name="d", **rule):
        config = self.write_config(stores, target, name=name, **rule)
        daemon = Daemon(self.workdir, ["run", "-c", config], name=name)
        self.daemons.append(daemon)
        return daemon

    def launch(self, stores, target, name):
        """Starts `tetherd run` on a config; returns (process, command, event log path). For
        runs that may end by themselves (Daemon is for those that must keep running)."""
        config = self.write_config(stores, target, name=name)
        log = os.path.join(self.workdir, f"{name}.events.jsonl")
        command = [TETHERD, "run", "-c", config, "--socket",
                   os.path.join(self.workdir, f"{name}.sock"), "--log-file", log,
                   "--log-format", "none", "-v"]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)

        def end():
            if process.poll() is None:
                process.kill()
            process.communicate()

        self.addCleanup(end)
        return process, command, log

    @staticmethod
    def read_text(path):
        if not os.path.exists(path):
            return ""
        with open(path, "rb") as handle:
            return handle.read().decode(errors="replace")

    def assertMentions(self, words, output):
        """`output` says `words` (case-insensitive)."""
        if words.lower() not in output.lower():
            self.fail(f"expected a message mentioning {words!r}; got:\n{output[-4000:]}")

    @staticmethod
    def counters(daemon):
        return daemon.status()["rules"][0]["counters"]

    def assertPausedUntilReload(self, daemon, words):
        """The daemon runs on while its rule waits, saying why (`words`), for a reload: a
        refusal only someone can fix is not retried, and it stops no other rule."""
        wait_until(lambda: daemon.events("paused"), what="the rule to pause")
        rule = daemon.status()["rules"][0]
        self.assertEqual(rule["state"], "paused", rule)
        self.assertMentions(words, rule["paused_reason"])
        self.assertMentions("reload", rule["paused_reason"])
        self.assertMentions(words, daemon.stderr_text())
        paused = daemon.events("paused")
        self.assertEqual([event["level"] for event in paused], ["error"], paused)
        settle = subprocess.run([TETHERD, "settle", "--socket", daemon.socket, "--timeout", "10"],
                                capture_output=True, text=True)
        self.assertEqual(settle.returncode, 74, settle.stderr)
        self.assertMentions(words, settle.stderr)
        self.assertIsNone(daemon.process.poll(), "the daemon must keep running")

    def assertNoErrors(self, daemon):
        errors = [e for e in daemon.events() if e.get("level") == "error"]
        self.assertFalse(errors, errors[:5])


class SilentServer(RemoteTestCase):
    """A server that accepts connections and never says a word: a stop does not wait for
    it. No real server is needed: the listener is this test's own socket."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        super().setUp()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)  # the kernel completes the handshakes; nobody reads
        self.addCleanup(self.listener.close)
        self.port = self.listener.getsockname()[1]

    def assertStopsWhileOpening(self, stores):
        process, command, log = self.launch(stores, "remote:", "silent")
        wait_until(lambda: '"event":"start"' in self.read_text(log),
                   what="the daemon to start opening its store")
        wait_until(lambda: self.listener_has_a_connection(), what="a connection to the server")
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.fail("tetherd waits for the silent server after SIGTERM (its timeout is 10 "
                      f"minutes): {' '.join(command)}")
        self.assertEqual(process.returncode, 0, self.read_text(log))

    def listener_has_a_connection(self):
        self.listener.setblocking(False)
        try:
            connection, _ = self.listener.accept()
        except BlockingIOError:
            return False
        self.addCleanup(connection.close)
        return True

    def test_a_stop_gives_up_an_sftp_store_that_does_not_answer(self):
        key = os.path.join(self.workdir, "key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        known_hosts = os.path.join(self.workdir, "known_hosts")
        write(known_hosts, b"")
        self.assertStopsWhileOpening({"remote": {
            "type": "sftp", "host": "127.0.0.1", "port": self.port, "user": "nobody",
            "key_file": key, "known_hosts": known_hosts, "root": "/srv",
            "timeout_ms": 600_000}})

    def test_a_stop_gives_up_an_s3_store_that_does_not_answer(self):
        credentials = os.path.join(self.workdir, "credentials")
        write(credentials, b"[default]\naws_access_key_id = AKEXAMPLE\n"
                           b"aws_secret_access_key = secret\n")
        self.assertStopsWhileOpening({"remote": {
            "type": "s3", "endpoint": f"http://127.0.0.1:{self.port}", "region": "us-east-1",
            "bucket": "silent-bucket", "credentials_file": credentials}})


class SftpTarget(RemoteTestCase):
    """Mirroring into a directory served by a real sshd over SFTP."""

    SERVER = SshServer
    SERVER_NAME = "SFTP"

    def setUp(self):
        super().setUp()
        if not self.server.running():  # a test that stopped it failed before starting it
            self.server.start()
        self.root = self.server.new_root()
        self.target = os.path.join(self.root, "sub")

    def stores(self, **extra):
        return {"remote": self.server.store(self.root, **extra)}

    def mirror(self, name="d", **extra):
        return self.run_daemon(self.stores(**extra), "remote:sub", name=name)

    def assertMirrored(self):
        problems = compare(whole_seconds(snapshot(self.source)),
                           whole_seconds(snapshot(self.target)))
        if problems:
            self.fail("the server's directory differs from the source:\n  "
                      + "\n  ".join(problems[:20]))

    def test_a_server_down_at_start_makes_the_rule_wait_then_it_starts(self):
        """The daemon keeps running; the rule waits (paused, with the reason; settle says
        74), tries again after growing pauses, and mirrors once the server is back."""
        write(self.src("early.txt"), b"early")
        self.server.stop()
        daemon = self.mirror()
        wait_until(lambda: daemon.events("paused"), what="the rule to wait for its store")
        rule = daemon.status()["rules"][0]
        self.assertEqual(rule["state"], "paused")
        self.assertIn("cannot open the store", rule["paused_reason"])
        settle = subprocess.run([TETHERD, "settle", "--socket", daemon.socket, "--timeout", "10"],
                                capture_output=True, text=True)
        self.assertEqual(settle.returncode, 74, settle.stderr)
        self.assertIn("waits for its store", settle.stderr)
        self.server.start()
        wait_until(lambda: daemon.events("resumed"), timeout=120,
                   what="the rule to start once the server is back")
        write(self.src("later.txt"), b"later")
        daemon.settle(timeout=120)
        self.assertMirrored()

    def test_initial_sync_copies_the_tree(self):
        make_tree(self.source)
        os.symlink("a/b/c/deep.txt", self.src("link"))
        daemon = self.mirror()
        daemon.settle(timeout=120)
        self.assertMirrored()
        ends = daemon.events("initial_sync_end")
        self.assertTrue(ends)
        self.assertEqual(ends[0]["result"], "ok", ends)
        self.assertNoErrors(daemon)
        self.assertTrue(os.path.isdir(os.path.join(self.target, "empty dir")))
        self.assertEqual(os.path.getsize(os.path.join(self.target, "big", "five-mib.bin")),
                         FIVE_MIB)
        daemon.stop()

    def test_live_create_modify_delete(self):
        write(self.src("keep"), b"keep")
        write(self.src("doomed", "inner"), b"to be removed")
        daemon = self.mirror()
        daemon.settle()
        self.assertMirrored()
        write(self.src("new", "nested", "file.txt"), b"created live")
        write(self.src("keep"), b"modified live, and longer than before")
        os.chmod(self.src("keep"), 0o600)
        shutil.rmtree(self.src("doomed"))
        write(self.src("\u00e9t\u00e9 2026.txt"), b"summer")
        daemon.settle()
        self.assertMirrored()
        self.assertFalse(os.path.exists(os.path.join(self.target, "doomed")))
        os.remove(self.src("keep"))
        daemon.settle()
        self.assertMirrored()
        self.assertNoErrors(daemon)
        daemon.stop()

    def test_file_and_directory_renames_are_moves(self):
        size = 1 << 20
        write(self.src("big.bin"), os.urandom(size))
        for i in range(20):
            write(self.src("photos", f"{i}.jpg"), os.urandom(1000))
        daemon = self.mirror()
        daemon.settle()
        before = self.counters(daemon)
        copies_before = len(daemon.events("copy"))
        os.rename(self.src("big.bin"), self.src("renamed.bin"))
        os.rename(self.src("photos"), self.src("pictures"))
        daemon.settle()
        self.assertMirrored()
        after = self.counters(daemon)
        self.assertGreaterEqual(after["moves"] - before["moves"], 2, (before, after))
        self.assertLess(after["bytes"] - before["bytes"], size, (before, after))
        moved = {e["path"] for e in daemon.events("move")}
        self.assertIn("renamed.bin", moved, daemon.events("move"))
        self.assertIn("pictures", moved, daemon.events("move"))
        self.assertEqual(len(daemon.events("copy")), copies_before, "a rename must not re-copy")
        # Later changes inside the renamed directory land at its new place.
        write(self.src("pictures", "new.jpg"), b"new")
        daemon.settle()
        self.assertMirrored()
        daemon.stop()

    # A stop in the middle of hundreds of writes once left about 30 of them waiting for
    # ever (their temporary files at 0 bytes on the server, settle timing out): a write
    # whose open fails must report, and the daemon must converge after the restart.
    def test_server_stopped_mid_transfer_then_back(self):
        daemon = self.mirror()
        daemon.settle()
        # The burst appears at once (a directory renamed in), so the daemon has hundreds of
        # writes to do when the server goes away.
        staging = os.path.join(self.workdir, "staging")
        for d in range(10):
            for f in range(40):
                write(os.path.join(staging, f"burst{d}", f"f{f:02}"), os.urandom(50_000))
        for i in range(4):
            write(os.path.join(staging, "large", f"l{i}.bin"), os.urandom(2 << 20))
        total = 404
        os.rename(staging, self.src("incoming"))
        wait_until(lambda: len(daemon.events("copy")) >= 20, timeout=60,
                   what="the first copies of the burst")
        self.server.stop()
        try:
            copies_at_stop = len(daemon.events("copy"))
            self.assertLess(copies_at_stop, total, "the burst was complete before the stop")
            wait_until(lambda: [e for e in daemon.events()
                                if e["event"] in ("retry", "error")
                                or e.get("level") in ("warn", "error")],
                       timeout=60, what="the daemon to report the lost server",
                       details=lambda: daemon.stderr_text()[-3000:])
            self.assertIsNone(daemon.process.poll(), "the daemon must keep running")
        finally:
            self.server.start()
        daemon.settle(timeout=60)
        self.assertIsNone(daemon.process.poll())
        self.assertMirrored()

        # The store's temporary files of the interrupted writes are gone once it is back.
        def leftovers():
            return [os.path.join(directory, name)
                    for directory, _, names in os.walk(self.root) for name in names
                    if name.startswith(".tetherd")]
        wait_until(lambda: not leftovers(), timeout=30,
                   what="the interrupted writes' temporary files to be removed",
                   details=lambda: "\n".join(leftovers()[:10]))
        daemon.stop()

    def test_wrong_host_key_is_refused_and_nothing_is_written(self):
        write(self.src("secret.txt"), b"must not reach an impostor")
        other, _ = self.server.other_known_hosts()
        daemon = self.mirror(known_hosts=other)
        self.assertPausedUntilReload(daemon, "host key")
        self.assertEqual(os.listdir(self.root), [], "nothing may be written on the server")
        daemon.stop()

    def test_wrong_host_key_fingerprint_is_refused(self):
        write(self.src("secret.txt"), b"must not reach an impostor")
        _, fingerprint = self.server.other_known_hosts()
        daemon = self.mirror(known_hosts=None, host_key_fingerprint=fingerprint)
        self.assertPausedUntilReload(daemon, "host key")
        self.assertEqual(os.listdir(self.root), [], "nothing may be written on the server")
        daemon.stop()

    def test_host_key_fingerprint_instead_of_known_hosts(self):
        write(self.src("a", "f.txt"), b"checked by fingerprint")
        daemon = self.mirror(known_hosts=None, host_key_fingerprint=self.server.fingerprint)
        daemon.settle()
        self.assertMirrored()
        self.assertNoErrors(daemon)
        daemon.stop()


    # ---- helpers of the tests below ---------------------------------------------------

    def dst(self, *parts):
        return os.path.join(self.target, *parts)

    def fresh_tree(self, label):
        """A new source directory and a new root on the server for one part of a test
        (a subTest): the tests below that try several settings give each its own."""
        self.source = os.path.join(self.workdir, f"source-{label}")
        os.mkdir(self.source)
        self.root = self.server.new_root()
        self.target = os.path.join(self.root, "sub")

    def settle_code(self, daemon, timeout=60):
        """`tetherd settle`'s exit code and stderr: 0 once every change is mirrored, 74
        when one could not be (the test then looks at what happened)."""
        completed = subprocess.run([TETHERD, "settle", "--socket", daemon.socket, "--timeout",
                                    str(timeout)], capture_output=True, text=True)
        self.assertNotEqual(completed.returncode, 75, "settle timed out: "
                            + completed.stderr + daemon.stderr_text()[-3000:])
        return completed.returncode, completed.stderr

    def assertSameNames(self, relative=b""):
        """The server's directory `relative` (bytes) lists exactly the names of the
        source's, byte for byte, in every directory below it."""
        source = os.path.join(os.fsencode(self.source), relative)
        target = os.path.join(os.fsencode(self.target), relative)
        names = sorted(os.listdir(source))
        self.assertEqual(sorted(n for n in os.listdir(target) if not n.startswith(b".tetherd")),
                         names, f"names in {relative!r}")
        for name in names:
            if os.path.isdir(os.path.join(source, name)):
                self.assertSameNames(os.path.join(relative, name))

    # ---- moves ------------------------------------------------------------------------

    def test_renames_stay_server_side_moves_that_keep_the_inodes(self):
        """A renamed 24 MiB file and a directory renamed into a new directory deeper down
        are moved on the server: the target file and directory keep their inodes (and so
        do the files inside the directory), not a byte is sent and nothing is copied."""
        size = 24 << 20
        write(self.src("big.bin"), os.urandom(size))
        for i in range(5):
            write(self.src("album", "2024", f"{i}.jpg"), os.urandom(10_000))
        write(self.src("elsewhere", "keep.txt"), b"stays")
        daemon = self.mirror()
        daemon.settle(timeout=120)
        self.assertMirrored()
        inodes = {name: os.stat(self.dst(*name.split("/"))).st_ino
                  for name in ("big.bin", "album", "album/2024", "album/2024/3.jpg")}
        before = self.counters(daemon)
        copies = len(daemon.events("copy"))
        os.rename(self.src("big.bin"), self.src("big renamed.bin"))
        os.mkdir(self.src("elsewhere", "deeper"))
        os.rename(self.src("album"), self.src("elsewhere", "deeper", "album moved"))
        daemon.settle(timeout=120)
        self.assertMirrored()
        after = self.counters(daemon)
        self.assertEqual(after["bytes"], before["bytes"], "a move sends no bytes")
        self.assertEqual(after["copies"], before["copies"], (before, after))
        self.assertEqual(len(daemon.events("copy")), copies, daemon.events("copy")[copies:])
        self.assertGreaterEqual(after["moves"] - before["moves"], 2, (before, after))
        moved = {"big.bin": "big renamed.bin", "album": "elsewhere/deeper/album moved",
                 "album/2024": "elsewhere/deeper/album moved/2024",
                 "album/2024/3.jpg": "elsewhere/deeper/album moved/2024/3.jpg"}
        for old, new in moved.items():
            self.assertEqual(os.stat(self.dst(*new.split("/"))).st_ino, inodes[old],
                             f"{old} -> {new} is not the same inode on the server")
        self.assertNoErrors(daemon)
        daemon.stop()

    def test_a_restart_with_nothing_changed_touches_nothing(self):
        """After a mirror, a restart with nothing changed copies, moves and deletes
        nothing: the daemon counts no copy and no byte, and every entry on the server keeps
        its inode and its ctime (no write, rename or attribute change reached it)."""
        make_tree(self.source)
        os.symlink("a/b/c/deep.txt", self.src("link"))
        daemon = self.mirror()
        daemon.settle(timeout=120)
        daemon.stop()
        before = self.server_entries()
        daemon = self.mirror(name="again")
        daemon.settle()
        counters = self.counters(daemon)
        self.assertEqual({name: counters[name] for name in ("copies", "bytes", "moves", "deletes")},
                         {"copies": 0, "bytes": 0, "moves": 0, "deletes": 0}, counters)
        self.assertEqual(self.server_entries(), before, "the restart changed the server's tree")
        self.assertMirrored()
        self.assertNoErrors(daemon)
        daemon.stop()

    def server_entries(self):
        """{relative path: (inode, ctime)} of everything in the server's target."""
        result = {}
        for directory, names, files in os.walk(self.target):
            for name in names + files:
                path = os.path.join(directory, name)
                info = os.lstat(path)
                result[os.path.relpath(path, self.target)] = (info.st_ino, info.st_ctime_ns)
        return result

    # ---- deletes per delete mode ------------------------------------------------------

    def test_deletes_follow_the_delete_mode_live_and_at_restart(self):
        """For each "delete" setting: what the server's target holds at start-up and the
        source lacks is deleted only with true and "startup"; what the source deletes while
        the daemon runs only with true and "running"; what it deletes while the daemon is
        stopped is deleted at the next start only with true and "startup". Files and
        directories alike; everything else stays mirrored."""
        for mode in (True, False, "startup", "running"):
            with self.subTest(delete=mode):
                self.fresh_tree(str(mode))
                at_startup = mode in (True, "startup")
                while_running = mode in (True, "running")
                for name in ("keep.txt", "live.txt", "restart.txt"):
                    write(self.src(name), name.encode())
                for name in ("live-dir", "restart-dir"):
                    write(self.src(name, "inner", "f.txt"), name.encode())
                write(self.dst("stranger.txt"), b"only ever on the server")
                write(self.dst("stranger-dir", "f.txt"), b"only ever on the server")

                daemon = self.run_daemon(self.stores(), "remote:sub", name=f"first-{mode}",
                                         delete=mode)
                daemon.settle()
                self.assertPresent(["stranger.txt", "stranger-dir"], not at_startup)
                os.remove(self.src("live.txt"))
                shutil.rmtree(self.src("live-dir"))
                daemon.settle()
                self.assertPresent(["live.txt", "live-dir"], not while_running)
                self.assertPresent(["keep.txt", "restart.txt", "restart-dir/inner/f.txt"],
                                   True)
                self.assertNoErrors(daemon)
                daemon.stop()

                os.remove(self.src("restart.txt"))
                shutil.rmtree(self.src("restart-dir"))
                daemon = self.run_daemon(self.stores(), "remote:sub", name=f"again-{mode}",
                                         delete=mode)
                daemon.settle()
                self.assertPresent(["restart.txt", "restart-dir"], not at_startup)
                self.assertPresent(["live.txt", "live-dir"],
                                   not while_running and not at_startup)
                self.assertPresent(["stranger.txt", "stranger-dir"], not at_startup)
                with open(self.dst("keep.txt"), "rb") as handle:
                    self.assertEqual(handle.read(), b"keep.txt")
                if mode is True:
                    self.assertMirrored()
                self.assertNoErrors(daemon)
                daemon.stop()

    def assertPresent(self, names, present):
        for name in names:
            self.assertEqual(os.path.lexists(self.dst(*name.split("/"))), present,
                             f"{name} should {'' if present else 'not '}be on the server")

    # ---- names ------------------------------------------------------------------------

    ODD_NAMES = [b"caf\xe9.txt",                 # Latin-1, not UTF-8
                 b"\xff\xfe raw bytes \x80",
                 b"with  two spaces .txt",
                 b" leading and trailing space ",
                 b"new\nline",
                 b"tab\tand\rreturn",
                 b"-leading-dash",
                 b"--",
                 b"back\\slash and *?[glob] and %41 and :colon",
                 b"n" * 251 + b".txt",                        # 255 bytes: the longest name
                 ("\u00e9" * 127 + "x").encode(),             # 255 bytes of UTF-8
                 "\u65e5\u672c\u8a9e \U0001f600.txt".encode()]

    def write_odd_names(self, directory):
        for number, name in enumerate(self.ODD_NAMES):
            write(os.path.join(os.fsencode(directory), name), b"content of %d" % number)
        subdirectory = os.path.join(os.fsencode(directory), b"dir \xe9\xff")
        write(os.path.join(subdirectory, b"-x\n" + b"y" * 200), b"inside an odd directory")
        write(os.path.join(subdirectory, b"n" * 255), b"longest name in an odd directory")

    def test_odd_names_land_byte_for_byte(self):
        """Names that are not UTF-8, with spaces, control characters, a leading dash, glob
        and escape characters, and 255-byte names (the longest a directory holds), in the
        initial sync and live, are on the server byte for byte; renaming and deleting them
        live works too."""
        self.write_odd_names(self.source)
        daemon = self.mirror()
        daemon.settle()
        self.assertSameNames()
        self.assertMirrored()
        self.write_odd_names(self.src("live"))
        daemon.settle()
        self.assertSameNames()
        self.assertMirrored()
        live = os.fsencode(self.src("live"))
        os.rename(os.path.join(live, b"caf\xe9.txt"), os.path.join(live, b"-renamed \xe9\n"))
        os.rename(os.path.join(live, b"dir \xe9\xff"), os.path.join(live, b"b" * 255))
        os.remove(os.path.join(live, b"n" * 251 + b".txt"))
        os.remove(os.path.join(os.fsencode(self.source), b"new\nline"))
        daemon.settle()
        self.assertSameNames()
        self.assertMirrored()
        self.assertNoErrors(daemon)
        daemon.stop()

    # ---- symbolic links planted on the server ------------------------------------------

    def outside(self):
        """A directory outside the store's root with a file in it: what a planted link
        points at. Returns (path, its snapshot now)."""
        outside = os.path.join(self.workdir, "outside")
        write(os.path.join(outside, "victim.txt"), b"must stay as it is")
        write(os.path.join(outside, "old.txt"), b"must not be deleted")
        return outside, snapshot(outside)

    def assertNotThrough(self, daemon, outside, before, link, code, what):
        """Nothing under `outside` changed, and for the planted `link` (relative to the
        target) the daemon either reported an error naming it (settle 74) or replaced it
        with what the source has."""
        self.assertEqual(compare(before, snapshot(outside)), [],
                         f"{what}: the daemon wrote through the planted link")
        self.assertIsNone(daemon.process.poll(), "the daemon must keep running")
        if code == 0:
            self.assertFalse(os.path.islink(self.dst(link)),
                             f"{what}: settle says done but {link} is still the planted link")
        else:
            errors = [e for e in daemon.events() if e.get("level") == "error"]
            self.assertTrue(errors, f"{what}: settle exited {code} without an error event")

    def test_a_link_planted_on_the_server_is_never_written_through(self):
        """A symbolic link made on the server inside the target tree, pointing outside the
        root, while the daemon runs: a new directory of that name with a file in it, a
        file and a directory moved into a directory the link replaced, a new file and a
        delete in that directory, and a file the link replaced: nothing outside changes; the daemon
        reports the path or replaces the link."""
        write(self.src("dest", "old.txt"), b"to be deleted")
        write(self.src("moving.txt"), b"moved into dest")
        write(self.src("folder", "f.txt"), b"a directory moved into dest")
        write(self.src("replaced.txt"), b"a file the server swaps for a link")
        daemon = self.mirror()
        daemon.settle()
        outside, before = self.outside()

        os.symlink(outside, self.dst("evil"))
        write(self.src("evil", "x.txt"), b"must not land outside")
        code, _ = self.settle_code(daemon)
        self.assertNotThrough(daemon, outside, before, "evil", code, "a new directory")

        shutil.rmtree(self.dst("dest"))
        os.symlink(outside, self.dst("dest"))
        os.rename(self.src("moving.txt"), self.src("dest", "moving.txt"))
        os.rename(self.src("folder"), self.src("dest", "folder"))
        write(self.src("dest", "victim.txt"), b"overwritten through the link")
        os.remove(self.src("dest", "old.txt"))
        code, _ = self.settle_code(daemon)
        self.assertNotThrough(daemon, outside, before, "dest", code,
                              "a directory replaced by a link")

        os.remove(self.dst("replaced.txt"))
        os.symlink(os.path.join(outside, "victim.txt"), self.dst("replaced.txt"))
        write(self.src("replaced.txt"), b"a new version")
        code, _ = self.settle_code(daemon)
        self.assertNotThrough(daemon, outside, before, "replaced.txt", code,
                              "a file replaced by a link")
        daemon.stop()

    # ---- the command line -------------------------------------------------------------

    def test_mirror_to_an_sftp_url(self):
        """`tetherd mirror SRC sftp://root@127.0.0.1:PORT/PATH --key-file K --known-hosts F`
        mirrors a tree (initial sync and live changes) to the directory the URL names, its
        percent-encoded space decoded."""
        make_tree(self.source)
        self.target = os.path.join(self.root, "backup dir")
        os.mkdir(self.target)
        url = f"sftp://root@127.0.0.1:{self.server.port}{self.root}/backup%20dir"
        daemon = Daemon(self.workdir, ["mirror", self.source, url, "--delay", "0",
                                       "--key-file", self.server.client_key,
                                       "--known-hosts", self.server.known_hosts], name="cli")
        self.daemons.append(daemon)
        daemon.settle(timeout=120)
        self.assertMirrored()
        write(self.src("a", "live.txt"), b"written live")
        os.remove(self.src("top.txt"))
        daemon.settle()
        self.assertMirrored()
        self.assertNoErrors(daemon)
        daemon.stop()

    def test_mirror_to_a_missing_sftp_directory_creates_it(self):
        """`tetherd mirror SRC sftp://…/new/deeper` with neither directory on the server
        makes both, as it makes a missing local DST, and mirrors into them; a config's
        store without "create_root" still refuses a missing root (a server disk that is
        not mounted must not be filled in)."""
        make_tree(self.source)
        self.target = os.path.join(self.root, "new", "deeper")
        url = f"sftp://root@127.0.0.1:{self.server.port}{self.target}"
        result = subprocess.run([TETHERD, "mirror", self.source, url, "--once",
                                 "--key-file", self.server.client_key,
                                 "--known-hosts", self.server.known_hosts],
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertMirrored()

        missing = os.path.join(self.root, "absent")
        stores = {"remote": self.server.store(missing)}
        config = self.write_config(stores, "remote:", name="refused")
        refused = subprocess.run([TETHERD, "sync", "--once", "-c", config], capture_output=True,
                                 text=True, timeout=120)
        self.assertNotEqual(refused.returncode, 0, refused.stderr)
        self.assertIn("absent", refused.stderr)
        self.assertFalse(os.path.exists(missing), "a configured root was created")


class S3Target(RemoteTestCase):
    """Mirroring into a bucket of a real radosgw (one Ceph cluster for the class)."""

    SERVER = CephS3
    SERVER_NAME = "S3"

    def setUp(self):
        super().setUp()
        self.prefix = self.server.fresh_prefix()
        self.credentials = self.server.credentials_file(self.workdir)

    def stores(self, credentials=None):
        return {"s3remote": self.server.store(credentials or self.credentials, self.prefix)}

    def mirror(self, name="d"):
        return self.run_daemon(self.stores(), "s3remote:sub", name=name)

    def expected(self):
        """What the bucket must hold for the source: every file's bytes, mode and mtime
        (the store keeps them as x-amz-meta-mode / x-amz-meta-mtime) and every directory."""
        result = {}
        for key, entry in snapshot(self.source).items():
            if entry[0] == "dir":
                result[key] = ("dir",)
            elif entry[0] == "file":
                result[key] = entry
            else:
                self.fail(f"the S3 tests use files and directories only: {key!r} {entry}")
        return result

    def assertMirrored(self):
        problems = compare(self.expected(), self.server.snapshot(self.prefix + "/sub"))
        if problems:
            self.fail(f"the bucket under {self.prefix}/sub differs from the source:\n  "
                      + "\n  ".join(problems[:20]))

    def test_initial_sync_copies_the_tree(self):
        make_tree(self.source)
        daemon = self.mirror()
        daemon.settle(timeout=120)
        self.assertMirrored()
        ends = daemon.events("initial_sync_end")
        self.assertTrue(ends)
        self.assertEqual(ends[0]["result"], "ok", ends)
        self.assertNoErrors(daemon)
        daemon.stop()

    def test_live_create_modify_delete_and_renames(self):
        write(self.src("keep"), b"keep")
        write(self.src("doomed", "inner"), b"to be removed")
        write(self.src("big.bin"), os.urandom(1 << 20))
        for i in range(10):
            write(self.src("photos", f"{i}.jpg"), os.urandom(1000))
        daemon = self.mirror()
        daemon.settle()
        self.assertMirrored()
        write(self.src("new", "nested", "file.txt"), b"created live")
        write(self.src("keep"), b"modified live, and longer than before")
        os.chmod(self.src("keep"), 0o600)
        shutil.rmtree(self.src("doomed"))
        write(self.src("\u00e9t\u00e9 2026.txt"), b"summer")
        daemon.settle()
        self.assertMirrored()
        before = self.counters(daemon)
        os.rename(self.src("big.bin"), self.src("renamed.bin"))
        os.rename(self.src("photos"), self.src("pictures"))
        daemon.settle()
        self.assertMirrored()
        after = self.counters(daemon)
        moved = {e["path"] for e in daemon.events("move")}
        self.assertIn("renamed.bin", moved, daemon.events("move"))
        self.assertIn("pictures", moved, daemon.events("move"))
        self.assertLess(after["bytes"] - before["bytes"], 1 << 20, (before, after))
        os.remove(self.src("keep"))
        daemon.settle()
        self.assertMirrored()
        self.assertNoErrors(daemon)
        daemon.stop()

    def test_wrong_credentials_pause_the_rule_naming_the_store(self):
        write(self.src("f.txt"), b"never uploaded")
        wrong = os.path.join(self.workdir, "wrong")
        os.mkdir(wrong)
        credentials = self.server.credentials_file(wrong, secret="not-the-secret")
        daemon = self.run_daemon(self.stores(credentials), "s3remote:sub", name="wrong")
        self.assertPausedUntilReload(daemon, "s3remote")
        self.assertEqual(self.server.list_keys(self.prefix), [])
        daemon.stop()

    def test_a_missing_bucket_pauses_the_rule(self):
        write(self.src("f.txt"), b"x")
        stores = self.stores()
        stores["s3remote"]["bucket"] = "tetherd-no-such-bucket"
        daemon = self.run_daemon(stores, "s3remote:sub", name="nobucket")
        self.assertPausedUntilReload(daemon, "bucket does not exist")
        self.assertMentions("s3remote", daemon.stderr_text())
        daemon.stop()


    # ---- helpers of the tests below ---------------------------------------------------

    def mirror_tree(self, source, prefix, name, **store):
        """`tetherd run` mirroring `source` to "sub" of a store under `prefix` (store
        settings in `store`), deletes on."""
        stores = {"s3remote": self.server.store(self.credentials, prefix, **store)}
        return self.run_daemon(stores, "s3remote:sub", name=name, source=source)

    def assertBucketHolds(self, source, prefix):
        """The bucket under PREFIX/sub is `source`: files (bytes, mode, mtime) and
        directories."""
        saved = self.source
        self.source = source
        try:
            problems = compare(self.expected(), self.server.snapshot(prefix + "/sub"))
        finally:
            self.source = saved
        if problems:
            self.fail(f"the bucket under {prefix}/sub differs from {source}:\n  "
                      + "\n  ".join(problems[:20]))

    def assertNoUploadsOpen(self, prefix=None):
        prefix = (prefix or self.prefix) + "/"
        self.assertEqual(self.server.uploads(prefix), [],
                         f"multipart uploads left open under {prefix}")

    def parts_of(self, key):
        """How many parts the object was uploaded in (its ETag's "-N"), 1 for a PUT."""
        _, headers, _ = self.server.request("HEAD", f"{self.prefix}/sub/{key}")
        etag = headers["etag"].strip('"')
        return int(etag.split("-")[1]) if "-" in etag else 1

    def test_a_multipart_threshold_below_the_part_size_cuts_parts_of_its_size(self):
        """"multipart_threshold": 6 MiB (the config takes 5 MiB up; parts are 8 MiB by
        default): the store opens, and a 13 MiB file goes up in three parts of at most
        6 MiB."""
        write(self.src("big.bin"), os.urandom(13 << 20))
        stores = {"s3remote": self.server.store(self.credentials, self.prefix,
                                                multipart_threshold=6 << 20)}
        daemon = self.run_daemon(stores, "s3remote:sub")
        daemon.settle(timeout=120)
        self.assertMirrored()
        self.assertEqual(self.parts_of("big.bin"), 3)
        daemon.stop()

    # ---- churn ------------------------------------------------------------------------

    def test_churn_with_type_changes_and_a_multipart_file(self):
        """Live and then across a restart: creates, modifies, chmods, file and directory
        renames, deletes, type changes both ways (a file becomes a directory with files
        in it, a directory becomes a file) and a file above the multipart threshold
        (64 MiB), uploaded in parts and replaced in parts: the bucket ends holding
        exactly the source (bytes, mode and mtime of every file, every directory) and no
        multipart upload is left open."""
        write(self.src("becomes-dir"), b"a file first")
        write(self.src("becomes-file", "inner", "f.txt"), b"a directory first")
        write(self.src("stays", "a.txt"), b"a")
        write(self.src("doomed", "x", "y.txt"), b"to be removed")
        for i in range(10):
            write(self.src("photos", f"{i}.jpg"), os.urandom(2000))
        daemon = self.mirror()
        daemon.settle()
        self.assertMirrored()

        os.remove(self.src("becomes-dir"))
        write(self.src("becomes-dir", "now", "inside.txt"), b"the file became a directory")
        shutil.rmtree(self.src("becomes-file"))
        write(self.src("becomes-file"), b"the directory became a file", 0o600)
        write(self.src("big", "multipart.bin"), os.urandom(MULTIPART), 0o640)
        os.utime(self.src("big", "multipart.bin"), ns=(1_500_000_000_987_654_321,) * 2)
        os.rename(self.src("photos"), self.src("pictures"))
        os.rename(self.src("stays", "a.txt"), self.src("stays", "b.txt"))
        write(self.src("stays", "a.txt"), b"a new file at the old name")
        os.chmod(self.src("stays", "b.txt"), 0o750)
        shutil.rmtree(self.src("doomed"))
        daemon.settle(timeout=300)
        self.assertMirrored()
        self.assertEqual(self.parts_of("big/multipart.bin"), 9, "64 MiB + 3 MiB in 8 MiB parts")
        self.assertNoErrors(daemon)
        daemon.stop()

        # While stopped: the type changes back, the big file rewritten, more renames.
        shutil.rmtree(self.src("becomes-dir"))
        write(self.src("becomes-dir"), b"a file again")
        os.remove(self.src("becomes-file"))
        write(self.src("becomes-file", "again", "g.txt"), b"a directory again")
        write(self.src("big", "multipart.bin"), os.urandom(MULTIPART + 1))
        os.rename(self.src("pictures", "3.jpg"), self.src("pictures", "three.jpg"))
        os.remove(self.src("stays", "a.txt"))
        daemon = self.mirror(name="again")
        daemon.settle(timeout=300)
        self.assertMirrored()
        self.assertNoUploadsOpen()
        self.assertNoErrors(daemon)
        daemon.stop()

    # ---- the gateway lost during a multipart upload ------------------------------------

    HUGE = (96 << 20) + 12345  # 13 parts of 8 MiB; sent one at a time, it takes seconds

    def stop_the_gateway_during_a_multipart_upload(self):
        """Mirrors a file above the multipart threshold over one connection (so the upload
        takes seconds), stops radosgw once the upload is open on the server, checks that
        the daemon runs on and reports the lost gateway, starts radosgw again and settles.
        Returns the daemon."""
        daemon = self.mirror_tree(self.source, self.prefix, "d", connections=1)
        daemon.settle()
        staging = os.path.join(self.workdir, "staging")
        write(os.path.join(staging, "huge.bin"), os.urandom(self.HUGE))
        write(os.path.join(staging, "small.txt"), b"beside it")
        os.rename(staging, self.src("incoming"))
        wait_until(lambda: self.server.uploads(self.prefix + "/"), timeout=120,
                   what="the daemon to start a multipart upload",
                   details=lambda: daemon.stderr_text()[-3000:])
        self.server.stop_gateway()
        try:
            wait_until(lambda: [e for e in daemon.events()
                                if e.get("level") in ("warn", "error")],
                       timeout=60, what="the daemon to report the lost gateway",
                       details=lambda: daemon.stderr_text()[-3000:])
            self.assertIsNone(daemon.process.poll(), "the daemon must keep running")
            self.assertFalse([e for e in daemon.events("copy")
                              if e["path"] == "incoming/huge.bin" and e.get("result") == "ok"],
                             "the upload ended before the stop: the test missed its window")
        finally:
            self.server.start_gateway()
        daemon.settle(timeout=300)
        self.assertIsNone(daemon.process.poll(), "the daemon must keep running")
        return daemon

    def test_gateway_stopped_during_a_multipart_upload_converges(self):
        """radosgw stopped in the middle of a multipart upload and started again: the
        daemon keeps running, reports the lost gateway (retries), and once it is back
        the bucket holds the source, the big file uploaded in parts."""
        daemon = self.stop_the_gateway_during_a_multipart_upload()
        self.assertMirrored()
        self.assertEqual(self.parts_of("incoming/huge.bin"), 13)
        self.assertTrue(daemon.events("retry"), "no retry reported")
        daemon.stop()

    def test_gateway_stopped_during_a_multipart_upload_leaves_no_upload_open(self):
        """The same stop: the upload it interrupted is aborted once the gateway is back
        (the store sends the abort again after growing pauses, 1 s doubling, until the
        server has it), so no multipart upload is left open under its prefix."""
        daemon = self.stop_the_gateway_during_a_multipart_upload()
        wait_until(lambda: not self.server.uploads(self.prefix + "/"), timeout=120,
                   what="the interrupted multipart upload to be aborted",
                   details=lambda: repr(self.server.uploads(self.prefix + "/")))
        daemon.stop()

    # ---- a restart with nothing to do ------------------------------------------------

    # ListObjectsV2 gives sizes and ETags, not the mtime kept in the metadata: the store
    # keeps what it wrote in its metadata cache (state directory), so that the restart
    # knows each file's mtime from the listing (it once uploaded every file again, then
    # sent a HEAD per file).
    def test_a_restart_with_nothing_changed_uploads_nothing(self):
        """After a mirror, a restart with nothing changed sends the gateway no write at
        all (no PUT, POST or DELETE in its access log between the start and the settle)
        and no request per file (no HEAD of a file: listings only), and the daemon counts
        no copy and no byte."""
        make_tree(self.source)
        daemon = self.mirror()
        daemon.settle(timeout=120)
        self.assertMirrored()
        daemon.stop()
        first = self.server.log_mark()
        daemon = self.mirror(name="again")
        daemon.settle()
        last = self.server.log_mark()
        sent = self.server.requests_between(first, last)
        self.assertTrue(sent, "no request of the daemon in the gateway's log")
        writes = [(r["method"], r["key"], r["query"]) for r in sent
                  if r["method"] not in ("GET", "HEAD")]
        self.assertEqual(writes, [], "a restart with nothing changed writes nothing")
        files = {os.path.relpath(os.path.join(root, name), self.source)
                 for root, _, names in os.walk(self.source) for name in names}
        heads = [r["key"] for r in sent if r["method"] == "HEAD"
                 and r["key"].removeprefix(self.prefix + "/sub/") in files]
        self.assertEqual(heads, [], "a restart HEADs files the listing describes")
        counters = self.counters(daemon)
        self.assertEqual((counters["copies"], counters["bytes"]), (0, 0), counters)
        self.assertEqual(daemon.events("initial_sync_end")[0]["copies"], 0,
                         daemon.events("initial_sync_end"))
        self.assertMirrored()
        daemon.stop()

    # ---- two daemons, one bucket ------------------------------------------------------

    def test_two_daemons_in_two_prefixes_of_one_bucket(self):
        """Two daemons at once, deletes on, mirroring two trees with the same names into
        prefix P and prefix P + "x" (so that a prefix compared without its "/" would
        match the other's keys), with churn in both: each prefix ends equal to its source;
        keys outside either target and a multipart upload under the other prefix are
        left alone; and while only the first runs, its restart (startup deletes, the
        stale-upload sweep) sends no request for a key or listing of the other prefix."""
        prefix_a, prefix_b = self.prefix, self.prefix + "x"
        sources = {}
        for label in ("a", "b"):
            source = os.path.join(self.workdir, f"source-{label}")
            for name in ("same.txt", "dir/same.txt", f"only-{label}.txt", "gone.txt"):
                write(os.path.join(source, name), f"{label}: {name}".encode())
            sources[label] = source
        # Keys of each prefix that no daemon owns: beside its target, and a stale-looking
        # upload (the sweep's age rule, 24 h, cannot be met here; it must survive anyway).
        foreign = {f"{p}/outside-target.txt": p.encode() for p in (prefix_a, prefix_b)}
        for key, body in foreign.items():
            self.put(key, body)
        pending_key = f"{prefix_b}/sub/pending.bin"
        pending = (pending_key, self.server.start_upload(pending_key))
        daemon_a = self.mirror_tree(sources["a"], prefix_a, "a")
        daemon_b = self.mirror_tree(sources["b"], prefix_b, "b")
        for label, source in sources.items():
            os.remove(os.path.join(source, "gone.txt"))
            write(os.path.join(source, "new", f"{label}.txt"), label.encode())
            os.rename(os.path.join(source, "dir"), os.path.join(source, "renamed"))
        daemon_a.settle()
        daemon_b.settle()
        self.assertBucketHolds(sources["a"], prefix_a)
        self.assertBucketHolds(sources["b"], prefix_b)
        for key, body in foreign.items():
            self.assertEqual(self.server.get(key)[0], body, key)
        self.assertIn(pending, self.server.uploads(prefix_b + "/"), "the upload was aborted")
        daemon_b.stop()
        daemon_a.stop()

        snapshot_b = self.listing(prefix_b)
        os.remove(os.path.join(sources["a"], "same.txt"))
        shutil.rmtree(os.path.join(sources["a"], "renamed"))  # B has the same directory
        first = self.server.log_mark()
        daemon_a = self.mirror_tree(sources["a"], prefix_a, "a-again")
        daemon_a.settle()
        last = self.server.log_mark()
        self.assertBucketHolds(sources["a"], prefix_a)
        self.assertEqual(self.listing(prefix_b), snapshot_b, "the other prefix changed")
        self.assertIn(pending, self.server.uploads(prefix_b + "/"), "the upload was aborted")
        # A request names its key, or a listing its prefix; a DeleteObjects (POST ?delete)
        # has its keys in the body, which the log does not show: the listing above covers it.
        strays = [r for r in self.server.requests_between(first, last)
                  if not (r["key"] or r["query"].get("prefix", "")).startswith(prefix_a + "/")
                  and not (r["key"] == "" and "delete" in r["query"])]
        self.assertEqual(strays, [], f"requests of the daemon on {prefix_a} outside it")
        daemon_a.stop()
        self.server.abort_upload(*pending)

    def put(self, key, body):
        path = os.path.join(self.workdir, "put-body")
        with open(path, "wb") as handle:
            handle.write(body)
        self.server.put_file(key, path)

    def listing(self, prefix):
        """{key: (ETag, Last-Modified)} of every key under `prefix` + "/": a key written
        again, even with the same bytes, gets a new Last-Modified."""
        result = {}
        for key in self.server.list_keys(prefix + "/"):
            _, headers, _ = self.server.request("HEAD", key)
            result[key] = (headers.get("etag"), headers.get("last-modified"))
        return result

    # ---- the command line -------------------------------------------------------------

    def cli_mirror(self, name, extra, env=None):
        url = f"s3://{self.server.BUCKET}/{self.prefix}/sub"
        daemon = Daemon(self.workdir, ["mirror", self.source, url, "--delay", "0",
                                       "--endpoint", self.server.endpoint,
                                       "--region", self.server.REGION] + extra,
                        name=name, env=env)
        self.daemons.append(daemon)
        return daemon

    def test_mirror_to_an_s3_url_with_a_credentials_file(self):
        """`tetherd mirror SRC s3://BUCKET/PREFIX --endpoint URL --region R
        --credentials-file F` mirrors a tree, and live changes."""
        make_tree(self.source)
        daemon = self.cli_mirror("cli", ["--credentials-file", self.credentials])
        daemon.settle(timeout=120)
        self.assertMirrored()
        write(self.src("a", "live.txt"), b"written live")
        os.remove(self.src("top.txt"))
        daemon.settle()
        self.assertMirrored()
        self.assertNoErrors(daemon)
        daemon.stop()

    def test_mirror_to_an_s3_url_with_keys_from_the_environment(self):
        """The same with the keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and no
        credentials file (HOME has no .aws)."""
        make_tree(self.source)
        home = os.path.join(self.workdir, "home")
        os.mkdir(home)
        env = dict(os.environ, HOME=home, AWS_ACCESS_KEY_ID=self.server.ACCESS_KEY,
                   AWS_SECRET_ACCESS_KEY=self.server.SECRET)
        daemon = self.cli_mirror("cli-env", [], env=env)
        daemon.settle(timeout=120)
        self.assertMirrored()
        self.assertNoErrors(daemon)
        daemon.stop()


if __name__ == "__main__":
    unittest.main()
