"""A seeded generator of random changes to a real directory tree, at full speed.

Each operation is one thing people and programs do to a tree: create, overwrite, append,
mkdir, `rm -r`, rename of files and directories (also into a directory made just before),
chmod, symlink, truncate. The same seed gives the same sequence of choices, so a failing
run is reproduced by its seed (the tree's timing is the kernel's, not the generator's).
"""

import os
import random
import shutil


class Churn:
    def __init__(self, root, seed):
        self.root = root
        self.rng = random.Random(seed)
        self.counter = 0

    # -- picking places ------------------------------------------------------------------

    def _entries(self):
        files, dirs = [], [""]
        for directory, subdirs, names in os.walk(self.root):
            relative = os.path.relpath(directory, self.root)
            relative = "" if relative == "." else relative
            for name in subdirs + names:
                path = os.path.join(relative, name)
                # Symlinks are only made and removed: writing through one could leave the tree.
                if name.startswith(".tetherd") or os.path.islink(self._path(path)):
                    continue
                (dirs if name in subdirs else files).append(path)
        return files, dirs

    def _new_name(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _path(self, relative):
        return os.path.join(self.root, relative)

    def _data(self):
        size = self.rng.choice([0, 1, 7, 100, 4096, 5000, 70_000])
        return self.rng.randbytes(size)

    # -- operations -----------------------------------------------------------------------

    def step(self):
        """One random operation; returns a short description of it."""
        files, dirs = self._entries()
        choice = self.rng.random()
        try:
            if choice < 0.22 or not files:
                directory = self.rng.choice(dirs)
                path = os.path.join(directory, self._new_name("f"))
                with open(self._path(path), "wb") as handle:
                    handle.write(self._data())
                return f"create {path}"
            if choice < 0.32:
                path = self.rng.choice(files)
                with open(self._path(path), "wb") as handle:
                    handle.write(self._data())
                return f"overwrite {path}"
            if choice < 0.40:
                path = self.rng.choice(files)
                with open(self._path(path), "ab") as handle:
                    handle.write(self._data())
                return f"append {path}"
            if choice < 0.50:
                directory = self.rng.choice(dirs)
                path = os.path.join(directory, self._new_name("d"))
                os.mkdir(self._path(path))
                return f"mkdir {path}"
            if choice < 0.57 and len(dirs) > 1:
                path = self.rng.choice(dirs[1:])
                shutil.rmtree(self._path(path))
                return f"rm -r {path}"
            if choice < 0.63:
                path = self.rng.choice(files)
                os.unlink(self._path(path))
                return f"rm {path}"
            if choice < 0.71:
                path = self.rng.choice(files)
                to = os.path.join(self.rng.choice(dirs), self._new_name("m"))
                os.rename(self._path(path), self._path(to))
                return f"mv {path} {to}"
            if choice < 0.76:
                # A rename into a directory made just before (the new directory is not watched yet).
                path = self.rng.choice(files)
                fresh = os.path.join(self.rng.choice(dirs), self._new_name("n"))
                os.mkdir(self._path(fresh))
                to = os.path.join(fresh, os.path.basename(path))
                os.rename(self._path(path), self._path(to))
                return f"mkdir+mv {path} {to}"
            if choice < 0.82 and len(dirs) > 1:
                path = self.rng.choice(dirs[1:])
                parent = self.rng.choice(dirs)
                if parent == path or parent.startswith(path + os.sep):
                    return "skip"
                to = os.path.join(parent, self._new_name("r"))
                os.rename(self._path(path), self._path(to))
                return f"mv dir {path} {to}"
            if choice < 0.88:
                path = self.rng.choice(files)
                os.chmod(self._path(path), self.rng.choice([0o600, 0o644, 0o640, 0o755]))
                return f"chmod {path}"
            if choice < 0.93:
                directory = self.rng.choice(dirs)
                path = os.path.join(directory, self._new_name("l"))
                os.symlink(self.rng.choice(["target", "../x", "f1"]), self._path(path))
                return f"symlink {path}"
            path = self.rng.choice(files)
            os.truncate(self._path(path), self.rng.choice([0, 3]))
            return f"truncate {path}"
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError,
                OSError):
            # A symlink chosen as a file, a name reused: the tree is what it is.
            return "skip"

    def run(self, count):
        for _ in range(count):
            self.step()
