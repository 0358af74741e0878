"""End-to-end tests of `tetherd mirror`: the real binary, real directories, settle waits."""

import json
import os
import random
import select
import shutil
import signal
import subprocess
import threading
import unittest
import uuid

from harness import Daemon, MirrorTestCase, TETHERD, wait_until


class InitialSync(MirrorTestCase):
    def test_copies_tree_with_modes_mtimes_and_symlinks(self):
        self.write(self.src("a.txt"), b"alpha", 0o640)
        self.write(self.src("dir", "sub", "b.bin"), os.urandom(100_000), 0o600)
        os.makedirs(self.src("empty"))
        os.chmod(self.src("dir"), 0o750)
        os.symlink("dir/sub/b.bin", self.src("link"))
        os.symlink("/nonexistent/elsewhere", self.src("dangling"))
        os.utime(self.src("a.txt"), ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
        daemon = self.mirror()
        daemon.settle()
        self.assertMirrored()
        self.assertTrue(daemon.events("initial_sync_end"))
        daemon.stop()

    def test_once_reconciles_and_exits_zero(self):
        self.write(self.src("x", "y.txt"), b"y")
        completed = subprocess.run([TETHERD, "mirror", self.source, self.target, "--once",
                                    "--log-format", "none"], capture_output=True)
        self.assertEqual(completed.returncode, 0, completed.stderr)
        self.assertMirrored()

    def test_missing_source_exits_66(self):
        completed = subprocess.run([TETHERD, "mirror", self.src("nope"), self.target, "--once"],
                                   capture_output=True)
        self.assertEqual(completed.returncode, 66)
        self.assertIn(b"not a directory", completed.stderr)

    def test_target_inside_source_is_refused(self):
        completed = subprocess.run([TETHERD, "mirror", self.source, self.src("inner"), "--once"],
                                   capture_output=True)
        self.assertEqual(completed.returncode, 64)
        self.assertFalse(os.path.exists(self.src("inner")))


class LiveMirroring(MirrorTestCase):
    def test_create_modify_delete(self):
        daemon = self.mirror()
        self.write(self.src("f"), b"one")
        self.write(self.src("d", "g"), b"two")
        daemon.settle()
        self.assertMirrored()
        self.write(self.src("f"), b"changed content")
        os.remove(self.src("d", "g"))
        daemon.settle()
        self.assertMirrored()
        daemon.stop()

    def test_nested_mkdir_and_write_races(self):
        daemon = self.mirror()
        for i in range(300):
            self.write(self.src(f"n{i}", "a", "b", "c", "f"), str(i).encode())
        daemon.settle()
        self.assertMirrored()
        daemon.stop()

    def test_file_rename_is_a_move(self):
        self.write(self.src("big.bin"), os.urandom(4 << 20))
        daemon = self.mirror()
        daemon.settle()
        copies_before = len(daemon.events("copy"))
        os.rename(self.src("big.bin"), self.src("renamed.bin"))
        daemon.settle()
        self.assertMirrored()
        moves = [e for e in daemon.events("move") if e["path"] == "renamed.bin"]
        self.assertEqual(len(moves), 1, daemon.events())
        self.assertEqual(len(daemon.events("copy")), copies_before, "a rename must not re-copy")
        daemon.stop()

    def test_directory_rename_is_a_move(self):
        for i in range(50):
            self.write(self.src("photos", f"{i}.jpg"), os.urandom(1000))
        daemon = self.mirror()
        daemon.settle()
        copies_before = len(daemon.events("copy"))
        os.rename(self.src("photos"), self.src("pictures"))
        daemon.settle()
        self.assertMirrored()
        self.assertTrue([e for e in daemon.events("move") if e["path"] == "pictures"])
        self.assertEqual(len(daemon.events("copy")), copies_before)
        # Later changes inside land at the new place.
        self.write(self.src("pictures", "new.jpg"), b"new")
        daemon.settle()
        self.assertMirrored()
        daemon.stop()

    def test_rename_into_a_directory_made_just_before_is_a_move(self):
        # The new directory is not watched yet when the rename lands in it: the watcher sees
        # a removal and, listing the directory, a creation. Still a move on the target.
        for i in range(8):
            self.write(self.src(f"big{i}.bin"), os.urandom(1 << 20))
        self.write(self.src("tree", "inner", "x"), b"x")
        daemon = self.mirror()
        daemon.settle()
        copies_before = len(daemon.events("copy"))
        for i in range(8):
            os.mkdir(self.src(f"moved{i}"))
            os.rename(self.src(f"big{i}.bin"), self.src(f"moved{i}", "big.bin"))
        os.mkdir(self.src("new"))
        os.rename(self.src("tree"), self.src("new", "tree"))
        daemon.settle()
        self.assertMirrored()
        moved = sorted(e["path"] for e in daemon.events("move"))
        self.assertEqual(moved, sorted(["new/tree"] + [f"moved{i}/big.bin" for i in range(8)]),
                         daemon.events())
        self.assertEqual(len(daemon.events("copy")), copies_before, "a rename must not re-copy")
        daemon.stop()

    def test_directories_made_in_a_directory_renamed_at_once_are_watched(self):
        # The rename lands between the watcher seeing the new directory and watching it by
        # its path: it must be watched at its new place, or later changes inside are lost.
        for i in range(60):
            os.mkdir(self.src(f"a{i}"))
        daemon = self.mirror()
        daemon.settle()
        for i in range(60):
            os.mkdir(self.src(f"a{i}", "c"))
            os.rename(self.src(f"a{i}"), self.src(f"z{i}"))
        daemon.settle()
        for i in range(60):
            self.write(self.src(f"z{i}", "c", "late"), b"late")
        daemon.settle()
        self.assertMirrored()
        daemon.stop()

    def test_moves_into_and_out_of_the_tree(self):
        outside = os.path.join(self.workdir, "outside")
        self.write(os.path.join(outside, "tree", "deep", "f"), b"from outside")
        self.write(self.src("leaving", "g"), b"going away")
        daemon = self.mirror()
        daemon.settle()
        os.rename(os.path.join(outside, "tree"), self.src("tree"))
        os.rename(self.src("leaving"), os.path.join(outside, "leaving"))
        daemon.settle()
        self.assertMirrored()
        daemon.stop()

    def test_editor_style_atomic_save(self):
        self.write(self.src("doc.txt"), b"version 1")
        daemon = self.mirror()
        daemon.settle()
        for version in range(2, 6):
            self.write(self.src(".doc.txt.swp"), f"version {version}".encode())
            os.rename(self.src(".doc.txt.swp"), self.src("doc.txt"))
        daemon.settle()
        self.assertMirrored()
        with open(self.dst("doc.txt"), "rb") as handle:
            self.assertEqual(handle.read(), b"version 5")
        daemon.stop()

    def test_slow_writer_never_shows_a_partial_file(self):
        daemon = self.mirror("--delay", "300", name="slow")
        chunks = [os.urandom(1000) for _ in range(20)]
        final = b"".join(chunks)
        seen_partial = []
        done = threading.Event()

        def watch_target():
            while not done.is_set():
                try:
                    with open(self.dst("growing.bin"), "rb") as handle:
                        data = handle.read()
                    if data != final:
                        seen_partial.append(len(data))
                except FileNotFoundError:
                    pass

        watcher = threading.Thread(target=watch_target)
        watcher.start()
        try:
            with open(self.src("growing.bin"), "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    handle.flush()
                    # The writer's own pace: 20 ms between writes, well inside the delay.
                    threading.Event().wait(0.02)
            daemon.settle()
        finally:
            done.set()
            watcher.join()
        self.assertEqual(seen_partial, [])
        self.assertMirrored()
        daemon.stop()

    def test_a_file_being_written_is_copied_once_its_writer_closes_it(self):
        daemon = self.mirror(name="closing")
        chunks = [os.urandom(64 << 10) for _ in range(30)]
        with open(self.src("big.bin"), "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                handle.flush()
                # Between writes the file is quiet for a while: without waiting for the
                # close, each pause would publish a copy of what was written so far.
                threading.Event().wait(0.01)
        daemon.settle()
        self.assertMirrored()
        copies = [e for e in daemon.events("copy") if e["path"] == "big.bin"]
        # The first copy may come from the creation alone (an empty file), before any write.
        self.assertLessEqual(len(copies), 2, copies)
        self.assertEqual(copies[-1]["bytes"], 30 * (64 << 10))
        if len(copies) == 2:
            self.assertEqual(copies[0]["bytes"], 0, copies)
        daemon.stop()

    def test_create_and_delete_inside_the_delay_does_nothing(self):
        daemon = self.mirror("--delay", "2000", name="quiet")
        self.write(self.src("ephemeral"), b"here and gone")
        os.remove(self.src("ephemeral"))
        daemon.settle()
        action_events = {"copy", "move", "delete", "mkdir", "attrs", "symlink"}
        actions = [e for e in daemon.events()
                   if e.get("path") == "ephemeral" and e["event"] in action_events]
        self.assertEqual(actions, [])
        self.assertMirrored()
        daemon.stop()

    def test_type_changes(self):
        os.makedirs(self.src("was_dir", "inner"))
        self.write(self.src("was_dir", "inner", "f"), b"f")
        self.write(self.src("was_file"), b"file")
        daemon = self.mirror()
        daemon.settle()
        subprocess.run(["rm", "-rf", self.src("was_dir")], check=True)
        os.symlink("somewhere", self.src("was_dir"))
        os.remove(self.src("was_file"))
        self.write(self.src("was_file", "now_inside"), b"inside")
        daemon.settle()
        self.assertMirrored()
        daemon.stop()

    def test_new_file_where_the_target_holds_a_directory(self):
        # A new source file is written without a look at the target first; a directory
        # found there makes the write fail, and the next look replaces it.
        daemon = self.mirror()
        daemon.settle()
        os.makedirs(self.dst("clash", "inner"))
        self.write(self.dst("clash", "inner", "stray"), b"stray")
        self.write(self.src("clash"), b"the file")
        daemon.settle()
        self.assertMirrored()
        self.assertTrue([e for e in daemon.events("delete") if e.get("path") == "clash"])
        daemon.stop()

    def test_burst_of_many_files_lands_complete(self):
        # More writes than fit in one group commit, all in flight together.
        daemon = self.mirror()
        daemon.settle()
        for d in range(20):
            for f in range(150):
                self.write(self.src("burst%02d" % d, "f%03d" % f), b"%d/%d" % (d, f))
        daemon.settle(timeout=120)
        self.assertMirrored()
        self.assertFalse([e for e in daemon.events() if e.get("level") == "error"])
        daemon.stop()

    def test_files_seen_live_and_by_the_walk_of_their_new_directory_are_copied_once(self):
        # Complete files appear (hard links from outside) in a directory the daemon has
        # just seen created: live events and the walk of that directory both report them.
        # Whichever comes second finds the first one's copy and must not copy again.
        staging = os.path.join(self.workdir, "staging")
        names = ["f%04d" % i for i in range(2000)]
        for name in names:
            self.write(os.path.join(staging, name), name.encode() * 100)
        daemon = self.mirror()
        daemon.settle()
        for d in range(4):
            os.mkdir(self.src("new%d" % d))
            for name in names[d::4]:
                os.link(os.path.join(staging, name), self.src("new%d" % d, name))
        daemon.settle(timeout=120)
        self.assertMirrored()
        copies = {}
        for event in daemon.events("copy"):
            copies[event["path"]] = copies.get(event["path"], 0) + 1
        self.assertEqual(len(copies), len(names))
        self.assertEqual({path: n for path, n in copies.items() if n > 1}, {})
        daemon.stop()

    def test_chmod_only_change(self):
        self.write(self.src("script"), b"#!/bin/sh\n", 0o644)
        daemon = self.mirror()
        daemon.settle()
        copies = len(daemon.events("copy"))
        os.chmod(self.src("script"), 0o755)
        daemon.settle()
        self.assertMirrored()
        self.assertEqual(len(daemon.events("copy")), copies)
        self.assertTrue(daemon.events("attrs"))
        daemon.stop()

    def test_non_utf8_names(self):
        daemon = self.mirror()
        name = b"caf\xe9-\xff\xfe.txt"
        with open(os.path.join(os.fsencode(self.source), name), "wb") as handle:
            handle.write(b"latin-1 name")
        daemon.settle()
        self.assertMirrored()
        self.assertTrue(os.path.exists(os.path.join(os.fsencode(self.target), name)))
        events = [e for e in daemon.events("copy") if "path_base64" in e]
        self.assertTrue(events, "a non-UTF-8 path is logged with path_base64")
        daemon.stop()

    def test_excluded_paths_are_not_mirrored(self):
        daemon = self.mirror("--exclude", "**/.cache/**", "--exclude", "*.tmp", name="ex")
        self.write(self.src("keep.txt"), b"k")
        self.write(self.src("scratch.tmp"), b"t")
        self.write(self.src("a", ".cache", "blob"), b"c")
        daemon.settle()
        self.assertTrue(os.path.exists(self.dst("keep.txt")))
        self.assertFalse(os.path.exists(self.dst("scratch.tmp")))
        self.assertFalse(os.path.exists(self.dst("a", ".cache", "blob")))
        daemon.stop()


class Resilience(MirrorTestCase):
    def test_overflow_converges_without_restart(self):
        # Files created in directories that are already watched: each one queues several
        # events, far more than the kernel queue holds while the daemon is stopped.
        for d in range(5):
            os.mkdir(self.src(f"burst{d}"))
        daemon = self.mirror()
        daemon.settle()
        with open("/proc/sys/fs/inotify/max_queued_events") as handle:
            limit = int(handle.read())
        os.kill(daemon.process.pid, signal.SIGSTOP)
        try:
            for i in range(limit // 2 + 2000):
                with open(self.src(f"burst{i % 5}", f"f{i}"), "wb") as handle:
                    handle.write(b"o")
        finally:
            os.kill(daemon.process.pid, signal.SIGCONT)
        daemon.settle(timeout=180)
        self.assertMirrored()
        self.assertTrue(daemon.events("overflow"), "the queue overflowed: a rescan must say so")
        daemon.stop()

    def test_restart_reconciles_changes_made_while_stopped(self):
        self.write(self.src("stay"), b"s")
        self.write(self.src("go"), b"g")
        daemon = self.mirror()
        daemon.settle()
        daemon.stop()
        os.remove(self.src("go"))
        self.write(self.src("new"), b"n")
        self.write(self.src("stay"), b"changed while stopped")
        daemon = self.mirror(name="again")
        daemon.settle()
        self.assertMirrored()
        daemon.stop()

    def test_delete_modes_at_restart(self):
        for mode, deleted in (("true", True), ("startup", True), ("running", False),
                              ("false", False)):
            with self.subTest(mode=mode):
                extra = self.dst("only-on-target-" + mode)
                self.write(extra, b"extra")
                completed = subprocess.run([TETHERD, "mirror", self.source, self.target, "--once",
                                            "--delete", mode, "--log-format", "none"],
                                           capture_output=True)
                self.assertEqual(completed.returncode, 0, completed.stderr)
                self.assertEqual(not os.path.exists(extra), deleted)

    def test_running_deletes_follow_the_mode(self):
        self.write(self.src("victim"), b"v")
        daemon = Daemon_with_mode(self, "startup")
        daemon.settle()
        os.remove(self.src("victim"))
        daemon.settle()
        self.assertTrue(os.path.exists(self.dst("victim")), "delete=startup never deletes live")
        daemon.stop()

    def test_a_settle_cookie_a_killed_daemon_left_is_removed_at_start(self):
        child = subprocess.Popen(["true"])
        child.wait()  # its pid is now nobody's
        stale = self.src(f".tetherd-settle.{child.pid}.1")
        self.write(stale, b"")
        daemon = self.mirror()
        daemon.settle()
        wait_until(lambda: not os.path.exists(stale), what="the stale cookie to be removed")
        self.assertFalse(os.path.exists(self.dst(os.path.basename(stale))))
        daemon.stop()

    def test_a_type_change_kept_back_fails_once_and_names_the_path(self):
        # The source has a directory where the target has a file: with deletes off it is
        # not replaced, and the run says so instead of reporting success.
        os.makedirs(self.src("was-a-file"))
        self.write(self.dst("was-a-file"), b"kept")
        completed = subprocess.run([TETHERD, "mirror", self.source, self.target, "--once",
                                    "--delete", "false", "--log-format", "none"],
                                   capture_output=True)
        self.assertEqual(completed.returncode, 74, completed.stderr)
        self.assertIn(b"was-a-file", completed.stderr)
        with open(self.dst("was-a-file"), "rb") as handle:
            self.assertEqual(handle.read(), b"kept")

    def test_live_settle_fails_while_a_type_change_is_kept_back_and_passes_once_it_is_gone(self):
        self.write(self.src("d", "x"), b"a file first")
        daemon = Daemon_with_mode(self, "false")
        daemon.settle()
        os.remove(self.src("d", "x"))
        os.makedirs(self.src("d", "x"))
        with self.assertRaisesRegex(AssertionError, "settle exited 74.*d/x"):
            daemon.settle()
        # The directory moves away and goes: nothing the source has is left unmirrored.
        os.rename(self.src("d"), self.src("e"))
        shutil.rmtree(self.src("e"))
        daemon.settle()
        self.assertEqual(daemon.status()["rules"][0]["failing_paths"], 0)
        daemon.stop()

    def test_unwritable_target_is_retried_until_it_converges(self):
        os.makedirs(self.dst("locked"))
        os.makedirs(self.src("locked"))
        daemon = self.mirror()
        daemon.settle()
        subprocess.run(["chattr", "+i", self.dst("locked")], check=True)
        try:
            self.write(self.src("locked", "f"), b"waits for the target")
            # The write may first be retried for another reason (the file was still being
            # written when examined); wait for the refusal an administrator must fix.
            wait_until(lambda: [e for e in daemon.events("retry")
                                if e.get("path") == "locked/f" and e.get("level") == "error"],
                       what="a retry of the write into the immutable directory")
            self.assertIn("locked/f", daemon.status()["rules"][0]["last_error"])
        finally:
            subprocess.run(["chattr", "-i", self.dst("locked")], check=True)
        daemon.settle(timeout=120)
        self.assertMirrored()
        daemon.stop()

    def test_full_target_is_retried_until_space_returns(self):
        os.makedirs(self.target)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tetherd-full",
                                  self.target], capture_output=True, text=True)
        if mounted.returncode != 0:
            self.skipTest("cannot mount a small tmpfs here (needs root): " + mounted.stderr)
        try:
            for i in range(10):
                self.write(self.src(f"small{i}"), b"s" * 1024)
            self.write(self.src("big"), os.urandom(3 << 20))
            daemon = self.mirror()
            wait_until(lambda: [e for e in daemon.events("retry")
                                if e.get("path") == "big" and e.get("errc") == "NoSpace"],
                       what="a retry of the write that did not fit")
            # What fits is mirrored meanwhile (a small file that met the full disk is retried).
            wait_until(lambda: all(os.path.exists(self.dst(f"small{i}")) for i in range(10)),
                       timeout=60, what="the small files to be mirrored")
            self.assertFalse(os.path.exists(self.dst("big")), "no partial file may appear")
            # Still running, retrying: not paused, not stopped.
            self.assertIn(daemon.status()["rules"][0]["state"], ("initial-sync", "watching"))
            self.assertIn("big", daemon.status()["rules"][0]["last_error"])
            subprocess.run(["mount", "-o", "remount,size=16m", self.target], check=True)
            daemon.settle(timeout=120)
            self.assertMirrored()
            self.assertEqual([n for n in os.listdir(self.target) if n.startswith(".tetherd")],
                             [], "no temporary file may be left behind")
            daemon.stop()
        finally:
            for daemon in self.daemons:
                if daemon.process.poll() is None:
                    daemon.process.kill()
                    daemon.process.wait()
            subprocess.run(["umount", "-l", self.target], check=False)

    def test_source_root_gone_pauses_and_deletes_nothing(self):
        for i in range(5):
            self.write(self.src(f"keep{i}"), b"precious")
        daemon = self.mirror()
        daemon.settle()
        subprocess.run(["rm", "-rf", self.source], check=True)
        wait_until(lambda: daemon.events("paused"), what="the rule to pause")
        self.assertEqual(daemon.status()["rules"][0]["state"], "paused")
        self.assertEqual(len(os.listdir(self.target)), 5, "nothing may be deleted")
        # The root comes back (say, remounted) with one new file: mirrored, nothing deleted.
        os.mkdir(self.source)
        self.write(self.src("new"), b"n")
        wait_until(lambda: daemon.events("resumed"), what="the rule to resume")
        daemon.settle()
        self.assertTrue(os.path.exists(self.dst("new")))
        self.assertEqual(len(os.listdir(self.target)), 6)
        daemon.stop()

    def test_target_root_removed_pauses_and_resumes_when_back(self):
        self.write(self.src("old"), b"old")
        daemon = self.mirror()
        daemon.settle()
        subprocess.run(["rm", "-rf", self.target], check=True)
        self.write(self.src("during"), b"during")
        wait_until(lambda: daemon.events("paused"), what="the rule to pause")
        self.assertIn("target root", daemon.events("paused")[0]["message"])
        self.assertEqual(daemon.status()["rules"][0]["state"], "paused")
        self.assertFalse(os.path.exists(self.target), "nothing may be written meanwhile")
        # The directory comes back (say, a disk mounted again), empty: everything is copied
        # into it, nothing on it is deleted.
        os.mkdir(self.target)
        self.write(self.dst("theirs"), b"theirs")
        wait_until(lambda: daemon.events("resumed"), what="the rule to resume")
        daemon.settle()
        for name, data in (("old", b"old"), ("during", b"during"), ("theirs", b"theirs")):
            with open(self.dst(name), "rb") as handle:
                self.assertEqual(handle.read(), data)
        self.write(self.src("after"), b"after")
        daemon.settle()
        self.assertTrue(os.path.exists(self.dst("after")))
        daemon.stop()

    def test_settle_waits_for_a_walk_of_polled_subtrees(self):
        # Three inotify watches (a user namespace of its own caps them): the rest of the
        # tree is polled, every second. settle must not return before a walk made after it.
        probe = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                                "echo 3 > /proc/sys/user/max_inotify_watches"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            self.skipTest("cannot cap inotify watches in a user namespace: " + probe.stderr)
        wrapper = os.path.join(self.workdir, "few-watches")
        with open(wrapper, "w") as handle:
            handle.write("#!/bin/sh\nexec unshare --user --map-root-user sh -c "
                         "'echo 3 > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\"' "
                         f"'{TETHERD}' \"$@\"\n")
        os.chmod(wrapper, 0o755)
        for i in range(8):
            self.write(self.src(f"d{i}", "inner", "f"), b"before")
        import harness
        saved = harness.TETHERD
        harness.TETHERD = wrapper
        try:
            daemon = self.mirror()
            daemon.settle()
            # The watch-limit error follows a count of the tree's directories on a worker.
            wait_until(lambda: daemon.events("error"), what="the watch-limit error (some "
                       "directories must be polled)")
            for round_number in range(3):
                for i in range(8):
                    self.write(self.src(f"d{i}", "inner", "f"), f"after {round_number}".encode())
                    self.write(self.src(f"d{i}", "inner", f"new{round_number}"), b"new")
                daemon.settle()
                self.assertMirrored()
            daemon.stop()
        finally:
            harness.TETHERD = saved

    def test_mass_delete_guard_pauses_instead_of_deleting(self):
        os.makedirs(self.target)
        for i in range(10):
            self.write(self.dst(f"old{i}"), b"o")
        self.write(self.src("old0"), b"o")
        # old0 already mirrored (same mtime too): otherwise its copy, renamed over the
        # target's old0 from a hidden temporary name, could still be in flight when the
        # rule pauses, and the listing below would count the temporary file.
        mirrored = os.stat(self.dst("old0")).st_mtime_ns
        os.utime(self.src("old0"), ns=(mirrored, mirrored))
        config = os.path.join(self.workdir, "tetherd.json")
        with open(config, "w") as handle:
            json.dump({"rules": [{"name": "guarded", "source": self.source,
                                  "target": self.target, "delete": True, "delay_ms": 0,
                                  "max_delete_percent": 50}]}, handle)
        from harness import Daemon
        daemon = Daemon(self.workdir, ["run", "-c", config], name="guard")
        self.daemons.append(daemon)
        wait_until(lambda: daemon.events("paused"), what="the guard to pause the rule")
        self.assertIn("max_delete_percent", daemon.events("paused")[0]["message"])
        self.assertEqual(len(os.listdir(self.target)), 10)
        daemon.stop()

    def test_mass_delete_guard_stops_live_removals(self):
        os.makedirs(self.target)
        for i in range(20):
            self.write(self.src(f"f{i:02}"), b"f")
        config = os.path.join(self.workdir, "tetherd.json")
        with open(config, "w") as handle:
            json.dump({"rules": [{"name": "guarded", "source": self.source,
                                  "target": self.target, "delete": True, "delay_ms": 0,
                                  "max_delete_percent": 25}]}, handle)
        from harness import Daemon
        daemon = Daemon(self.workdir, ["run", "-c", config], name="live-guard")
        self.daemons.append(daemon)
        daemon.settle()
        self.assertEqual(len(os.listdir(self.target)), 20)
        # Two removals (10%) are mirrored; then a mass removal trips the guard.
        for i in range(2):
            os.remove(self.src(f"f{i:02}"))
        daemon.settle()
        self.assertEqual(len(os.listdir(self.target)), 18)
        for i in range(2, 20):
            os.remove(self.src(f"f{i:02}"))
        wait_until(lambda: daemon.events("paused"), what="the guard to pause the rule")
        message = daemon.events("paused")[0]["message"]
        self.assertIn("live removals", message)
        self.assertIn("max_delete_percent", message)
        wait_until(lambda: not daemon.status()["rules"][0]["in_flight"],
                   what="removals in flight to finish")
        self.assertEqual(daemon.status()["rules"][0]["state"], "paused")
        # At most 25% of the 20 entries (5) are gone in the window: at least 15 remain.
        self.assertGreaterEqual(len(os.listdir(self.target)), 15)
        daemon.stop()

    def test_seeded_random_churn(self):
        rng = random.Random(20261125)
        daemon = self.mirror()
        files, dirs = [], [""]
        for step in range(3000):
            action = rng.random()
            if action < 0.35 or not files:
                directory = rng.choice(dirs)
                path = os.path.join(directory, f"f{step}")
                self.write(self.src(path), os.urandom(rng.randint(0, 3000)))
                files.append(path)
            elif action < 0.5:
                directory = os.path.join(rng.choice(dirs), f"d{step}")
                os.makedirs(self.src(directory), exist_ok=True)
                dirs.append(directory)
            elif action < 0.65:
                path = rng.choice(files)
                self.write(self.src(path), os.urandom(rng.randint(0, 3000)))
            elif action < 0.75:
                path = files.pop(rng.randrange(len(files)))
                os.remove(self.src(path))
            elif action < 0.85:
                path = files.pop(rng.randrange(len(files)))
                new = os.path.join(rng.choice(dirs), f"r{step}")
                os.rename(self.src(path), self.src(new))
                files.append(new)
            elif action < 0.92:
                path = rng.choice(files)
                os.chmod(self.src(path), rng.choice([0o600, 0o644, 0o755]))
            else:
                link = os.path.join(rng.choice(dirs), f"l{step}")
                os.symlink(rng.choice(files), self.src(link))
        daemon.settle(timeout=120)
        self.assertMirrored()
        daemon.stop()


class Logs(MirrorTestCase):
    def test_logs_filters_and_follows(self):
        self.write(self.src("first"), b"1")
        daemon = self.mirror()
        daemon.settle()
        shown = subprocess.run([TETHERD, "logs", "--file", daemon.log_path, "--event", "copy"],
                               capture_output=True, check=True).stdout.decode()
        self.assertIn("copy", shown)
        self.assertIn("first", shown)
        self.assertNotIn("initial_sync_begin", shown)
        follower = subprocess.Popen([TETHERD, "logs", "-f", "--json", "--file", daemon.log_path,
                                     "--event", "copy"], stdout=subprocess.PIPE)
        try:
            self.write(self.src("second"), b"2")
            daemon.settle()
            received = bytearray()

            def saw_second():
                # Raw reads: a buffered reader could hold the line while select() waits.
                ready, _, _ = select.select([follower.stdout], [], [], 0.1)
                if ready:
                    received.extend(os.read(follower.stdout.fileno(), 65536))
                lines = [json.loads(line) for line in bytes(received).split(b"\n") if line]
                return any(event.get("path") == "second" for event in lines)

            wait_until(saw_second, what="logs -f to print the new copy")
        finally:
            follower.send_signal(signal.SIGINT)
            self.assertEqual(follower.wait(timeout=30), 0)
        daemon.stop()

    def test_logs_of_a_missing_file_exits_66(self):
        completed = subprocess.run([TETHERD, "logs", "--file", self.src("no.jsonl")],
                                   capture_output=True)
        self.assertEqual(completed.returncode, 66)


class Reload(MirrorTestCase):
    def test_sighup_adds_a_rule_and_refuses_an_invalid_config(self):
        from harness import Daemon
        second_source = os.path.join(self.workdir, "source2")
        second_target = os.path.join(self.workdir, "target2")
        os.makedirs(second_source)
        os.makedirs(self.target)
        os.makedirs(second_target)
        self.write(self.src("one"), b"1")
        self.write(os.path.join(second_source, "two"), b"2")
        config = os.path.join(self.workdir, "tetherd.json")
        rule = {"name": "first", "source": self.source, "target": self.target, "delay_ms": 0}

        def write_config(rules):
            with open(config, "w") as handle:
                json.dump({"rules": rules}, handle)

        write_config([rule])
        daemon = Daemon(self.workdir, ["run", "-c", config], name="reload")
        self.daemons.append(daemon)
        daemon.settle()
        self.assertTrue(os.path.exists(self.dst("one")))
        pid = daemon.process.pid
        write_config([rule, {"name": "second", "source": second_source, "target": second_target,
                             "delay_ms": 0}])
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: [e for e in daemon.events("reload") if e.get("result") == "ok"],
                   what="the reload")
        daemon.settle()
        self.assertTrue(os.path.exists(os.path.join(second_target, "two")))
        self.assertEqual(daemon.process.pid, pid)
        with open(config, "w") as handle:
            handle.write('{"rules": [ {"name": "broken", "sauce": 1} ]}')
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: [e for e in daemon.events("reload") if e.get("result") == "refused"],
                   what="the refused reload")
        self.write(self.src("three"), b"3")
        daemon.settle()
        self.assertTrue(os.path.exists(self.dst("three")), "the old config keeps running")
        self.assertEqual(len(daemon.status()["rules"]), 2)
        daemon.stop()


