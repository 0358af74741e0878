"""Scenarios 8 and 9: tetherd against the tools people copy to remote stores with, over real
servers on 127.0.0.1, each started once per run from the end-to-end tests' fixtures
(tests/e2e/servers.py), never duplicated here:

  sftp  an OpenSSH sshd (internal-sftp) with keys and known_hosts of its own. Peers:
        rsync -a -e ssh, sftp -b (put -rp), rclone sync (sftp remote); live: lsyncd
        default.rsyncssh.
  s3    a one-node Ceph cluster's radosgw (memstore OSD). Peers: rclone sync (s3 remote,
        provider Ceph, path style, --transfers 8) and s3cmd sync. Neither has a live mode.

Each measures the initial sync of many small files, of one big file, a no-op restart over
an already synced target and the live latency of a small file. The SFTP server serves this
machine's file system, so its targets are checked (and polled) as local directories; the
S3 side is checked with S3Client, a small SigV4 client of the harness's own, and
radosgw's log (RgwLog) counts the requests each tool sends in each S3 run.

A server that cannot run here (not root, sshd or Ceph not installed) skips its scenario,
marked in the table; one that is installed but does not start is an error. A peer whose
package is missing is skipped and marked."""

import contextlib
import datetime
import hashlib
import hmac
import http.client
import os
import posixpath
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree

from report import fmt
from scenarios import have, latency_series
from tools import BenchError, Lsyncd, Tetherd, TimedOut, make_tree, run_timed, tree_spec, \
    wait_tree

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                             "tests", "e2e"))
from servers import CephS3, ServerFailed, ServerUnavailable, SshServer  # noqa: E402

KIB4 = 4096
SFTP = "8 sftp"
S3 = "9 s3"
PACKAGES = {"rsync -a -e ssh": ("rsync", "rsync"), "sftp -b": ("sftp", "openssh-client"),
            "rclone sync": ("rclone", "rclone"), "s3cmd sync": ("s3cmd", "s3cmd"),
            "lsyncd rsyncssh": ("lsyncd", "lsyncd")}


NOTES = """\
Scenarios 8 and 9 run against real servers on 127.0.0.1, started once for the scenario from
the end-to-end tests' fixtures (`tests/e2e/servers.py`): an OpenSSH sshd serving SFTP
(internal-sftp, key authentication, the host key checked against a known_hosts file) and a
one-node Ceph cluster (mon, memstore OSD: objects in RAM) with a radosgw. Client and
server share the 2 cores, so every figure includes the server's work too.

- One-shot runs (`tetherd mirror SRC DST --once`, rsync, sftp, rclone, s3cmd) are timed
  until the tool exits; then, untimed, the target is checked complete: on the SFTP server's
  file system (it is this machine's) or by listing the bucket. Each run gets a fresh
  target directory or bucket, created before the clock starts (tetherd wants its root to
  exist). tetherd's SFTP store keeps its defaults (2 connections), its S3 store too (8).
- SFTP peers: `rsync -a -e "ssh -i KEY -p PORT -o UserKnownHostsFile=... -o
  BatchMode=yes"`, `sftp -b` with `put -rp` (-p keeps modes and times, as rsync -a and
  tetherd do), `rclone sync` with an sftp remote and `disable_hashcheck = true`: by
  default rclone checks every upload by running md5sum on the server in an SSH session of
  its own per file, which took 173 s for 1,000 files of 4 KiB here (2.2 s without).
- S3 peers: `rclone sync --transfers 8` (provider Ceph, path style; run without
  AWS_CA_BUNDLE in its environment, which rclone 1.60 cannot start an S3 remote with) and
  `s3cmd sync --quiet` (path style, SigV4). Files hold random bytes, other in each:
  s3cmd sends a file whose MD5 it has already uploaded as a server-side copy.
- No-op restart over SFTP: one target, made by `cp -a` on the server's file system (what
  any of the tools would leave), every tool against it in turn; after each run the
  target's entries (inode, size, mtime, ctime) are compared with before: a run that wrote
  anything is marked "not a no-op". `sftp` has no no-op mode.
- No-op restart over S3: each tool against its own upload (objects carry each tool's
  metadata), s3cmd against rclone's (it compares size and MD5 with the listing's ETag).
  After each small-files run the same tool runs again against the bucket it filled (the
  "no-op right after" rows); a tool that writes objects then is not run at the big no-op
  point, where it would time a full upload again.
- Requests: radosgw logs one line per request it serves; each S3 run is framed by two
  marker requests and the lines between them are counted by method ("requests" rows;
  "writes" are PUT, POST and DELETE of objects).
- Latency: a writer creates 4 KiB files at a steady rate in the watched source; a poller
  checks each pending file at the target (SFTP: a stat on the server's file system every
  0.2 ms; S3: a HEAD on a keep-alive connection of its own, one request at a time, so a
  round takes a few ms). tetherd runs `tetherd mirror SRC sftp://...|s3://... --delay 0`.
  lsyncd runs `default.rsyncssh` (host 127.0.0.1, the key, port and known_hosts through
  its `ssh` table, `delay = 0`; lsyncd refuses more than one process for rsyncssh), its
  rsync and ssh commands sharing one SSH connection (ControlMaster, ControlPersist 60 s),
  as a tuned setup would: a new connection costs 0.5 to 0.8 s here, and lsyncd would pay it
  for every batch (p50 about 1.5 s instead of 0.3–0.6 s). rclone and s3cmd have no live
  mode."""


def notes(ctx):
    ctx.results.sections["Remote stores (8 sftp, 9 s3)"] = NOTES


