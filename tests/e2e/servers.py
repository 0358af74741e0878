"""Real servers for the end-to-end tests of remote stores: an OpenSSH sshd serving SFTP and a
one-node Ceph cluster with a radosgw serving S3, both on free ports of 127.0.0.1, each in a
temporary directory of its own.

Both need root (sshd, Ceph's daemons) and the Debian packages openssh-server and ceph /
radosgw. Where they are missing the tests are skipped with the reason (`unavailable`), unless
TETHERD_REQUIRE_SERVERS=1 (CI installs both and runs as root): then a missing server is a
failure, never a quiet skip.

Waits are on conditions with deadlines (wait_until), never fixed sleeps.
"""

import atexit
import ctypes
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest
import urllib.parse
import xml.etree.ElementTree as ElementTree

from harness import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
START_RADOSGW = os.path.join(HERE, os.pardir, "stores", "s3", "start-radosgw.sh")
SSHD = "/usr/sbin/sshd"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class ServerUnavailable(Exception):
    """The server cannot run on this machine (no root, a missing program); says why. The
    tests are skipped then (or fail, with TETHERD_REQUIRE_SERVERS=1)."""


class ServerFailed(Exception):
    """The server is installed but did not start: always a failure, never a skip."""


def servers_required():
    return os.environ.get("TETHERD_REQUIRE_SERVERS") == "1"


def unavailable(case, reason):
    """Skips `case` (a TestCase, or its class in setUpClass) saying why, or fails it when
    TETHERD_REQUIRE_SERVERS=1."""
    if servers_required():
        raise AssertionError(f"TETHERD_REQUIRE_SERVERS=1 but the server cannot run: {reason}")
    raise unittest.SkipTest(reason)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def gone(pid):
    """Whether process `pid` has ended (reaps it if it is our child; a zombie counts)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
        return state in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def terminate(pid, timeout=20):
    """SIGTERM to `pid`, waited for; SIGKILL if it is still there after `timeout` s."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        wait_until(lambda: gone(pid), timeout=timeout, interval=0.02,
                   what=f"process {pid} to end")
    except AssertionError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: gone(pid), timeout=10, interval=0.02, what=f"process {pid} to die")