class SparseFiles(MirrorTestCase):
    """A sparse file stays sparse at the target: its holes are not written as zeros. Skipped
    where the scratch file system keeps no holes (a sparse file made there takes its size)."""

    SIZE = 64 << 20
    FAR_BELOW_SIZE = 1 << 20  # the holes kept: a few blocks; filled: 64 MiB

    def make_sparse(self, path, seed, trailing_hole=False):
        """SIZE bytes with 4 KiB of data in the middle and 4 KiB at the end (or a hole)."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = random.Random(seed).randbytes(4096)
        with open(path, "wb") as handle:
            handle.truncate(self.SIZE)
            os.pwrite(handle.fileno(), data, self.SIZE // 2)
            if not trailing_hole:
                os.pwrite(handle.fileno(), data, self.SIZE - 4096)

    def assertSparse(self, path):
        info = os.stat(path)
        self.assertEqual(info.st_size, self.SIZE)
        self.assertLess(info.st_blocks * 512, self.FAR_BELOW_SIZE,
                        f"{path} takes {info.st_blocks * 512} bytes of disk")

    def test_sparse_files_stay_sparse(self):
        self.make_sparse(self.src("probe"), 0)
        if os.stat(self.src("probe")).st_blocks * 512 >= self.FAR_BELOW_SIZE:
            self.skipTest(f"the file system of {self.workdir} keeps no holes")
        os.remove(self.src("probe"))
        self.make_sparse(self.src("initial.img"), 1)
        daemon = self.mirror()
        daemon.settle()
        self.make_sparse(self.src("d", "live.img"), 2, trailing_hole=True)
        daemon.settle()
        self.assertMirrored()
        self.assertSparse(self.dst("initial.img"))
        self.assertSparse(self.dst("d", "live.img"))
        daemon.stop()


def Daemon_with_mode(case, mode):
    from harness import Daemon
    daemon = Daemon(case.workdir, ["mirror", case.source, case.target, "--delay", "0",
                                   "--delete", mode], name="mode-" + mode)
    case.daemons.append(daemon)
    return daemon


class CoarseTimestampTarget(MirrorTestCase):
    """A target whose file system keeps whole seconds (ext4 with 128-byte inodes, like ext3;
    FAT keeps 2 s): its rounded mtimes are not differences, so a restart copies nothing,
    and an edit within the same second is still mirrored."""

    BASE_NS = 1_700_000_000_123_456_789  # a fraction no whole-second mtime can hold

    def setUp(self):
        super().setUp()
        image = os.path.join(self.workdir, "seconds.img")
        with open(image, "wb") as handle:
            handle.truncate(32 << 20)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", "-I", "128", image],
                              capture_output=True, text=True)
        if made.returncode != 0:
            self.skipTest("mkfs.ext4 cannot make the image here: " + made.stderr)
        os.makedirs(self.target)
        mounted = subprocess.run(["mount", "-o", "loop", image, self.target],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            self.skipTest("cannot loop-mount an image here (needs root): " + mounted.stderr)
        self.addCleanup(subprocess.run, ["umount", "-l", self.target], check=False)
        self.env = dict(os.environ, XDG_STATE_HOME=os.path.join(self.workdir, "state"))

    def once(self):
        log = os.path.join(self.workdir, "once.jsonl")
        if os.path.exists(log):
            os.remove(log)
        completed = subprocess.run([TETHERD, "mirror", self.source, self.target, "--once",
                                    "--log-format", "none", "--log-file", log],
                                   capture_output=True, env=self.env)
        self.assertEqual(completed.returncode, 0, completed.stderr)
        with open(log, "rb") as handle:
            events = [json.loads(line) for line in handle]
        return next(e for e in events if e["event"] == "initial_sync_end")

    def assertHolds(self, relative, content, mtime_ns):
        with open(self.dst(*relative), "rb") as handle:
            self.assertEqual(handle.read(), content)
        self.assertEqual(os.stat(self.dst(*relative)).st_mtime_ns,
                         mtime_ns // 1_000_000_000 * 1_000_000_000)

    def test_a_restart_does_not_copy_again_what_a_seconds_file_system_holds(self):
        for index in range(20):
            path = self.src(f"d{index % 4}", f"f{index}")
            self.write(path, b"content %d" % index)
            os.utime(path, ns=(self.BASE_NS + index * 1_000_000_000,) * 2)
        self.assertEqual(self.once()["copies"], 20)
        again = self.once()
        self.assertEqual(again["copies"], 0)
        self.assertEqual(again["differences"], 0)
        for index in range(20):
            self.assertHolds((f"d{index % 4}", f"f{index}"), b"content %d" % index,
                             self.BASE_NS + index * 1_000_000_000)

    def test_an_edit_within_the_same_second_is_mirrored_live(self):
        path = self.src("f")
        self.write(path, b"first")
        os.utime(path, ns=(self.BASE_NS, self.BASE_NS))
        daemon = self.mirror()
        daemon.settle()
        self.assertHolds(("f",), b"first", self.BASE_NS)
        # Same size, an mtime in the same second: the target's rounded mtime cannot show it.
        # Made outside and renamed in (an editor's save), so no other mtime is ever seen.
        staged = os.path.join(self.workdir, "staged")
        self.write(staged, b"again")
        os.utime(staged, ns=(self.BASE_NS + 500_000_000,) * 2)
        os.rename(staged, path)
        daemon.settle()
        self.assertHolds(("f",), b"again", self.BASE_NS + 500_000_000)
        daemon.stop()

    def test_an_edit_within_the_same_second_survives_a_retry(self):
        # A retried write looks at the target again; the old copy there has the same size
        # and, rounded, the same mtime: only the exact mtime the engine mirrored tells.
        path = self.src("locked", "f")
        self.write(path, b"first")
        os.utime(path, ns=(self.BASE_NS, self.BASE_NS))
        daemon = self.mirror()
        daemon.settle()
        self.assertHolds(("locked", "f"), b"first", self.BASE_NS)
        subprocess.run(["chattr", "+i", self.dst("locked")], check=True)
        try:
            staged = os.path.join(self.workdir, "staged")
            self.write(staged, b"again")
            os.utime(staged, ns=(self.BASE_NS + 500_000_000,) * 2)
            os.rename(staged, path)
            wait_until(lambda: [e for e in daemon.events("retry") if e.get("path") == "locked/f"],
                       what="a retry of the write into the immutable directory")
        finally:
            subprocess.run(["chattr", "-i", self.dst("locked")], check=True)
        daemon.settle(timeout=120)
        self.assertHolds(("locked", "f"), b"again", self.BASE_NS + 500_000_000)
        daemon.stop()


class ListingCache(MirrorTestCase):
    """A restart trusts a target directory's recorded entries only while its mtime is the
    recorded one, and never after a crash."""

    MODE = []  # extra arguments of every run

    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.workdir, "state")
        self.env = dict(os.environ, XDG_STATE_HOME=self.state)

    def once(self, *extra, prefix=()):
        log = os.path.join(self.workdir, "once.jsonl")
        if os.path.exists(log):
            os.remove(log)
        completed = subprocess.run([*prefix, TETHERD, "mirror", self.source, self.target,
                                    "--once", "--log-format", "none", "--log-file", log,
                                    *self.MODE, *extra],
                                   capture_output=True, env=self.env)
        self.assertEqual(completed.returncode, 0, completed.stderr)
        with open(log, "rb") as handle:
            events = [json.loads(line) for line in handle]
        return next(event for event in events if event["event"] == "initial_sync_end")

    def age_directories(self):
        # Directories changed less than a second before a listing are never recorded (the
        # racy window); back-date both sides, identically, so the next listing records them.
        old = 1_700_000_000_000_000_000
        for root in (self.source, self.target):
            for directory, _, _ in os.walk(root):
                os.utime(directory, ns=(old, old))

    def make_tree(self):
        for index in range(30):
            self.write(self.src(f"d{index}", "f"), b"content %d" % index)
        self.once()
        self.age_directories()
        first = self.once()  # lists everything, records it
        self.assertEqual(first["target_dirs_confirmed"], 0)
        self.assertEqual(first["target_dirs_listed"], 31)

    def test_a_no_op_restart_confirms_every_directory_instead_of_listing(self):
        self.make_tree()
        again = self.once()
        self.assertEqual(again["target_dirs_confirmed"], 31)
        self.assertEqual(again["target_dirs_listed"], 0)
        self.assertEqual(again["copies"], 0)
        self.assertMirrored()

    def test_a_change_in_a_target_directory_is_seen(self):
        self.make_tree()
        self.write(self.dst("d3", "intruder"), b"not from the source")
        os.remove(self.dst("d7", "f"))
        again = self.once("--delete", "true")
        # d3 and d7, and the root, whose record holds their old mtimes
        self.assertEqual(again["target_dirs_listed"], 3)
        self.assertMirrored()

    def test_source_changes_are_mirrored_with_the_cache(self):
        self.make_tree()
        self.write(self.src("d5", "f"), b"changed meanwhile, same directory mtime on the target")
        os.chmod(self.src("d6", "f"), 0o600)
        again = self.once()
        self.assertGreaterEqual(again["copies"], 1)
        self.assertMirrored()
        # The directories the actions touched are listed at the next start.
        self.assertLess(self.once()["target_dirs_confirmed"], 31)
        self.assertMirrored()

    def test_verify_target_finds_an_edit_made_inside_a_target_file(self):
        self.make_tree()
        with open(self.dst("d4", "f"), "r+b") as edited:  # in place: d4's mtime stays
            edited.write(b"EDITED ON THE TARGET, longer than before")
        trusted = self.once()
        self.assertEqual(trusted["target_dirs_confirmed"], 31)  # the documented blind spot
        verified = self.once("--verify-target")
        self.assertEqual(verified["target_dirs_listed"], 31)
        self.assertEqual(verified["copies"], 1)
        self.assertMirrored()

    def test_a_crash_leaves_no_cache_to_trust(self):
        self.make_tree()
        daemon = Daemon(self.workdir,
                        ["mirror", self.source, self.target, "--delay", "0", *self.MODE],
                        name="crashing", env=self.env)
        daemon.settle()
        daemon.process.kill()
        daemon.process.wait()
        state_files = os.listdir(os.path.join(self.state, "tetherd"))
        self.assertTrue(state_files)
        self.assertTrue(all(name.endswith(".in-use") for name in state_files), state_files)
        after = self.once()
        self.assertEqual(after["target_dirs_confirmed"], 0)
        self.assertMirrored()


class NotDurableTarget(ListingCache):
    """--no-durable (a local store with "durable": false): the same listing cache, trusted
    only within the boot that saved it. A power loss can take a file's data but leave its
    name and its directory's mtime, which the cache would then vouch for; the first start
    after a reboot lists the whole target and re-copies what came out short."""

    MODE = ["--no-durable"]

    def test_everything_is_mirrored(self):
        for index in range(50):
            self.write(self.src(f"d{index % 5}", f"f{index}"), b"content %d" % index * 100)
        log = os.path.join(self.workdir, "once.jsonl")
        self.assertEqual(self.once()["copies"], 50)
        self.assertMirrored()
        with open(log, "rb") as handle:
            begin = next(event for event in map(json.loads, handle)
                         if event["event"] == "initial_sync_begin")
        self.assertIs(begin["durable"], False)
        self.assertEqual(begin["target"], "mirror:")

    def in_another_boot(self):
        """The command prefix that runs tetherd as after a reboot: a private mount
        namespace with another id bind-mounted over the kernel's boot id."""
        fake = os.path.join(self.workdir, "boot_id")
        with open(fake, "w") as handle:
            handle.write(str(uuid.uuid4()) + "\n")
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                'mount --bind "$1" /proc/sys/kernel/random/boot_id', "sh",
                                fake], capture_output=True, text=True)
        if probe.returncode != 0:
            self.skipTest("cannot stand in another boot id here (needs root): " + probe.stderr)
        return ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$1" /proc/sys/kernel/random/boot_id && shift && exec "$@"',
                "sh", fake)

    def test_after_a_reboot_the_cache_is_not_trusted(self):
        self.make_tree()
        # What a power loss can leave of a file whose data was still in the page cache: the
        # name and the times, no data. Neither it nor its directory's mtime tells.
        lost = self.dst("d9", "f")
        times = os.stat(lost)
        os.truncate(lost, 0)
        os.utime(lost, ns=(times.st_atime_ns, times.st_mtime_ns))
        reboot = self.in_another_boot()
        after = self.once(prefix=reboot)
        self.assertEqual(after["target_dirs_confirmed"], 0)
        self.assertEqual(after["target_dirs_listed"], 31)
        self.assertEqual(after["copies"], 1)
        self.assertMirrored()
        # The cache saved in that boot holds within it (but for the directories the copy
        # touched, d9 and its parent, listed again as after any action).
        again = self.once(prefix=reboot)
        self.assertEqual(again["target_dirs_confirmed"], 29)
        self.assertEqual(again["copies"], 0)

    def test_within_one_boot_the_cache_is_trusted(self):
        self.make_tree()
        self.assertEqual(self.once()["target_dirs_confirmed"], 31)