def available(ctx, scenario, tools):
    """The tools whose command is installed; the others get a skipped row."""
    found = []
    for tool in tools:
        command, package = PACKAGES.get(tool, (None, None))
        if command is None or have(command):
            found.append(tool)
        else:
            ctx.results.skip(scenario, "every measure", tool,
                             f"skipped: package {package} not installed")
    return found


@contextlib.contextmanager
def server(ctx, scenario, factory, what):
    """Starts one server for the whole scenario and stops it at the end, however the
    scenario ends. Yields None (the scenario skipped and marked) when it cannot run here."""
    ctx.log(f"{scenario}: starting {what}")
    began = time.monotonic()
    try:
        running = factory()
    except ServerUnavailable as why:
        ctx.log(f"{scenario}: skipped: {why}")
        ctx.results.skip(scenario, "every measure", "every tool", f"skipped: {why}")
        yield None
        return
    except ServerFailed as failure:
        raise BenchError(f"{what} is installed but did not start: {failure}") from None
    ctx.log(f"{scenario}: {what} up in {time.monotonic() - began:.1f} s")
    try:
        yield running
    finally:
        ctx.log(f"{scenario}: stopping {what}")
        running.close()


def one_run(ctx, argv, timeout, env=None):
    """A one-shot tool timed until it exits: (seconds, peak RSS MiB, timed out)."""
    ctx.sync()
    try:
        elapsed, rss = run_timed(argv, env=env, timeout=timeout)
    except TimedOut:
        return float(timeout), None, True
    return elapsed, rss / 1024, False


def median(values):
    return statistics.median(values) if values else None


class Series:
    """The figures of one measure for every tool, the runs a tool is not repeated in once
    it timed out (or did something else that makes more runs pointless), and the rows."""

    def __init__(self, tools):
        self.values = {tool: [] for tool in tools}
        self.rss = {tool: [] for tool in tools}
        self.requests = {tool: [] for tool in tools}
        self.detail = {tool: "" for tool in tools}
        self.notes = {}
        self.timed_out = set()

    def done(self, tool):
        return tool in self.notes

    def record(self, tool, elapsed, rss, timed_out, note=""):
        self.values[tool].append(elapsed)
        if rss is not None:
            self.rss[tool].append(rss)
        if timed_out:
            self.timed_out.add(tool)
            self.notes[tool] = note or f"timed out after {elapsed:.0f} s; not repeated"

    def rows(self, ctx, scenario, measure, rss=True, requests=False, note=None):
        for tool in self.values:
            ctx.results.add(scenario, f"{measure}: time", tool, "s", self.values[tool],
                            "; ".join(filter(None, [self.notes.get(tool, ""),
                                                    (note or {}).get(tool, "")])),
                            timed_out=tool in self.timed_out)
            if rss and self.rss[tool]:
                ctx.results.add(scenario, f"{measure}: peak RSS", tool, "MiB", self.rss[tool])
            if requests and self.requests[tool]:
                ctx.results.add(scenario, f"{measure}: requests", tool, "requests",
                                self.requests[tool], self.detail[tool])


def time_goal(ctx, scenario, goal, measure, peers, bar):
    """Records whether tetherd's median time of measure is at most bar × the fastest of
    peers' medians."""
    rows = {row["tool"]: row for row in ctx.results.rows
            if row["scenario"] == scenario and row["measure"] == measure
            and row["values"] and not row["skipped"]}
    mine = rows.get("tetherd")
    theirs = [rows[peer] for peer in peers if peer in rows]
    if mine is None or not theirs:
        ctx.results.goal(scenario, goal, "—", "—", None, None,
                         "tetherd or the peer was not measured in this run")
        return
    peer = min(theirs, key=lambda row: median(row["values"]))
    ratio = median(mine["values"]) / median(peer["values"])
    met, note = ratio <= bar, ""
    if mine["timed_out"]:  # tetherd's figure is a lower bound
        met, note = (False if ratio > bar else None), "tetherd timed out"
    elif peer["timed_out"] and not met:  # the peer's figure is a lower bound
        met, note = None, f"{peer['tool']} timed out"
    prefix = lambda row: "≥ " if row["timed_out"] else ""  # noqa: E731
    ctx.results.goal(scenario, goal, f"{prefix(mine)}{fmt(median(mine['values']), 's')} s",
                     f"{peer['tool']}: {prefix(peer)}{fmt(median(peer['values']), 's')} s",
                     ratio, met, note)


def tree_state(root):
    """Inode, size, mtime and ctime of every entry below root: a no-op that writes anything
    (a file, its times, a temporary file) changes it."""
    state, pending = {}, [root]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                state[entry.path] = (info.st_ino, info.st_size, info.st_mtime_ns,
                                     info.st_ctime_ns)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return state


def changed(before, after):
    return sum(1 for path in before.keys() | after.keys() if before.get(path) != after.get(path))


# ---------------------------------------------------------------------------------------
# 8. SFTP


