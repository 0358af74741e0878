// The local store's measured mtime granularity: the arithmetic that reads a probe, and the
// probe on the real file system of the test's scratch directory.

#include "mtime_precision.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "support/temp_dir.hpp"

using namespace std::chrono_literals;
using tetherd::stores::kMtimeProbeNs;
using tetherd::stores::precision_from_probe;

TEST_CASE("mtime precision: each file system's rounding of the probe names its granularity") {
  const std::int64_t second = kMtimeProbeNs / 1'000'000'000 * 1'000'000'000;  // …001 s
  CHECK(precision_from_probe(kMtimeProbeNs, kMtimeProbeNs) == 1ns);           // ext4, xfs
  CHECK(precision_from_probe(kMtimeProbeNs, second + 999'999'900) == 100ns);  // NTFS
  CHECK(precision_from_probe(kMtimeProbeNs, second + 999'999'000) == 1us);    // CIFS, some FUSE
  CHECK(precision_from_probe(kMtimeProbeNs, second + 990'000'000) == 10ms);   // exFAT
  CHECK(precision_from_probe(kMtimeProbeNs, second) == 1s);                   // ext3
  CHECK(precision_from_probe(kMtimeProbeNs, second - 1'000'000'000) == 2s);   // FAT, down
  CHECK(precision_from_probe(kMtimeProbeNs, second + 1'000'000'000) == 2s);   // FAT, up
  CHECK(precision_from_probe(kMtimeProbeNs, second + 1'000'000'000 - 10) == 10ns);
}

TEST_CASE("mtime precision: a file system that does not keep the mtime given explains nothing") {
  CHECK(precision_from_probe(kMtimeProbeNs, 0) == std::nullopt);
  CHECK(precision_from_probe(kMtimeProbeNs, kMtimeProbeNs + 5'000'000'000) == std::nullopt);
  CHECK(precision_from_probe(kMtimeProbeNs, kMtimeProbeNs - 3'000'000'000) == std::nullopt);
}

TEST_CASE("mtime precision: the probe measures the scratch directory and leaves nothing") {
  for (const bool anonymous : {true, false}) {
    CAPTURE(anonymous);
    tetherd::test_support::TempDir dir("tetherd-mtime-probe");
    const int fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const auto probe = tetherd::stores::probe_mtime_precision(fd, anonymous);
    ::close(fd);
    CHECK(probe.ran);
    REQUIRE(probe.precision.has_value());
    // Every file system a scratch directory sits on here (ext4, xfs, btrfs, tmpfs,
    // overlayfs) keeps nanoseconds.
    CHECK(*probe.precision == 1ns);
    CHECK(std::filesystem::is_empty(dir.path()));
  }
}

TEST_CASE("mtime precision: where no file can be created, the probe says it did not run") {
  const int fd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const auto probe = tetherd::stores::probe_mtime_precision(fd);
  ::close(fd);
  CHECK_FALSE(probe.ran);
}
