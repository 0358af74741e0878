"""The real `tetherd run` speaking sd_notify to a socket that stands in for systemd.

Checks the protocol a Type=notify unit relies on: READY=1 (with a STATUS= line) once the
rules are up, WATCHDOG=1 pings when WATCHDOG_USEC is set, RELOADING=1 + MONOTONIC_USEC
then READY=1 around an accepted and a refused SIGHUP reload, STOPPING=1 on SIGTERM, and
that a file written right after READY=1 is mirrored. Every wait has a deadline.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

TETHERD = os.environ.get("TETHERD", "tetherd")
DEADLINE = 30.0


class NotifyDaemon(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="tetherd-notify-")
        self.addCleanup(shutil.rmtree, self.workdir, True)
        self.sink_path = os.path.join(self.workdir, "notify.sock")
        self.sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sink.bind(self.sink_path)
        self.addCleanup(self.sink.close)
        self.messages = []  # every datagram received, in order
        self.process = None

    def tearDown(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def make_rule(self, name):
        source = os.path.join(self.workdir, name, "src")
        target = os.path.join(self.workdir, name, "dst")
        os.makedirs(source)
        os.makedirs(target)
        return {"name": name, "source": source, "target": target, "delay_ms": 0}

    def write_config(self, rules):
        with open(self.config, "w") as handle:
            json.dump({"rules": rules}, handle)

    def wait_for(self, predicate, what):
        """Reads datagrams until one satisfies predicate; returns it."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            self.sink.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sink.recv(65536).decode("utf-8", "strict")
            except socket.timeout:
                break
            self.messages.append(data)
            if predicate(data):
                return data
            if self.process.poll() is not None:
                break
        self.fail(f"no {what} within {DEADLINE} s; received: {self.messages[-10:]}")

    def fields(self, message):
        return dict(line.split("=", 1) for line in message.split("\n") if "=" in line)

    def test_notify_protocol_over_a_daemon_lifetime(self):
        first, second = self.make_rule("first"), self.make_rule("second")
        self.config = os.path.join(self.workdir, "tetherd.json")
        self.write_config([first, second])
        environment = dict(os.environ, NOTIFY_SOCKET=self.sink_path, WATCHDOG_USEC="400000")
        environment.pop("WATCHDOG_PID", None)
        self.process = subprocess.Popen(
            [TETHERD, "run", "-c", self.config, "--socket",
             os.path.join(self.workdir, "control.sock"), "--log-format", "json",
             "--log-journal", "no"],
            env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.workdir, "stderr.log"), "wb"))

        ready = self.wait_for(lambda m: "READY=1" in m.split("\n"), "READY=1")
        self.assertTrue(self.fields(ready)["STATUS"].startswith("2 rules: "), ready)
        # Watches were up before READY=1: a file written now is mirrored live.
        with open(os.path.join(first["source"], "after-ready"), "wb") as handle:
            handle.write(b"x")
        deadline = time.monotonic() + DEADLINE
        while not os.path.exists(os.path.join(first["target"], "after-ready")):
            self.assertLess(time.monotonic(), deadline, "file written after READY=1 not mirrored")
            time.sleep(0.02)

        # The watchdog pings (half of WATCHDOG_USEC) keep coming.
        for _ in range(3):
            self.wait_for(lambda m: m == "WATCHDOG=1", "WATCHDOG=1")

        # An accepted reload: RELOADING=1 with a plausible CLOCK_MONOTONIC stamp, then READY=1.
        third = self.make_rule("third")
        self.write_config([first, second, third])
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.process.send_signal(signal.SIGHUP)
        reloading = self.wait_for(lambda m: "RELOADING=1" in m.split("\n"), "RELOADING=1")
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        stamp = int(self.fields(reloading)["MONOTONIC_USEC"])
        self.assertTrue(before <= stamp <= after, (before, stamp, after))
        ready = self.wait_for(lambda m: "READY=1" in m.split("\n"), "READY=1 after the reload")
        self.assertTrue(self.fields(ready)["STATUS"].startswith("3 rules: "), ready)

        # A refused reload: still RELOADING=1 then READY=1; the old rules stay; the STATUS
        # line names the error.
        with open(self.config, "w") as handle:
            handle.write('{"rules": [ {"name": "broken", "sauce": 1} ]}')
        self.process.send_signal(signal.SIGHUP)
        self.wait_for(lambda m: "RELOADING=1" in m.split("\n"), "RELOADING=1 (refused)")
        ready = self.wait_for(lambda m: "READY=1" in m.split("\n"), "READY=1 (refused)")
        status = self.fields(ready)["STATUS"]
        self.assertTrue(status.startswith("3 rules: "), status)
        self.assertIn("last error", status)
        self.assertIn("config is invalid", status)

        self.process.send_signal(signal.SIGTERM)
        stopping = self.wait_for(lambda m: "STOPPING=1" in m.split("\n"), "STOPPING=1")
        self.assertIn("STATUS=stopping", stopping)
        self.assertEqual(self.process.wait(timeout=DEADLINE), 0)


if __name__ == "__main__":
    unittest.main()