class SftpPeers:
    """The commands of every SFTP tool against one sshd. A target is an absolute path on
    the server, which is this machine: it exists before each run (tetherd's SFTP store
    wants its root to exist; the others would create it)."""

    TOOLS = ["tetherd", "rsync -a -e ssh", "sftp -b", "rclone sync"]

    def __init__(self, ctx, sshd):
        self.ctx = ctx
        self.sshd = sshd
        self.config_dir = ctx.work.fresh("sftp-config")
        self.ssh = (f"ssh -i {sshd.client_key} -p {sshd.port} "
                    f"-o UserKnownHostsFile={sshd.known_hosts} -o BatchMode=yes")
        # rclone checks each upload by running md5sum on the server through a new SSH
        # session per file: 173 s for 1,000 files of 4 KiB here, against 2.2 s without.
        # Turned off, as lsyncd is tuned for speed: the comparison is with rclone at its
        # fastest. It still compares size and modification time, as rsync does.
        self.rclone_config = os.path.join(self.config_dir, "rclone.conf")
        with open(self.rclone_config, "w") as handle:
            handle.write("[bench-sftp]\ntype = sftp\nhost = 127.0.0.1\n"
                         f"port = {sshd.port}\nuser = root\nkey_file = {sshd.client_key}\n"
                         f"known_hosts_file = {sshd.known_hosts}\n"
                         "disable_hashcheck = true\n")
        self.batches = 0

    def url(self, target):
        return f"sftp://root@127.0.0.1:{self.sshd.port}{target}"

    def tetherd_args(self):
        return ["--key-file", self.sshd.client_key, "--known-hosts", self.sshd.known_hosts]

    def argv(self, tool, source, target):
        """source's contents to the directory target."""
        if tool == "tetherd":
            return [self.ctx.tetherd, "mirror", source, self.url(target), "--once",
                    *self.tetherd_args(), "--log-format", "none", "-q"]
        if tool == "rsync -a -e ssh":
            return ["rsync", "-a", "-e", self.ssh, source + "/", f"root@127.0.0.1:{target}/"]
        if tool == "sftp -b":
            # put -r into an existing directory puts the files in it; -p keeps modes and
            # times, as rsync -a and tetherd do.
            self.batches += 1
            batch = os.path.join(self.config_dir, f"batch{self.batches}")
            with open(batch, "w") as handle:
                handle.write(f'put -rp "{source}/." "{target}"\n')
            return ["sftp", "-b", batch, "-i", self.sshd.client_key, "-P", str(self.sshd.port),
                    "-o", f"UserKnownHostsFile={self.sshd.known_hosts}", "-o", "BatchMode=yes",
                    "root@127.0.0.1"]
        if tool == "rclone sync":
            return ["rclone", "--config", self.rclone_config, "sync", source,
                    f"bench-sftp:{target}"]
        raise ValueError(tool)

    def fresh_target(self, name):
        target = os.path.join(self.ctx.work.fresh(name), "tree")
        os.mkdir(target)
        return target


def sftp(ctx):
    plan = ctx.plan["sftp"]
    notes(ctx)
    with server(ctx, SFTP, SshServer, "sshd") as sshd:
        if sshd is None:
            return
        peers = SftpPeers(ctx, sshd)
        tools = available(ctx, SFTP, SftpPeers.TOOLS)
        small = sftp_initial(ctx, plan, peers, tools)
        big = sftp_big(ctx, plan, peers, tools)
        noop = sftp_noop(ctx, plan, peers, [tool for tool in tools if tool != "sftp -b"])
        sftp_latency(ctx, plan, peers, sshd)
    time_goal(ctx, SFTP, "small files ≤ 0.8 × rsync", f"{small}: time", ["rsync -a -e ssh"],
              0.8)
    time_goal(ctx, SFTP, f"{plan['mib']:,} MiB file ≤ 1.1 × rsync", f"{big}: time",
              ["rsync -a -e ssh"], 1.1)
    time_goal(ctx, SFTP, "no-op restart ≤ 0.8 × rsync", f"{noop}: time", ["rsync -a -e ssh"],
              0.8)
    latency_goal(ctx, SFTP, "lsyncd rsyncssh")


def sftp_initial(ctx, plan, peers, tools):
    """Many small files to a fresh directory on the server, tools alternating."""
    spec = tree_spec(plan["files"], plan["files"] // plan["dirs"])
    source = os.path.join(ctx.work.fresh("sftp-small-src"), "tree")
    ctx.log(f"sftp: creating {plan['files']} files of 4 KiB")
    make_tree(source, spec, KIB4, unique=True)
    series = Series(tools)
    for rep in range(plan["reps"]):
        for tool in tools:
            if series.done(tool):
                continue
            ctx.log(f"sftp small files {tool} run {rep + 1}/{plan['reps']}")
            target = peers.fresh_target("sftp-small-dst")
            elapsed, rss, timed_out = one_run(ctx, peers.argv(tool, source, target),
                                              plan["timeout"])
            _, missing = wait_tree(target, spec, KIB4, 5, 0.001)
            if missing and not timed_out:
                raise BenchError(f"{tool} exited 0 but {missing} files are missing in {target}")
            series.record(tool, elapsed, rss, timed_out,
                          f"timed out: {missing} files missing after {elapsed:.0f} s; "
                          "not repeated")
    measure = f"{plan['files']:,} files of 4 KiB in {plan['dirs']} dirs, fresh target"
    series.rows(ctx, SFTP, measure)
    return measure


def sftp_big(ctx, plan, peers, tools):
    """One big file of random bytes to a fresh directory; each copy is deleted once
    checked (one unlink: the run keeps one copy on the disk at a time)."""
    size = plan["mib"] << 20
    source = ctx.work.fresh("sftp-big-src")
    ctx.log(f"sftp: writing {plan['mib']} MiB")
    write_random(os.path.join(source, "big.bin"), plan["mib"])
    series = Series(tools)
    for rep in range(plan["reps"]):
        for tool in tools:
            if series.done(tool):
                continue
            ctx.log(f"sftp big file {tool} run {rep + 1}/{plan['reps']}")
            target = peers.fresh_target("sftp-big-dst")
            elapsed, rss, timed_out = one_run(ctx, peers.argv(tool, source, target),
                                              plan["timeout"])
            _, missing = wait_tree(target, {".": ["big.bin"]}, size, 5, 0.001)
            if missing and not timed_out:
                raise BenchError(f"{tool} exited 0 but {target}/big.bin is not complete")
            series.record(tool, elapsed, rss, timed_out)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(target, "big.bin"))
    measure = f"{plan['mib']:,} MiB file, fresh target"
    series.rows(ctx, SFTP, measure)
    return measure