def descendants(pid):
    """Every process below `pid` (sshd's per-connection processes)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    found, parents = [], [pid]
    while parents:
        for child in children.get(parents.pop(), []):
            found.append(child)
            parents.append(child)
    return found


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when the test process ends, however it ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _run(command):
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise ServerFailed(f"{' '.join(command)} failed ({completed.returncode}): "
                                f"{completed.stderr.strip()}")
    return completed.stdout


class SshServer:
    """An OpenSSH sshd serving SFTP (internal-sftp) on a free port of 127.0.0.1.

    Its directory holds the host key, a client key (authorized for root), known_hosts with
    the host key for [127.0.0.1]:PORT, sshd_config and sshd's log. The server's file system
    is this machine's: tests look at the directories it serves directly. stop() ends the
    listener and every connection; start() brings it back on the same port with the same
    keys."""

    def __init__(self):
        if os.geteuid() != 0:
            raise ServerUnavailable("sshd needs root (the test runs as uid %d)" % os.geteuid())
        for program in (SSHD, shutil.which("ssh-keygen") or "ssh-keygen"):
            if not os.access(program, os.X_OK):
                raise ServerUnavailable(f"no {program} (Debian package openssh-server)")
        self.dir = tempfile.mkdtemp(prefix="tetherd-e2e-sshd-")
        self.process = None
        self.starts = 0
        self.roots = 0
        atexit.register(self.close)
        try:
            os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
            self.host_key = os.path.join(self.dir, "host_key")
            self.client_key = os.path.join(self.dir, "client_key")
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tetherd-e2e-host",
                  "-f", self.host_key])
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tetherd-e2e-client",
                  "-f", self.client_key])
            shutil.copyfile(self.client_key + ".pub", os.path.join(self.dir, "authorized_keys"))
            self.port = free_port()
            self.config = os.path.join(self.dir, "sshd_config")
            with open(self.config, "w") as handle:
                handle.write(
                    f"Port {self.port}\n"
                    "ListenAddress 127.0.0.1\n"
                    f"HostKey {self.host_key}\n"
                    f"PidFile {os.path.join(self.dir, 'sshd.pid')}\n"
                    f"AuthorizedKeysFile {os.path.join(self.dir, 'authorized_keys')}\n"
                    "PubkeyAuthentication yes\n"
                    "PasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    "PermitRootLogin prohibit-password\n"
                    "UsePAM no\n"
                    "StrictModes no\n"
                    "Subsystem sftp internal-sftp\n"
                    "MaxStartups 100\n"
                    "MaxSessions 100\n")
            self.known_hosts = os.path.join(self.dir, "known_hosts")
            with open(self.known_hosts, "w") as handle:
                handle.write(self.known_hosts_line(self.host_key + ".pub") + "\n")
            self.fingerprint = self.fingerprint_of(self.host_key + ".pub")
            self.start()
        except BaseException:
            self.close()
            raise

    def known_hosts_line(self, public_key):
        """The known_hosts line naming this server's address with the key in `public_key`."""
        with open(public_key) as handle:
            key_type, blob = handle.read().split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {blob}"

    @staticmethod
    def fingerprint_of(public_key):
        """"SHA256:..." as `ssh-keygen -l -E sha256` prints it."""
        return _run(["ssh-keygen", "-l", "-E", "sha256", "-f", public_key]).split()[1]

    def other_known_hosts(self, name="other_known_hosts"):
        """A known_hosts file listing a fresh key (not the server's) for this address."""
        other = os.path.join(self.dir, name + "_key")
        if not os.path.exists(other):
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "not-the-host",
                  "-f", other])
        path = os.path.join(self.dir, name)
        with open(path, "w") as handle:
            handle.write(self.known_hosts_line(other + ".pub") + "\n")
        return path, self.fingerprint_of(other + ".pub")

    def new_root(self, kind="root"):
        """A fresh empty directory on the server (absolute path)."""
        self.roots += 1
        path = os.path.join(self.dir, "served", f"{kind}{self.roots}")
        os.makedirs(path)
        return path

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "sshd.log"), "rb") as handle:
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self):
        """Starts the listener (again) on the port, and waits until it accepts."""
        assert not self.running()
        self.starts += 1
        with open(os.path.join(self.dir, "sshd.log"), "ab") as log:
            log.write(b"---- start %d\n" % self.starts)
            log.flush()
            self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", self.config],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            preexec_fn=_die_with_parent)
        try:
            wait_until(lambda: self.process.poll() is not None or accepts(self.port),
                       timeout=30, what=f"sshd to accept on 127.0.0.1:{self.port}",
                       details=self.log_text)
        except AssertionError as failure:
            self.stop()
            raise ServerFailed(str(failure))
        if self.process.poll() is not None:
            code = self.process.returncode
            self.process = None
            raise ServerFailed(f"sshd exited {code}: {self.log_text()}")

    def stop(self):
        """Ends the listener and every session it started (connections drop at once)."""
        if self.process is None:
            return
        sessions = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=30)
        for pid in sessions:
            wait_until(lambda: gone(pid), timeout=10, what=f"sshd session {pid} to end")
        self.process = None
        wait_until(lambda: not accepts(self.port), timeout=10,
                   what=f"127.0.0.1:{self.port} to refuse connections")

    def close(self):
        self.stop()
        if not os.environ.get("TETHERD_E2E_KEEP") and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)

    def store(self, root, **extra):
        """The JSON of an sftp store on `root` (checked with known_hosts unless `extra`
        says otherwise; a None value drops a key)."""
        config = {"type": "sftp", "host": "127.0.0.1", "port": self.port, "user": "root",
                  "key_file": self.client_key, "known_hosts": self.known_hosts, "root": root}
        config.update(extra)
        return {key: value for key, value in config.items() if value is not None}


class S3Error(Exception):
    def __init__(self, method, url, status, body):
        super().__init__(f"{method} {url}: HTTP {status}: {body[:500]!r}")
        self.status = status
        self.body = body


