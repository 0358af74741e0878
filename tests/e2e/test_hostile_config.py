"""Configs that must be refused when a bind mount shows one directory at two paths.

Names alone do not tell that `/p/bx` (a bind mount of `/p/x`) holds `/p/x/sub`; tetherd
compares what the paths are (device and inode). Each mount is made inside a private mount
namespace (`unshare --mount --propagation private`), so it never reaches the host and
ends with the command. Where that is not permitted, every test is skipped and says why."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import TETHERD

UNSHARE = ["unshare", "--mount", "--propagation", "private"]


def in_namespace(binds, command, timeout=60):
    """Runs `command` with each (directory, mount point) of `binds` bind-mounted, in a
    mount namespace of its own."""
    script = "set -e\n"
    for index in range(len(binds)):
        script += f'mount --bind "${{{2 * index + 1}}}" "${{{2 * index + 2}}}"\n'
    script += f"shift {2 * len(binds)}\nexec \"$@\"\n"
    arguments = [path for pair in binds for path in pair]
    return subprocess.run(UNSHARE + ["sh", "-c", script, "sh"] + arguments + command,
                          capture_output=True, text=True, timeout=timeout)


class BindMounts(unittest.TestCase):
    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="tetherd-bind-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        probe = os.path.join(self.workdir, "probe")
        os.mkdir(probe)
        try:
            tried = in_namespace([(probe, probe)], ["true"], timeout=20)
        except (OSError, subprocess.TimeoutExpired) as error:
            self.skipTest(f"cannot run unshare here: {error}")
        if tried.returncode != 0:
            self.skipTest("a private mount namespace with a bind mount is not permitted here "
                          f"(needs root or user namespaces): {tried.stderr.strip()}")

    def path(self, *parts):
        return os.path.join(self.workdir, *parts)

    def directories(self, *names):
        for name in names:
            os.makedirs(self.path(name))

    def write_config(self, rules):
        config = self.path("tetherd.json")
        with open(config, "w") as handle:
            handle.write('{"rules": [\n')
            handle.write(",\n".join("  " + json.dumps(rule) for rule in rules))
            handle.write("\n]}\n")
        return config

    def check(self, config, binds):
        return in_namespace(binds, [TETHERD, "check", "-c", config])

    def test_check_and_run_refuse_a_target_inside_the_source_through_a_bind_mount(self):
        self.directories("x/sub", "bx")
        config = self.write_config([{"name": "m", "source": self.path("bx"),
                                     "target": self.path("x", "sub")}])
        # Without the mount, the two are apart.
        self.assertEqual(subprocess.run([TETHERD, "check", "-c", config],
                                        capture_output=True).returncode, 0)
        checked = self.check(config, [(self.path("x"), self.path("bx"))])
        self.assertEqual(checked.returncode, 78, checked.stderr)
        self.assertIn(f'{config}:2:', checked.stderr)
        self.assertIn(f'rules[0].target: the target "{self.path("x", "sub")}" is inside the '
                      f'source "{self.path("bx")}" (the mirror would copy itself); '
                      f'"{self.path("x")}" and "{self.path("bx")}" are one directory '
                      f'(a bind mount)', checked.stderr)
        ran = in_namespace([(self.path("x"), self.path("bx"))],
                           [TETHERD, "run", "-c", config, "--socket", self.path("s.sock")])
        self.assertEqual(ran.returncode, 78, ran.stderr)
        self.assertEqual(os.listdir(self.path("x", "sub")), [], "nothing is copied")

    def test_mirror_refuses_a_target_inside_the_source_through_a_bind_mount(self):
        self.directories("x", "bx")
        with open(self.path("x", "file"), "w") as handle:
            handle.write("data")
        mirrored = in_namespace([(self.path("x"), self.path("bx"))],
                                [TETHERD, "mirror", self.path("bx"), self.path("x", "sub"),
                                 "--once", "--log-format", "none"])
        self.assertEqual(mirrored.returncode, 64, mirrored.stderr)
        self.assertIn(f'"{self.path("x")}" and "{self.path("bx")}" are one directory',
                      mirrored.stderr)
        self.assertFalse(os.path.exists(self.path("x", "sub")), "DST must not be made")

    def tree(self, top):
        return sorted(os.path.relpath(os.path.join(directory, name), top)
                      for directory, subdirectories, files in os.walk(top)
                      for name in subdirectories + files)

    def test_a_target_in_a_bind_mount_of_a_directory_inside_the_source_is_refused(self):
        # Q is SRC/deep: Q/t lies inside SRC, yet neither Q nor / is SRC. (Q/t exists without
        # the mount too, hidden beneath it.)
        self.directories("src/deep/t", "q/t")
        with open(self.path("src", "file"), "w") as handle:
            handle.write("data")
        source, target = self.path("src"), self.path("q", "t")
        config = self.write_config([{"name": "m", "source": source, "target": target}])
        self.assertEqual(subprocess.run([TETHERD, "check", "-c", config],
                                        capture_output=True).returncode, 0)
        binds = [(self.path("src", "deep"), self.path("q"))]
        refusal = (f'the target "{target}" is inside the source "{source}" (the mirror would '
                   f'copy itself); through a bind mount, "{target}" is '
                   f'"{self.path("src", "deep", "t")}"')
        checked = self.check(config, binds)
        self.assertEqual(checked.returncode, 78, checked.stderr)
        self.assertIn(f'{config}:2:', checked.stderr)
        self.assertIn(f'rules[0].target: {refusal}', checked.stderr)
        ran = in_namespace(binds, [TETHERD, "run", "-c", config, "--socket", self.path("s.sock")])
        self.assertEqual(ran.returncode, 78, ran.stderr)
        mirrored = in_namespace(binds, [TETHERD, "mirror", source, target, "--once",
                                        "--log-format", "none"])
        self.assertEqual(mirrored.returncode, 64, mirrored.stderr)
        self.assertIn(refusal, mirrored.stderr)
        self.assertEqual(self.tree(source), ["deep", "deep/t", "file"], "nothing is copied")

    def test_a_source_in_a_bind_mount_of_a_directory_inside_the_target_is_refused(self):
        # S is DST/inner: mirroring S into DST would delete or overwrite its own source.
        self.directories("dst/inner", "s")
        with open(self.path("dst", "inner", "file"), "w") as handle:
            handle.write("data")
        source, target = self.path("s"), self.path("dst")
        mirrored = in_namespace([(self.path("dst", "inner"), source)],
                                [TETHERD, "mirror", source, target, "--once", "--delete", "true",
                                 "--log-format", "none"])
        self.assertEqual(mirrored.returncode, 64, mirrored.stderr)
        self.assertIn(f'the source "{source}" is inside the target "{target}" (the mirror would '
                      f'delete or overwrite its own source); through a bind mount, "{source}" '
                      f'is "{self.path("dst", "inner")}"', mirrored.stderr)
        self.assertEqual(self.tree(target), ["inner", "inner/file"], "nothing is deleted")

    def test_rules_that_feed_each_other_through_bind_mounts_are_refused(self):
        # r1: A -> mB/inner, r2: B -> mA/inner, with mA = A and mB = B: no name overlaps.
        # (mA/inner and mB/inner exist without the mounts too, hidden beneath them.)
        self.directories("A/inner", "B/inner", "mA/inner", "mB/inner")
        config = self.write_config([
            {"name": "r1", "source": self.path("A"), "target": self.path("mB", "inner")},
            {"name": "r2", "source": self.path("B"), "target": self.path("mA", "inner")}])
        binds = [(self.path("A"), self.path("mA")), (self.path("B"), self.path("mB"))]
        self.assertEqual(subprocess.run([TETHERD, "check", "-c", config],
                                        capture_output=True).returncode, 0)
        checked = self.check(config, binds)
        self.assertEqual(checked.returncode, 78, checked.stderr)
        self.assertIn(f'{config}:3:', checked.stderr)
        self.assertIn('rules[1].target: rules "r1" (line 2) and "r2" feed each other in a loop',
                      checked.stderr)
        self.assertIn(f'"{self.path("mB")}" and "{self.path("B")}" are one directory',
                      checked.stderr)

    def test_rules_that_share_a_target_through_a_bind_mount_are_refused(self):
        self.directories("a", "b", "out/t", "bout/t")
        config = self.write_config([
            {"name": "one", "source": self.path("a"), "target": self.path("out", "t")},
            {"name": "two", "source": self.path("b"), "target": self.path("bout", "t")}])
        self.assertEqual(subprocess.run([TETHERD, "check", "-c", config],
                                        capture_output=True).returncode, 0)
        checked = self.check(config, [(self.path("out"), self.path("bout"))])
        self.assertEqual(checked.returncode, 78, checked.stderr)
        self.assertIn('rules[1].target: rule "two" and rule "one" (line 2) have the same target',
                      checked.stderr)

    def test_rules_that_feed_each_other_through_bind_mounts_of_deeper_directories_are_refused(
            self):
        # r1: A -> qB/t, r2: B -> qA/t, with qA = A/deep and qB = B/deep: neither target nor
        # any prefix of it is the other rule's source; only the mount table tells.
        self.directories("A/deep/t", "B/deep/t", "qA/t", "qB/t")
        config = self.write_config([
            {"name": "r1", "source": self.path("A"), "target": self.path("qB", "t")},
            {"name": "r2", "source": self.path("B"), "target": self.path("qA", "t")}])
        binds = [(self.path("A", "deep"), self.path("qA")),
                 (self.path("B", "deep"), self.path("qB"))]
        self.assertEqual(subprocess.run([TETHERD, "check", "-c", config],
                                        capture_output=True).returncode, 0)
        checked = self.check(config, binds)
        self.assertEqual(checked.returncode, 78, checked.stderr)
        self.assertIn('rules[1].target: rules "r1" (line 2) and "r2" feed each other in a loop',
                      checked.stderr)
        self.assertIn(f'through a bind mount, "{self.path("qB", "t")}" is '
                      f'"{self.path("B", "deep", "t")}"', checked.stderr)

    def test_targets_nested_through_a_bind_mount_of_a_deeper_directory_are_refused(self):
        # one -> out, two -> q/t with q = out/deep: two's target lies inside one's.
        self.directories("a", "b", "out/deep/t", "q/t")
        config = self.write_config([
            {"name": "one", "source": self.path("a"), "target": self.path("out")},
            {"name": "two", "source": self.path("b"), "target": self.path("q", "t")}])
        self.assertEqual(subprocess.run([TETHERD, "check", "-c", config],
                                        capture_output=True).returncode, 0)
        checked = self.check(config, [(self.path("out", "deep"), self.path("q"))])
        self.assertEqual(checked.returncode, 78, checked.stderr)
        self.assertIn(f'rules[1].target: the target "{self.path("q", "t")}" of rule "two" is '
                      f'inside the target "{self.path("out")}" of rule "one" (line 2); targets '
                      f'must not nest', checked.stderr)
        self.assertIn(f'through a bind mount, "{self.path("q", "t")}" is '
                      f'"{self.path("out", "deep", "t")}"', checked.stderr)


if __name__ == "__main__":
    unittest.main()