def write_random(path, mib):
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for index in range(mib):
            # Every MiB differs (no tool may deduplicate blocks), cheaply: its index first.
            handle.write(index.to_bytes(8, "little") + chunk[8:])


def sftp_noop(ctx, plan, peers, tools):
    """A restart against a target that is already a copy of the source: cp -a made it on
    the server's file system (names, sizes, modes and times to the nanosecond, as any of the
    tools would leave it), and every tool runs against that same target in turn. After
    each run the target is compared with its state before: a run that changed anything is
    flagged and that tool not repeated (the others go on against the target as it is)."""
    files = plan["noop_files"]
    spec = tree_spec(files, 20)
    home = ctx.work.fresh("sftp-noop")
    source, target = os.path.join(home, "src"), os.path.join(home, "dst")
    ctx.log(f"sftp no-op: creating {files} files of 4 KiB and their copy")
    make_tree(source, spec, KIB4, unique=True)
    subprocess.run(["cp", "-a", source, target], check=True)
    state = tree_state(target)
    series = Series(tools)
    for rep in range(plan["reps"]):
        for tool in tools:
            if series.done(tool):
                continue
            ctx.log(f"sftp no-op {tool} run {rep + 1}/{plan['reps']}")
            elapsed, rss, timed_out = one_run(ctx, peers.argv(tool, source, target),
                                              plan["timeout"])
            after = tree_state(target)
            series.record(tool, elapsed, rss, timed_out)
            if changed(state, after) and not timed_out:
                series.notes[tool] = (f"not a no-op: it changed {changed(state, after):,} "
                                      "entries of the target; not repeated")
            state = after
    measure = f"no-op restart, {files:,} files in {len(spec):,} dirs"
    series.rows(ctx, SFTP, measure, note={
        tool: "every tool against one target made by cp -a" for tool in tools})
    return measure


def sftp_latency(ctx, plan, peers, sshd):
    """tetherd mirror (live, --delay 0) against lsyncd default.rsyncssh, each to a fresh
    directory on the server, polled there as a local directory."""
    tools = ["tetherd"] + available(ctx, SFTP, ["lsyncd rsyncssh"])

    def arrived_in(target):
        def arrived(name):
            try:
                return os.stat(os.path.join(target, name)).st_size == KIB4
            except FileNotFoundError:
                return False
        return arrived

    def start_tetherd(source):
        target = peers.fresh_target("sftp-lat-dst")
        daemon = Tetherd(ctx.tetherd, ctx.work, source, peers.url(target),
                         extra=peers.tetherd_args())
        return ready(daemon), arrived_in(target)

    def start_lsyncd(source):
        target = peers.fresh_target("sftp-lat-dst")
        return ready(LsyncdSsh(ctx, sshd, source, target)), arrived_in(target)

    latency_series(ctx, SFTP, "close()→on the server", tools, plan["latency"], "sftp latency",
                   {"tetherd": start_tetherd, "lsyncd rsyncssh": start_lsyncd})


class LsyncdSsh(Lsyncd):
    """lsyncd default.rsyncssh to target on the sshd, tuned for speed as the other lsyncd
    runs are: its rsync and ssh commands share one SSH connection (ControlMaster, kept 60 s
    after its last user), where each of its batches would otherwise pay a new connection's
    setup (0.5 to 0.8 s on this machine). The master connection is closed when lsyncd
    stops."""

    def __init__(self, ctx, sshd, source, target):
        self.sshd = sshd
        # A socket path must fit in 108 bytes: a short directory of its own in /tmp.
        self.control_dir = tempfile.mkdtemp(prefix="tb-ssh-")
        self.control = os.path.join(self.control_dir, "%C")
        super().__init__(ctx.work, source, None, "rsyncssh", remote=[
            'host = "127.0.0.1",', f'targetdir = "{target}",',
            f'ssh = {{ port = {sshd.port}, identityFile = "{sshd.client_key}", options = {{ '
            f'UserKnownHostsFile = "{sshd.known_hosts}", BatchMode = "yes", '
            f'ControlMaster = "auto", ControlPath = "{self.control}", '
            'ControlPersist = "60" } },'])
        self.name = "lsyncd rsyncssh"

    def stop(self):
        super().stop()
        subprocess.run(["ssh", "-p", str(self.sshd.port), "-o", f"ControlPath={self.control}",
                        "-O", "exit", "root@127.0.0.1"], capture_output=True)
        shutil.rmtree(self.control_dir, ignore_errors=True)


def ready(daemon):
    try:
        daemon.wait_ready()
    except BaseException:
        daemon.stop()
        raise
    return daemon