if __name__ == "__main__":
    unittest.main()


class UnreadableSubtree(MirrorTestCase):
    """A source directory the daemon may not read: the rest is mirrored, the failure is
    reported (exit 74, settle fails) until the directory can be read, then it is mirrored.

    Needs root, to run the daemon as nobody (root reads a mode-000 directory)."""

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0 or subprocess.run(["which", "setpriv"],
                                               capture_output=True).returncode != 0:
            self.skipTest("needs root and setpriv to run tetherd as nobody")
        os.chmod(self.workdir, 0o755)
        os.chown(self.workdir, 65534, 65534)
        wrapper = os.path.join(self.workdir, "as-nobody")
        with open(wrapper, "w") as handle:
            handle.write("#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups "
                         f"'{TETHERD}' \"$@\"\n")
        os.chmod(wrapper, 0o755)
        self.as_nobody = wrapper
        for name in ("a", "bad", "c"):
            for i in range(3):
                self.write(self.src(name, f"f{i}"), f"{name}{i}".encode())
        self.write(self.src("bad", "deeper", "x"), b"x")
        os.chmod(self.src("bad"), 0)

    def tearDown(self):
        if os.path.isdir(self.src("bad")):
            os.chmod(self.src("bad"), 0o755)
        super().tearDown()

    def test_once_mirrors_the_rest_and_exits_74(self):
        completed = subprocess.run([self.as_nobody, "mirror", self.source, self.target, "--once",
                                    "--log-format", "json"], capture_output=True)
        self.assertEqual(completed.returncode, 74, completed.stderr)
        for name in ("a", "c"):
            for i in range(3):
                with open(self.dst(name, f"f{i}"), "rb") as handle:
                    self.assertEqual(handle.read(), f"{name}{i}".encode())
        errors = [json.loads(line) for line in completed.stdout.splitlines() + completed.stderr.splitlines()
                  if line.startswith(b"{") and b'"event":"error"' in line]
        self.assertTrue([e for e in errors if e.get("path") == "bad" and e.get("action") == "list"],
                        completed.stderr)

    def test_live_settle_fails_until_it_can_be_read_and_nothing_of_it_is_deleted(self):
        # The target already holds a copy of the unreadable directory: it stays.
        self.write(self.dst("bad", "kept"), b"kept")
        import harness
        saved = harness.TETHERD
        harness.TETHERD = self.as_nobody
        try:
            os.chown(self.source, 65534, 65534)  # settle writes its cookie there
            os.chown(self.target, 65534, 65534)
            os.chown(self.dst("bad"), 65534, 65534)
            daemon = self.mirror()
            with self.assertRaisesRegex(AssertionError, "settle exited 74.*'bad'"):
                daemon.settle()
            self.assertTrue(os.path.exists(self.dst("bad", "kept")))
            self.assertTrue(os.path.exists(self.dst("c", "f2")))
            self.assertEqual(daemon.status()["rules"][0]["failing_paths"], 1)
            os.chmod(self.src("bad"), 0o755)
            daemon.settle()
            self.assertEqual(daemon.status()["rules"][0]["failing_paths"], 0)
            self.write(self.src("bad", "later"), b"later")  # watched now
            daemon.settle()
            self.assertMirrored()
            daemon.stop()
        finally:
            harness.TETHERD = saved
