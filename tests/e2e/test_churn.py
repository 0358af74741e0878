"""Random churn on the real file system against the real tetherd binary.

Each seed drives a tree with thousands of random operations at full speed while `tetherd
mirror --delay 0 --delete true` watches it, then `tetherd settle` must return 0 and the
target must equal the source exactly. The restart variant kills the daemon with SIGKILL at
random moments, changes the tree while it is down and starts it again.

TETHERD_CHURN_SEEDS=first:count and TETHERD_CHURN_OPS=n widen the search by hand; a
failure names its seed, and `TETHERD_CHURN_SEEDS=<seed>:1` runs it again.
"""

import os
import random
import signal
import unittest

from churn import Churn
from harness import MirrorTestCase, differences


def seeds(default_count):
    spec = os.environ.get("TETHERD_CHURN_SEEDS")
    if spec:
        first, _, count = spec.partition(":")
        return range(int(first), int(first) + int(count or 1))
    return range(1, 1 + default_count)


OPS = int(os.environ.get("TETHERD_CHURN_OPS", "1500"))


class Churning(MirrorTestCase):
    def reset_trees(self, seed):
        # A pair of trees per seed: a failure's trees and event logs stay side by side
        # (TETHERD_E2E_KEEP=1 keeps them).
        self.source = os.path.join(self.workdir, f"source{seed}")
        self.target = os.path.join(self.workdir, f"target{seed}")
        os.mkdir(self.source)

    def check_exact(self, seed, daemon, variant):
        try:
            daemon.settle(timeout=120)
        finally:
            problems = differences(self.source, self.target)
            daemon.stop(expect=None)
        if problems:
            self.fail(f"seed {seed} ({variant}): target differs after settle returned 0 "
                      f"(reproduce: TETHERD_CHURN_SEEDS={seed}:1 python3 -m unittest "
                      f"test_churn.Churning.test_{variant}):\n  " + "\n  ".join(problems[:20]))

    def test_live(self):
        for seed in seeds(6):
            with self.subTest(seed=seed):
                self.reset_trees(seed)
                churn = Churn(self.source, seed)
                churn.run(30)  # something for the initial sync
                daemon = self.mirror(name=f"live{seed}")
                churn.run(OPS)
                self.check_exact(seed, daemon, "live")

    def test_kill_and_restart(self):
        for seed in seeds(3):
            with self.subTest(seed=seed):
                self.reset_trees(seed)
                rng = random.Random(seed * 7919)
                churn = Churn(self.source, seed)
                churn.run(30)
                for round_number in range(3):
                    daemon = self.mirror(name=f"kill{seed}.{round_number}")
                    churn.run(rng.randrange(OPS // 4))
                    daemon.process.send_signal(signal.SIGKILL)
                    daemon.process.wait()
                    daemon.stderr.close()
                    churn.run(rng.randrange(50))  # while it is down
                daemon = self.mirror(name=f"kill{seed}.last")
                churn.run(OPS // 4)
                self.check_exact(seed, daemon, "kill_and_restart")

    def test_stop_and_restart_with_the_listing_cache(self):
        # Graceful stops save the target listing cache and the next start trusts what it
        # can of it: churn between and during the runs must still end exact.
        from harness import Daemon
        env = dict(os.environ, XDG_STATE_HOME=os.path.join(self.workdir, "state"))
        for seed in seeds(2):
            with self.subTest(seed=seed):
                self.reset_trees(seed)
                rng = random.Random(seed * 104729)
                churn = Churn(self.source, seed)
                churn.run(200)
                for round_number in range(4):
                    daemon = Daemon(self.workdir, ["mirror", self.source, self.target, "--delay",
                                                   "0", "--delete", "true"],
                                    name=f"stop{seed}.{round_number}", env=env)
                    self.daemons.append(daemon)
                    if round_number == 3:
                        churn.run(OPS // 4)
                        self.check_exact(seed, daemon, "stop_and_restart_with_the_listing_cache")
                        break
                    # The start walks a quiet tree and records its directories; a little
                    # churn drops some records; the stop saves the rest; the churn while
                    # it is down is what the next start must see through the cache.
                    daemon.settle(timeout=120)
                    churn.run(rng.randrange(20))
                    daemon.settle(timeout=120)
                    daemon.stop(expect=0)
                    churn.run(rng.randrange(50))


if __name__ == "__main__":
    unittest.main()