def latency_goal(ctx, scenario, peer):
    rows = {(row["tool"], row["measure"].rsplit(" ", 1)[1]): row for row in ctx.results.rows
            if row["scenario"] == scenario and row["measure"].startswith("close()")
            and row["values"]}
    if ("tetherd", "p50") not in rows or (peer, "p50") not in rows:
        ctx.results.goal(scenario, f"latency ahead of {peer}", "—", "—", None, None,
                         "tetherd or the peer was not measured in this run")
        return
    ratios = {key: median(rows[("tetherd", key)]["values"]) / median(rows[(peer, key)]["values"])
              for key in ("p50", "p95")}
    ctx.results.goal(scenario, f"latency ahead of {peer} (p50 and p95)",
                     f"p50 {fmt(median(rows[('tetherd', 'p50')]['values']), 'ms')} ms, "
                     f"p95 {fmt(median(rows[('tetherd', 'p95')]['values']), 'ms')} ms",
                     f"{peer}: p50 {fmt(median(rows[(peer, 'p50')]['values']), 'ms')} ms, "
                     f"p95 {fmt(median(rows[(peer, 'p95')]['values']), 'ms')} ms",
                     ratios["p50"], ratios["p50"] < 1 and ratios["p95"] < 1,
                     f"the ratio is of p50s; p95s: {ratios['p95']:.2g}")


# ---------------------------------------------------------------------------------------
# 9. S3


class S3Client:
    """The harness's own S3 client, for its checks only (what a tool uploaded, latency
    polls, buckets): SigV4, path style, one keep-alive connection, one request at a time.
    The tools under test send their own requests."""

    def __init__(self, endpoint, access_key, secret, region):
        url = urllib.parse.urlsplit(endpoint)
        self.host = url.netloc
        self.access_key, self.secret, self.region = access_key, secret, region
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)

    def close(self):
        self.connection.close()

    def request(self, method, path, query=()):
        """(status, headers, body) of one request without a body; path is /bucket[/key]."""
        quote = lambda text, safe="-_.~": urllib.parse.quote(text, safe=safe)  # noqa: E731
        path = quote(path, "-_.~/")
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(query))
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        payload = hashlib.sha256(b"").hexdigest()
        headers = {"host": self.host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
        signed = ";".join(sorted(headers))
        canonical = "\n".join([method, path, query,
                               "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
                               signed, payload])
        scope = f"{stamp[:8]}/{self.region}/s3/aws4_request"
        key = ("AWS4" + self.secret).encode()
        for part in (stamp[:8], self.region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        text = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                          hashlib.sha256(canonical.encode()).hexdigest()])
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, SignedHeaders={signed}, "
            f"Signature={hmac.new(key, text.encode(), hashlib.sha256).hexdigest()}")
        for attempt in (1, 2):  # a keep-alive connection the server closed: once more
            try:
                self.connection.request(method, path + ("?" + query if query else ""),
                                        headers=headers)
                response = self.connection.getresponse()
                return response.status, response.headers, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                if attempt == 2:
                    raise

    def size(self, bucket, key):
        """The size of an object, None when there is none."""
        status, headers, _ = self.request("HEAD", f"/{bucket}/{key}")
        if status == 404:
            return None
        if status != 200:
            raise BenchError(f"HEAD /{bucket}/{key}: HTTP {status}")
        return int(headers["content-length"])

    def create_bucket(self, bucket):
        status, _, body = self.request("PUT", f"/{bucket}")
        if status != 200:
            raise BenchError(f"PUT /{bucket}: HTTP {status}: {body[:300]!r}")

    def list(self, bucket, prefix):
        """{key: size} of every object whose key starts with prefix."""
        found, token = {}, None
        while True:
            query = [("list-type", "2"), ("max-keys", "1000"), ("prefix", prefix)]
            if token:
                query.append(("continuation-token", token))
            status, _, body = self.request("GET", f"/{bucket}", query)
            if status != 200:
                raise BenchError(f"listing {bucket}/{prefix}: HTTP {status}: {body[:300]!r}")
            root = ElementTree.fromstring(body)
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            for item in root.iter(ns + "Contents"):
                found[item.find(ns + "Key").text] = int(item.find(ns + "Size").text)
            if root.findtext(ns + "IsTruncated") != "true":
                return found
            token = root.findtext(ns + "NextContinuationToken")


BEAST = re.compile(rb' beast: .*?"([A-Z]+) (\S+) HTTP/[0-9.]+"')


class Requests:
    """What one window of RgwLog counted: requests by method, and the writes among them
    (PUT, POST and DELETE of objects; a bucket's creation is not one)."""

    def __init__(self):
        self.methods = {}
        self.writes = 0

    def count(self, method, path):
        method = method.decode()
        self.methods[method] = self.methods.get(method, 0) + 1
        bucket_only = b"/" not in path.split(b"?", 1)[0].strip(b"/")
        if method in ("POST", "DELETE") or (method == "PUT" and not bucket_only):
            self.writes += 1

    def total(self):
        return sum(self.methods.values())

    def text(self):
        return ", ".join(f"{method} {count:,}" for method, count in sorted(self.methods.items()))


