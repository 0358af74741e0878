// Which local file systems stamp mtimes with this kernel's clock (the local store's
// mtime_clock_skew), by statfs type and on the test's real scratch directory.

#include "mtime_clock.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

TEST_CASE("mtime clock: local file systems stamp with this kernel's clock, remote ones may not") {
  using tetherd::stores::stamps_with_local_clock;
  CHECK(stamps_with_local_clock(0xEF53));                                 // ext4
  CHECK(stamps_with_local_clock(0x58465342));                             // xfs
  CHECK(stamps_with_local_clock(0x01021994));                             // tmpfs
  CHECK(stamps_with_local_clock(0x4d44));                                 // FAT
  CHECK_FALSE(stamps_with_local_clock(0x6969));                           // NFS
  CHECK_FALSE(stamps_with_local_clock(static_cast<long>(0xFE534D42ul)));  // SMB2
  CHECK_FALSE(stamps_with_local_clock(0x65735546));                       // FUSE
  CHECK_FALSE(stamps_with_local_clock(0));
}

TEST_CASE("mtime clock: the scratch directory's file system is local") {
  tetherd::test_support::TempDir dir("tetherd-mtime-clock");
  const int fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(tetherd::stores::mtime_clock_skew_of(fd) == tetherd::stores::kLocalClockSkew);
  ::close(fd);
}
