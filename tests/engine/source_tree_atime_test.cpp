// SourceTree reads without touching access times (O_NOATIME): mirroring a tree leaves it
// as it was, atimes included (mail readers compare a mailbox's atime with its mtime).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"
#include "tetherd/engine/local_source_tree.hpp"

using namespace tetherd;
namespace fs = std::filesystem;
using tetherd::test_support::TempDir;

namespace {

// Sets the access time an hour before the modification time: what relatime updates on
// the next read.
void age_atime(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  timespec times[2] = {info.st_mtim, info.st_mtim};
  times[0].tv_sec -= 3600;
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

timespec atime_of(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_atim;
}

bool same(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

TEST_CASE("reading a source file and listing its directory leave their access times alone") {
  TempDir root("tetherd-atime");
  const fs::path dir = root.path() / "d";
  fs::create_directory(dir);
  std::ofstream(dir / "f") << "content";
  std::ofstream(dir / "control") << "content";
  age_atime(dir / "control");
  // Control: a plain read. Where the file system keeps no access times (noatime) there
  // is nothing to check. (The test owns its files, so O_NOATIME is always granted.)
  {
    const timespec before = atime_of(dir / "control");
    const int fd = ::open((dir / "control").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    char byte = 0;
    REQUIRE(::read(fd, &byte, 1) == 1);
    ::close(fd);
    if (same(before, atime_of(dir / "control"))) {
      MESSAGE("skipped: this file system does not update access times on read");
      return;
    }
  }
  age_atime(dir / "f");
  age_atime(dir);
  const timespec file_before = atime_of(dir / "f");
  const timespec dir_before = atime_of(dir);

  auto tree = daemon::LocalSourceTree::open(root.path().string());
  REQUIRE(tree.ok());
  auto listed = (*tree)->list("d");
  REQUIRE(listed.ok());
  CHECK(listed->size() == 2);
  auto file = (*tree)->open_file("d/f");
  REQUIRE(file.ok());
  char buffer[16];
  CHECK(::read(file->fd, buffer, sizeof buffer) == 7);
  ::close(file->fd);

  CHECK(same(file_before, atime_of(dir / "f")));
  CHECK(same(dir_before, atime_of(dir)));
}

TEST_CASE("a reader that may not ask for O_NOATIME still reads the files it may read") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to read as another user");
    return;
  }
  // Files owned by root, readable by all; read by `nobody`, who is not their owner and
  // lacks CAP_FOWNER: O_NOATIME is refused (EPERM), and the tree reads without it.
  TempDir root("tetherd-atime-other");
  fs::permissions(root.path(), fs::perms::owner_all | fs::perms::group_read |
                                   fs::perms::group_exec | fs::perms::others_read |
                                   fs::perms::others_exec);
  fs::create_directory(root.path() / "d");
  std::ofstream(root.path() / "d" / "f") << "content";
  std::ofstream(root.path() / "d" / "g") << "more";
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child only makes system calls and exits: its status is the verdict.
    constexpr uid_t kNobody = 65534;
    if (::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      ::_exit(10);
    }
    auto tree = daemon::LocalSourceTree::open(root.path().string());
    if (!tree.ok()) ::_exit(11);
    auto listed = (*tree)->list("d");
    if (!listed.ok() || listed->size() != 2) ::_exit(12);
    for (const char* name : {"d/f", "d/g"}) {
      auto file = (*tree)->open_file(name);
      if (!file.ok()) ::_exit(13);
      char byte = 0;
      if (::read(file->fd, &byte, 1) != 1) ::_exit(14);
      ::close(file->fd);
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