class CephS3:
    """A one-node Ceph cluster (mon, memstore OSD, radosgw) started by
    tests/stores/s3/start-radosgw.sh, with a user (ACCESS_KEY, SECRET) and one bucket; plus
    a small signed S3 client (curl --aws-sigv4) for the tests' checks. Meant to be started
    once per test class (it takes 20-40 s) and stopped in tearDownClass."""

    ACCESS_KEY = "TETHERDE2EKEY"
    SECRET = "tetherd-e2e-secret-0123456789"
    REGION = "us-east-1"
    BUCKET = "tetherd-e2e"

    def __init__(self):
        if os.geteuid() != 0:
            raise ServerUnavailable("Ceph's daemons need root (the test runs as uid %d)"
                                    % os.geteuid())
        for program in ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph",
                        "monmaptool", "ceph-authtool", "curl"):
            if shutil.which(program) is None:
                raise ServerUnavailable(f"no {program} (Debian packages ceph, radosgw, curl)")
        self.dir = tempfile.mkdtemp(prefix="tetherd-e2e-ceph-")
        self.pids = []
        self.rgw_pid = None
        self.prefixes = 0
        # Stopped when the test process ends normally even if tearDownClass never runs.
        atexit.register(self.close)
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.rgw_port}"

    def _start(self):
        mon_port = free_port()
        self.rgw_port = free_port()
        while self.rgw_port == mon_port:
            self.rgw_port = free_port()
        log = os.path.join(self.dir, "start.log")
        with open(log, "wb") as handle:
            completed = subprocess.run(
                ["bash", START_RADOSGW, os.path.join(self.dir, "cluster"), str(mon_port),
                 str(self.rgw_port), self.ACCESS_KEY, self.SECRET],
                stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, timeout=300)
        with open(log, "rb") as handle:
            output = handle.read().decode(errors="replace")
        last = [line for line in output.splitlines() if line.startswith("pids ")]
        if last:
            self.pids = [int(pid) for pid in last[-1].split()[1:]]
        if completed.returncode != 0 or len(self.pids) != 3:
            raise ServerFailed(f"the radosgw cluster did not start "
                                    f"(exit {completed.returncode}): {output[-3000:]}")
        self.rgw_pid = self.pids.pop()
        wait_until(self._answers, timeout=60, interval=0.05, what="radosgw to answer HTTP",
                   details=lambda: self.log_tail("rgw.out"))
        self.request("PUT", "")

    def _answers(self):
        completed = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                    "--max-time", "5", self.endpoint + "/"],
                                   capture_output=True, text=True)
        return completed.stdout not in ("", "000")

    def log_tail(self, name, lines=30):
        try:
            with open(os.path.join(self.dir, "cluster", "log", name), "rb") as handle:
                return b"\n".join(handle.read().splitlines()[-lines:]).decode(errors="replace")
        except FileNotFoundError:
            return f"(no {name})"

    def close(self):
        """SIGTERM by PID: the gateway first, alone (stopped with the mon it hangs in its
        shutdown), then the OSD, then the mon."""
        if self.rgw_pid:
            terminate(self.rgw_pid)
            self.rgw_pid = None
        for pid in reversed(self.pids):
            terminate(pid)
        self.pids = []
        if not os.environ.get("TETHERD_E2E_KEEP") and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)

    def fresh_prefix(self):
        self.prefixes += 1
        return f"e2e{os.getpid()}-{self.prefixes}"

    def credentials_file(self, directory, access_key=None, secret=None):
        """An AWS credentials file (INI) in `directory` with this cluster's user, or with
        the keys given."""
        path = os.path.join(directory, "credentials")
        with open(path, "w") as handle:
            handle.write("[default]\n"
                         f"aws_access_key_id = {access_key or self.ACCESS_KEY}\n"
                         f"aws_secret_access_key = {secret or self.SECRET}\n")
        os.chmod(path, 0o600)
        return path

    def store(self, credentials_file, prefix, **extra):
        """The JSON of an s3 store on this cluster's bucket under `prefix`."""
        config = {"type": "s3", "endpoint": self.endpoint, "region": self.REGION,
                  "bucket": self.BUCKET, "credentials_file": credentials_file, "prefix": prefix}
        config.update(extra)
        return {key: value for key, value in config.items() if value is not None}

    # ---- a small S3 client ------------------------------------------------------------

    @staticmethod
    def quote(text):
        return urllib.parse.quote(text, safe="-_.~")

    def url(self, key, query=()):
        """Path-style URL of `key` in the bucket ("" is the bucket); the query sorted as
        SigV4's canonical form wants it."""
        url = f"{self.endpoint}/{self.BUCKET}"
        if key:
            url += "/" + urllib.parse.quote(key, safe="-_.~/")
        if query:
            url += "?" + "&".join(f"{self.quote(k)}={self.quote(v)}" for k, v in sorted(query))
        return url

    def request(self, method, key, query=(), expect=(200,)):
        """One signed request without a body; returns (status, headers, body). Raises S3Error when the
        status is not in `expect`."""
        url = self.url(key, query)
        with tempfile.TemporaryDirectory(prefix="tetherd-s3-") as scratch:
            headers_path = os.path.join(scratch, "headers")
            body_path = os.path.join(scratch, "body")
            command = ["curl", "-sS", "--aws-sigv4", f"aws:amz:{self.REGION}:s3",
                       "--user", f"{self.ACCESS_KEY}:{self.SECRET}", "-D", headers_path,
                       "-o", body_path, "-w", "%{http_code}", "--max-time", "60",
                       # radosgw wants the payload's hash; this curl does not send it.
                       "-H", f"x-amz-content-sha256: {EMPTY_SHA256}"]
            if method == "HEAD":
                command.append("-I")
            elif method != "GET":
                command += ["-X", method]
            completed = subprocess.run(command + [url], capture_output=True, text=True)
            if completed.returncode != 0:
                raise S3Error(method, url, 0, completed.stderr.encode())
            status = int(completed.stdout.strip() or 0)
            headers = {}
            with open(headers_path, "rb") as handle:
                for line in handle.read().decode("latin-1").splitlines():
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
            body = b""
            if os.path.exists(body_path):
                with open(body_path, "rb") as handle:
                    body = handle.read()
        if status not in expect:
            raise S3Error(method, url, status, body)
        return status, headers, body

    def list_keys(self, prefix, page=1000):
        """Every key starting with `prefix` (ListObjectsV2, `page` keys a request, following
        continuation tokens)."""
        keys = []
        token = None
        while True:
            query = [("list-type", "2"), ("max-keys", str(page)), ("prefix", prefix)]
            if token:
                query.append(("continuation-token", token))
            _, _, body = self.request("GET", "", query)
            root = ElementTree.fromstring(body)
            namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            for contents in root.iter(namespace + "Contents"):
                keys.append(contents.find(namespace + "Key").text)
            truncated = root.find(namespace + "IsTruncated")
            if truncated is None or truncated.text != "true":
                return keys
            token = root.find(namespace + "NextContinuationToken").text

    def get(self, key):
        """(bytes, headers) of object `key`."""
        _, headers, body = self.request("GET", key)
        return body, headers

    def snapshot(self, prefix, metadata=True):
        """What the bucket holds under directory `prefix` (no trailing "/"), as
        {relative path (bytes): entry}: ("file", bytes, mode, mtime_ns) for an object (mode
        and mtime from the store's x-amz-meta-mode / x-amz-meta-mtime, None when absent
        or when `metadata` is false) and ("dir",) for a directory, whether a marker object
        ("path/") or only implied by the keys below it."""
        result = {}
        start = prefix + "/" if prefix else ""
        for key in self.list_keys(start):
            relative = key[len(start):]
            if not relative:
                continue  # the prefix's own marker
            parts = relative.rstrip("/").split("/")
            for depth in range(1, len(parts)):
                result["/".join(parts[:depth]).encode()] = ("dir",)
            if relative.endswith("/"):
                result[relative.rstrip("/").encode()] = ("dir",)
                continue
            mode = mtime = None
            if metadata:
                body, headers = self.get(key)
                if "x-amz-meta-mode" in headers:
                    mode = int(headers["x-amz-meta-mode"], 8)
                if "x-amz-meta-mtime" in headers:
                    mtime = int(headers["x-amz-meta-mtime"])
            else:
                body, _ = self.get(key)
            result[relative.encode()] = ("file", body, mode, mtime)
        return result

    # ---- the gateway alone: stop, start, its access log ---------------------------------

    def gateway_running(self):
        return self.rgw_pid is not None and not gone(self.rgw_pid)

    def stop_gateway(self, kill=False):
        """Stops radosgw alone (the mon and OSD, so the data, stay): SIGTERM, or SIGKILL
        with `kill` (a crash); returns once the port refuses connections."""
        if self.rgw_pid is None:
            return
        if kill:
            try:
                os.kill(self.rgw_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_until(lambda: gone(self.rgw_pid), timeout=20, interval=0.02,
                       what=f"radosgw {self.rgw_pid} to die")
        else:
            terminate(self.rgw_pid)
        self.rgw_pid = None
        wait_until(lambda: not accepts(self.rgw_port), timeout=20,
                   what=f"127.0.0.1:{self.rgw_port} to refuse connections")

    def start_gateway(self):
        """Starts radosgw again on the same port (same cluster, user and bucket), in the
        background as start-radosgw.sh does (stopped by PID like the first one), and waits
        until it answers HTTP."""
        assert not self.gateway_running()
        cluster = os.path.join(self.dir, "cluster")
        self.rgw_pid = int(_run(["bash", "-c", 'radosgw -c "$1" -n client.rgw.a -f '
                                 '</dev/null >>"$2" 2>&1 & echo $!', "start-gateway",
                                 os.path.join(cluster, "ceph.conf"),
                                 os.path.join(cluster, "log", "rgw.out")]))
        wait_until(lambda: gone(self.rgw_pid) or self._answers(), timeout=60, interval=0.05,
                   what="radosgw to answer HTTP again", details=lambda: self.log_tail("rgw.out"))
        if gone(self.rgw_pid):
            self.rgw_pid = None
            raise ServerFailed(f"radosgw exited at its restart: {self.log_tail('rgw.out')}")

    # One request in the gateway's log (beast's access line, debug_rgw_access 1):
    # ... beast: 0x..: 127.0.0.1 - USER [DATE] "PUT /bucket/key?q HTTP/1.1" 200 4096 - "AGENT" ...
    # where a request without a User-Agent has a bare - for "AGENT".
    ACCESS_LINE = re.compile(rb'beast: \S+ \S+ - \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d+) \S+ \S+ '
                             rb'("[^"]*"|-)')

    def access_log(self):
        """Every request the gateway has logged so far, oldest first, as dicts: method,
        key (unquoted, without the bucket; "" for the bucket), query ({name: value}),
        status, agent (the User-Agent; tetherd sends none: "-"; this client's is curl's)."""
        try:
            with open(os.path.join(self.dir, "cluster", "log", "client.rgw.a.log"), "rb") as log:
                text = log.read()
        except FileNotFoundError:
            return []
        requests = []
        for match in self.ACCESS_LINE.finditer(text):
            method, target, status, agent = (part.decode(errors="replace")
                                             for part in match.groups())
            agent = agent.strip('"')
            path, _, query = target.partition("?")
            path = urllib.parse.unquote(path)
            bucket_path = "/" + self.BUCKET
            key = path[len(bucket_path) + 1:] if path.startswith(bucket_path) else path
            requests.append({"method": method, "key": key, "status": int(status),
                             "query": dict(urllib.parse.parse_qsl(query,
                                                                  keep_blank_values=True)),
                             "agent": agent})
        return requests

    def log_mark(self):
        """A request only this call sends (a HEAD of a key that does not exist), waited for
        in the gateway's log; returns its index in access_log(). Every request answered
        before the call is logged before it, so the requests between two marks are those
        answered between the two calls."""
        self.marks = getattr(self, "marks", 0) + 1
        key = f"tetherd-e2e-log-mark-{os.getpid()}-{self.marks}"
        self.request("HEAD", key, expect=(404,))

        def found():
            for index, entry in enumerate(self.access_log()):
                if entry["key"] == key:
                    return index + 1  # 0 would read as "not yet"
            return 0
        return wait_until(found, timeout=30, interval=0.05,
                          what=f"the gateway to log {key}") - 1

    def requests_between(self, first_mark, second_mark, agent="-"):
        """The requests logged between two log_mark()s, sent with User-Agent `agent`
        (tetherd's: none)."""
        return [entry for entry in self.access_log()[first_mark + 1:second_mark]
                if entry["agent"] == agent]

    # ---- multipart uploads ----------------------------------------------------------------

    def uploads(self, prefix):
        """The multipart uploads open under `prefix` (ListMultipartUploads), as
        [(key, upload id)]."""
        result = []
        query = [("uploads", ""), ("prefix", prefix)]
        while True:
            _, _, body = self.request("GET", "", query)
            root = ElementTree.fromstring(body)
            namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            for upload in root.iter(namespace + "Upload"):
                result.append((upload.find(namespace + "Key").text,
                               upload.find(namespace + "UploadId").text))
            truncated = root.find(namespace + "IsTruncated")
            if truncated is None or truncated.text != "true":
                return result
            query = [("uploads", ""), ("prefix", prefix),
                     ("key-marker", root.find(namespace + "NextKeyMarker").text),
                     ("upload-id-marker", root.find(namespace + "NextUploadIdMarker").text)]

    def start_upload(self, key):
        """Initiates a multipart upload of `key` (and sends no part); returns its id."""
        _, _, body = self.request("POST", key, [("uploads", "")])
        root = ElementTree.fromstring(body)
        namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        return root.find(namespace + "UploadId").text

    def abort_upload(self, key, upload_id):
        self.request("DELETE", key, [("uploadId", upload_id)], expect=(204,))

    def put_file(self, key, path):
        """PUTs the bytes of file `path` as object `key` (as another tool would)."""
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        completed = subprocess.run(
            ["curl", "-sS", "--aws-sigv4", f"aws:amz:{self.REGION}:s3", "--user",
             f"{self.ACCESS_KEY}:{self.SECRET}", "-o", "/dev/null", "-w", "%{http_code}",
             "--max-time", "60", "-H", f"x-amz-content-sha256: {digest}", "-T", path,
             self.url(key)], capture_output=True, text=True)
        if completed.returncode != 0 or completed.stdout.strip() != "200":
            raise S3Error("PUT", self.url(key), int(completed.stdout.strip() or 0),
                          completed.stderr.encode())