class RgwLog:
    """Counts the requests radosgw served while a tool ran, from radosgw's own log: each
    request is one "beast:" line with its method and path (debug_rgw 1, its default). A
    window opens and closes with a HEAD of a marker key of its own; once the closing
    marker's line is in the log, so is every request served before it (the log is written
    by one thread, in order)."""

    def __init__(self, ceph, client, bucket):
        self.path = os.path.join(ceph.dir, "cluster", "log", "client.rgw.a.log")
        self.client, self.bucket = client, bucket
        self.markers = 0

    def usable(self):
        return os.path.exists(self.path)

    @contextlib.contextmanager
    def window(self):
        """Yields a Requests, filled when the block ends; None when there is no log."""
        if not self.usable():
            yield None
            return
        start = os.path.getsize(self.path)  # before the marker is sent
        offset = self._read_to(self._mark(), start, None)
        counted = Requests()
        yield counted
        self._read_to(self._mark(), offset, counted)

    def _mark(self):
        self.markers += 1
        key = f"tetherd-bench-marker-{os.getpid()}-{self.markers}"
        self.client.size(self.bucket, key)
        return f"/{self.bucket}/{key} ".encode()

    def _read_to(self, marker, offset, counted):
        """Reads the log from offset up to the line of marker, counting the requests
        before it into counted (when given); returns the offset after that line."""
        deadline = time.monotonic() + 60
        rest = b""
        with open(self.path, "rb") as handle:
            handle.seek(offset)
            while True:
                chunk = handle.read(1 << 20)
                if not chunk:
                    if time.monotonic() > deadline:
                        raise BenchError(f"radosgw's log {self.path} has no line for "
                                         f"{marker.decode().strip()} after 60 s")
                    time.sleep(0.01)
                    continue
                *lines, rest = (rest + chunk).split(b"\n")
                for line in lines:
                    offset += len(line) + 1
                    match = BEAST.search(line)
                    if match is None:
                        continue
                    if match.group(2) + b" " == marker:
                        return offset
                    if counted is not None:
                        counted.count(match.group(1), match.group(2))


class S3Peers:
    """The commands of every S3 tool against one radosgw. Each target is a fresh bucket
    (its objects under tree/), created before the run; a bucket whose objects are no longer
    needed is removed by radosgw-admin, which frees the OSD's memory at once (the OSD keeps
    its objects in RAM, 2 GiB at most)."""

    TOOLS = ["tetherd", "rclone sync", "s3cmd sync"]

    def __init__(self, ctx, ceph):
        self.ctx = ctx
        self.ceph = ceph
        self.config_dir = ctx.work.fresh("s3-config")
        self.credentials = ceph.credentials_file(self.config_dir)
        self.client = S3Client(ceph.endpoint, ceph.ACCESS_KEY, ceph.SECRET, ceph.REGION)
        self.log = RgwLog(ceph, self.client, ceph.BUCKET)
        self.admin = ["radosgw-admin", "-c", os.path.join(ceph.dir, "cluster", "ceph.conf")]
        host = urllib.parse.urlsplit(ceph.endpoint).netloc
        self.rclone_config = os.path.join(self.config_dir, "rclone.conf")
        with open(self.rclone_config, "w") as handle:
            handle.write(f"[bench-s3]\ntype = s3\nprovider = Ceph\nendpoint = {ceph.endpoint}\n"
                         f"access_key_id = {ceph.ACCESS_KEY}\n"
                         f"secret_access_key = {ceph.SECRET}\nregion = {ceph.REGION}\n"
                         "force_path_style = true\n")
        # host_bucket without %(bucket)s: path-style requests.
        self.s3cmd_config = os.path.join(self.config_dir, "s3cfg")
        with open(self.s3cmd_config, "w") as handle:
            handle.write(f"[default]\naccess_key = {ceph.ACCESS_KEY}\n"
                         f"secret_key = {ceph.SECRET}\nhost_base = {host}\nhost_bucket = {host}\n"
                         f"bucket_location = {ceph.REGION}\nuse_https = False\n"
                         "signature_v2 = False\n")
        # rclone 1.60 refuses to start an S3 remote while AWS_CA_BUNDLE is set ("unable to
        # load custom CA bundle, HTTPClient's transport unsupported type"); the endpoint is
        # plain HTTP, so it has no use for one.
        self.rclone_env = {name: value for name, value in os.environ.items()
                           if name != "AWS_CA_BUNDLE"}
        self.buckets = 0

    def close(self):
        self.client.close()

    def tetherd_args(self):
        return ["--endpoint", self.ceph.endpoint, "--region", self.ceph.REGION,
                "--credentials-file", self.credentials]

    def argv(self, tool, source, bucket):
        """source's contents to bucket/tree/."""
        if tool == "tetherd":
            return [self.ctx.tetherd, "mirror", source, f"s3://{bucket}/tree", "--once",
                    *self.tetherd_args(), "--log-format", "none", "-q"]
        if tool == "rclone sync":
            return ["rclone", "--config", self.rclone_config, "sync", "--transfers", "8",
                    source, f"bench-s3:{bucket}/tree"]
        if tool == "s3cmd sync":
            return ["s3cmd", "-c", self.s3cmd_config, "sync", "--quiet", source + "/",
                    f"s3://{bucket}/tree/"]
        raise ValueError(tool)

    def env(self, tool):
        return self.rclone_env if tool == "rclone sync" else None

    def fresh_bucket(self):
        self.buckets += 1
        bucket = f"bench-{os.getpid()}-{self.buckets}"
        self.client.create_bucket(bucket)
        return bucket

    def drop_bucket(self, bucket):
        result = subprocess.run([*self.admin, "bucket", "rm", f"--bucket={bucket}",
                                 "--purge-objects", "--bypass-gc"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BenchError(f"radosgw-admin bucket rm {bucket} failed: {result.stderr[-500:]}")

    def run(self, tool, source, bucket, timeout):
        """One timed run, its requests counted: (seconds, peak RSS MiB, timed out,
        Requests or None)."""
        with self.log.window() as requests:
            elapsed, rss, timed_out = one_run(self.ctx, self.argv(tool, source, bucket),
                                              timeout, self.env(tool))
        return elapsed, rss, timed_out, requests

    def missing(self, bucket, spec, size):
        """How many files of spec are not in bucket/tree/ with their size (directory
        marker objects, which tetherd makes, are not counted)."""
        present = self.client.list(bucket, "tree/")
        return sum(1 for directory, names in spec.items() for name in names
                   if present.get(posixpath.normpath(f"tree/{directory}/{name}")) != size)


def s3(ctx):
    plan = ctx.plan["s3"]
    notes(ctx)
    with server(ctx, S3, CephS3, "a Ceph cluster with radosgw") as ceph:
        if ceph is None:
            return
        peers = S3Peers(ctx, ceph)
        try:
            if not peers.log.usable():
                ctx.log(f"s3: no radosgw log at {peers.log.path}: requests are not counted")
            tools = available(ctx, S3, S3Peers.TOOLS)
            small, rewrote = s3_initial(ctx, plan, peers, tools)
            big = s3_big(ctx, plan, peers, tools)
            noop = s3_noop(ctx, plan, peers, tools, rewrote)
            s3_latency(ctx, plan, peers)
        finally:
            peers.close()
    time_goal(ctx, S3, "small files ≤ 0.5 × rclone", f"{small}: time", ["rclone sync"], 0.5)
    time_goal(ctx, S3, f"{plan['mib']:,} MiB file ≤ 0.9 × the faster peer", f"{big}: time",
              ["rclone sync", "s3cmd sync"], 0.9)
    noop_goals(ctx, plan, noop, rewrote)


def s3_initial(ctx, plan, peers, tools):
    """Many small files to a fresh bucket, tools alternating; then, in the same
    repetition, each tool once more against the bucket it has just filled: a no-op. A tool
    that writes objects on that no-op is not repeated there. Returns the measure and, for
    such a tool, (writes, objects, its requests as text, their total)."""
    files = plan["files"]
    spec = tree_spec(files, files // plan["dirs"])
    source = os.path.join(ctx.work.fresh("s3-small-src"), "tree")
    ctx.log(f"s3: creating {files} files of 4 KiB")
    make_tree(source, spec, KIB4, unique=True)
    cold, noop = Series(tools), Series(tools)
    rewrote = {}
    for rep in range(plan["reps"]):
        buckets = {}
        for tool in tools:
            if cold.done(tool):
                continue
            ctx.log(f"s3 small files {tool} run {rep + 1}/{plan['reps']}")
            bucket = buckets[tool] = peers.fresh_bucket()
            elapsed, rss, timed_out, requests = peers.run(tool, source, bucket,
                                                          plan["timeout"])
            missing = peers.missing(bucket, spec, KIB4)
            if missing and not timed_out:
                raise BenchError(f"{tool} exited 0 but {missing} objects are missing in "
                                 f"{bucket}/tree/")
            cold.record(tool, elapsed, rss, timed_out,
                        f"timed out: {missing} objects missing after {elapsed:.0f} s; "
                        "not repeated")
            count_requests(cold, tool, requests)
        for tool in tools:
            if noop.done(tool) or tool not in buckets or tool in cold.timed_out:
                continue
            ctx.log(f"s3 small files no-op {tool} run {rep + 1}/{plan['reps']}")
            elapsed, rss, timed_out, requests = peers.run(tool, source, buckets[tool],
                                                          plan["timeout"])
            noop.record(tool, elapsed, rss, timed_out)
            count_requests(noop, tool, requests)
            if requests is not None and requests.writes and not timed_out:
                rewrote[tool] = (requests.writes, files, requests.text(), requests.total())
                noop.notes[tool] = (f"not a no-op: {requests.writes:,} writes for {files:,} "
                                    "objects already there; not repeated")
    measure = f"{files:,} files of 4 KiB in {plan['dirs']} dirs"
    cold.rows(ctx, S3, f"{measure}, fresh bucket", requests=True)
    noop.rows(ctx, S3, f"{measure}, no-op right after", rss=False, requests=True)
    return f"{measure}, fresh bucket", rewrote


def count_requests(series, tool, requests):
    if requests is None:
        return
    series.requests[tool].append(requests.total())
    if not series.detail[tool]:
        series.detail[tool] = f"first run: {requests.text()}"


def s3_big(ctx, plan, peers, tools):
    """One big file of random bytes to a fresh bucket; the bucket is removed once the
    object is checked (the OSD holds 2 GiB)."""
    size = plan["mib"] << 20
    source = ctx.work.fresh("s3-big-src")
    ctx.log(f"s3: writing {plan['mib']} MiB")
    write_random(os.path.join(source, "big.bin"), plan["mib"])
    series = Series(tools)
    for rep in range(plan["reps"]):
        for tool in tools:
            if series.done(tool):
                continue
            ctx.log(f"s3 big file {tool} run {rep + 1}/{plan['reps']}")
            bucket = peers.fresh_bucket()
            elapsed, rss, timed_out, requests = peers.run(tool, source, bucket,
                                                          plan["timeout"])
            uploaded = peers.client.size(bucket, "tree/big.bin")
            if uploaded != size and not timed_out:
                raise BenchError(f"{tool} exited 0 but {bucket}/tree/big.bin has "
                                 f"{uploaded} bytes, not {size}")
            series.record(tool, elapsed, rss, timed_out)
            count_requests(series, tool, requests)
            peers.drop_bucket(bucket)
    measure = f"{plan['mib']:,} MiB file, fresh bucket"
    series.rows(ctx, S3, measure, requests=True)
    return measure


def s3_noop(ctx, plan, peers, tools, rewrote):
    """A restart over many objects already there. Each tool's target is its own upload (the
    objects carry each tool's own metadata: tetherd's x-amz-meta-mtime and -mode, rclone's
    mtime, s3cmd's attributes), timed once as the cold upload it is; s3cmd's is rclone's
    (s3cmd compares size and MD5 with the listing's ETag, which rclone's single-part
    uploads have too; its own sequential upload would take ~10 minutes). A tool that wrote
    objects on the no-op of scenario 9's small files is left out: here that would time a
    full upload again, not a no-op."""
    files = plan["noop_files"]
    spec = tree_spec(files, 20)
    measure = f"no-op restart, {files:,} files in {len(spec):,} dirs"
    prep_measure = f"cold upload of the no-op's target, {files:,} files"
    runnable = []
    for tool in tools:
        if tool in rewrote:
            writes, objects, text, _ = rewrote[tool]
            ctx.results.skip(S3, f"{measure}: time", tool,
                             f"not run: its no-op over {objects:,} objects above sent "
                             f"{writes:,} writes ({text}), so here it would upload "
                             f"{files:,} objects again")
        else:
            runnable.append(tool)
    if not runnable:
        return measure
    source = os.path.join(ctx.work.fresh("s3-noop-src"), "tree")
    ctx.log(f"s3 no-op: creating {files} files of 4 KiB")
    make_tree(source, spec, KIB4, unique=True)
    order = sorted(runnable, key=lambda tool: tool != "rclone sync")  # s3cmd uses its bucket
    prep = Series(order)
    buckets = {}
    for tool in order:
        if tool == "s3cmd sync" and "rclone sync" in buckets:
            buckets[tool] = buckets["rclone sync"]
            continue
        ctx.log(f"s3 no-op: {tool} uploads its target")
        bucket = peers.fresh_bucket()
        elapsed, rss, timed_out, requests = peers.run(tool, source, bucket,
                                                      plan["prep_timeout"])
        missing = peers.missing(bucket, spec, KIB4)
        if missing and not timed_out:
            raise BenchError(f"{tool} exited 0 but {missing} objects are missing in {bucket}")
        prep.record(tool, elapsed, rss, timed_out,
                    f"timed out: {missing:,} of {files:,} objects missing after "
                    f"{elapsed:.0f} s, so its no-op is not measured")
        count_requests(prep, tool, requests)
        if not timed_out:
            buckets[tool] = bucket
    prep.rows(ctx, S3, prep_measure, rss=False, requests=True,
              note={"s3cmd sync": "none of its own: it runs against rclone's"})
    series = Series([tool for tool in order if tool in buckets])
    for rep in range(plan["reps"]):
        for tool in series.values:
            if series.done(tool):
                continue
            ctx.log(f"s3 no-op {tool} run {rep + 1}/{plan['reps']}")
            elapsed, rss, timed_out, requests = peers.run(tool, source, buckets[tool],
                                                          plan["timeout"])
            series.record(tool, elapsed, rss, timed_out)
            count_requests(series, tool, requests)
            if requests is not None and requests.writes and not timed_out:
                series.notes[tool] = (f"not a no-op: {requests.writes:,} writes; "
                                      "not repeated")
    series.rows(ctx, S3, measure, requests=True, note={
        "s3cmd sync": "against rclone's upload"})
    for tool in order:
        if tool not in buckets and tool not in rewrote:
            ctx.results.skip(S3, f"{measure}: time", tool,
                             "not measured: its target's upload timed out")
    return measure


def noop_goals(ctx, plan, measure, rewrote):
    """≤ 0.5 × s3cmd, and no request per unchanged object: fewer requests than a tenth of
    the objects (listing pages, a listing per directory pass; a request per object
    does not)."""
    goal = "no-op restart ≤ 0.5 × s3cmd"
    requests_goal = "no-op: no request per unchanged object (< 0.1 request per object)"
    if "tetherd" in rewrote:
        writes, objects, text, total = rewrote["tetherd"]
        note = (f"not run at {plan['noop_files']:,}: its no-op over {objects:,} objects "
                f"uploaded them again ({text})")
        ctx.results.goal(S3, goal, "—", "—", None, False, note)
        ctx.results.goal(S3, requests_goal, f"{total / objects:.2f} per object",
                         "—", None, False, f"at {objects:,} objects: {text}")
        return
    time_goal(ctx, S3, goal, f"{measure}: time", ["s3cmd sync"], 0.5)
    row = next((row for row in ctx.results.rows if row["scenario"] == S3
                and row["measure"] == f"{measure}: requests" and row["tool"] == "tetherd"),
               None)
    if row is None:
        ctx.results.goal(S3, requests_goal, "—", "—", None, None,
                         "tetherd's requests were not counted in this run")
        return
    per_object = median(row["values"]) / plan["noop_files"]
    ctx.results.goal(S3, requests_goal, f"{per_object:.3f} per object", "—", None,
                     per_object < 0.1, row["note"])


def s3_latency(ctx, plan, peers):
    """tetherd mirror (live, --delay 0) to a fresh bucket, polled with HEAD requests on a
    connection of the poller's own (one request at a time). rclone and s3cmd have no live
    mode: tetherd's figures stand alone."""
    poller = S3Client(peers.ceph.endpoint, peers.ceph.ACCESS_KEY, peers.ceph.SECRET,
                      peers.ceph.REGION)

    def start(source):
        bucket = peers.fresh_bucket()
        daemon = Tetherd(ctx.tetherd, ctx.work, source, f"s3://{bucket}/tree",
                         extra=peers.tetherd_args())
        return ready(daemon), lambda name: poller.size(bucket, f"tree/{name}") == KIB4

    try:
        latency_series(ctx, S3, "close()→on the server", ["tetherd"], plan["latency"],
                       "s3 latency", {"tetherd": start})
    finally:
        poller.close()
