// local_store keeps holes: a sparse file written from a file source (copied in the kernel,
// or by the read/write loop), copied or moved within the store, or streamed in chunks
// whose whole blocks are zero, takes the disk its data needs, not its size.
//
// Each test first checks that the scratch file system keeps holes at all (a sparse file
// made there must use less disk than its size); where it does not, the test says so and
// checks nothing.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "fixtures.hpp"
#include "harness.hpp"
#include "tetherd/stores/fd_byte_source.hpp"

using namespace tetherd;
using namespace tetherd::test;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kSize = 64ull << 20;
constexpr std::uint64_t kData = 4096;
// A copy that kept the holes takes a few blocks; one that filled them takes 64 MiB.
constexpr std::uint64_t kFarBelowSize = 1ull << 20;

std::uint64_t disk_use(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return static_cast<std::uint64_t>(info.st_blocks) * 512;
}

std::uint64_t size_of(const fs::path& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return static_cast<std::uint64_t>(info.st_size);
}

// A 64 MiB file holding 4 KiB of data in the middle and 4 KiB at its end, the rest holes.
void make_sparse(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(kSize)) == 0);
  const std::string middle = pattern(kData, 3);
  const std::string end = pattern(kData, 4);
  REQUIRE(::pwrite(fd, middle.data(), kData, static_cast<off_t>(kSize / 2)) ==
          static_cast<ssize_t>(kData));
  REQUIRE(::pwrite(fd, end.data(), kData, static_cast<off_t>(kSize - kData)) ==
          static_cast<ssize_t>(kData));
  REQUIRE(::close(fd) == 0);
}

// Whether the file system holding `dir` keeps holes: a sparse file made there uses less disk
// than its size. Says so where it does not (the caller then skips).
bool keeps_holes(const fs::path& dir) {
  const fs::path probe = dir / "hole-probe";
  make_sparse(probe);
  const std::uint64_t used = disk_use(probe);
  fs::remove(probe);
  if (used < kFarBelowSize) return true;
  MESSAGE("skipped: the file system of " << dir.string() << " does not keep holes (a " << kSize
                                         << "-byte sparse file uses " << used << " bytes)");
  return false;
}

// Whether files `a` and `b` hold the same bytes (`a` from `offset`, for `length`), compared a
// chunk at a time.
bool same_content(const fs::path& a, std::uint64_t offset, std::uint64_t length,
                  const fs::path& b) {
  std::ifstream left(a, std::ios::binary);
  std::ifstream right(b, std::ios::binary);
  left.seekg(static_cast<std::streamoff>(offset));
  std::string x(1 << 20, '\0');
  std::string y(1 << 20, '\0');
  for (std::uint64_t done = 0; done < length;) {
    const auto want =
        static_cast<std::streamsize>(std::min<std::uint64_t>(x.size(), length - done));
    left.read(x.data(), want);
    right.read(y.data(), want);
    if (left.gcount() != want || right.gcount() != want) return false;
    if (std::memcmp(x.data(), y.data(), static_cast<std::size_t>(want)) != 0) return false;
    done += static_cast<std::uint64_t>(want);
  }
  right.peek();
  return right.eof();  // and `b` holds nothing more
}

}  // namespace

TEST_CASE_TEMPLATE("local: a sparse file source stays sparse, and so do its copies and moves", F,
                   LocalFixture, LocalFallbackFixture) {
  // LocalFixture copies with copy_file_range, which on ext4 and tmpfs (and across file
  // systems) fills holes; LocalFallbackFixture copies with read/write and moves by copying.
  Harness<F> h;
  TempDir source_dir{kTempPrefix};
  if (!keeps_holes(source_dir.path()) || !keeps_holes(h.fixture.dir.path())) return;
  const fs::path source = source_dir.path() / "sparse.bin";
  make_sparse(source);
  const fs::path root = h.fixture.root();

  SUBCASE("written from a file source: holes in the middle") {
    auto opened = stores::FdByteSource::open(h.loop.executor(), source.string());
    REQUIRE(opened.ok());
    REQUIRE((*opened)->file_region().has_value());
    auto written =
        h.loop.template await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
          h.store->write(key("in/sparse.bin"), *opened, {}, done);
        });
    REQUIRE(written.ok());
    CHECK(written->size == kSize);
    CHECK(size_of(root / "in" / "sparse.bin") == kSize);
    CHECK(disk_use(root / "in" / "sparse.bin") < kFarBelowSize);
    CHECK(same_content(source, 0, kSize, root / "in" / "sparse.bin"));

    // Copied within the store, then moved (by LocalFallbackFixture as a copy then a delete).
    REQUIRE(h.copy("in/sparse.bin", "copied.bin", false).ok());
    CHECK(disk_use(root / "copied.bin") < kFarBelowSize);
    CHECK(same_content(source, 0, kSize, root / "copied.bin"));
    REQUIRE(h.move("copied.bin", "moved/sparse.bin", false).ok());
    CHECK(disk_use(root / "moved" / "sparse.bin") < kFarBelowSize);
    CHECK(same_content(source, 0, kSize, root / "moved" / "sparse.bin"));
  }

  SUBCASE("written from a range of a file: holes at the start and at the end") {
    // A ranged read of the store is a file source of that range: [16 MiB, 48 MiB) begins in
    // a hole, holds the middle data, and ends in a hole (the copy must still be 32 MiB long).
    {
      auto opened = stores::FdByteSource::open(h.loop.executor(), source.string());
      REQUIRE(opened.ok());
      auto written =
          h.loop.template await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
            h.store->write(key("whole.bin"), *opened, {}, done);
          });
      REQUIRE(written.ok());
    }
    auto ranged =
        h.loop.template await<core::ByteSourcePtr>([&](core::Callback<core::ByteSourcePtr> done) {
          h.store->read(key("whole.bin"), {kSize / 4, kSize / 2}, done);
        });
    REQUIRE(ranged.ok());
    REQUIRE((*ranged)->file_region().has_value());
    auto written =
        h.loop.template await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
          h.store->write(key("part.bin"), *ranged, {}, done);
        });
    REQUIRE(written.ok());
    CHECK(written->size == kSize / 2);
    CHECK(size_of(root / "part.bin") == kSize / 2);
    CHECK(disk_use(root / "part.bin") < kFarBelowSize);
    CHECK(same_content(source, kSize / 4, kSize / 2, root / "part.bin"));
  }
}

TEST_CASE_TEMPLATE("local: whole zero blocks streamed in chunks become holes", F, LocalFixture,
                   LocalFallbackFixture) {
  // A source with no file behind it (here bytes in memory) is pulled chunk by chunk; a block
  // of zeros aligned in the file is left a hole instead of written, as cp --sparse=auto and
  // rsync -S do. Zeros that share a block with data are written.
  Harness<F> h;
  if (!keeps_holes(h.fixture.dir.path())) return;
  std::string data(kSize, '\0');
  const std::string middle = pattern(kData, 5);
  data.replace(kSize / 2, kData, middle);
  data[kSize / 2 + kData + 100] = 'x';  // alone in its block, unaligned
  data[kSize / 4 + 1] = 'y';
  // The end is zeros: the file must still be kSize long.
  auto written = h.write("streamed.bin", data);
  REQUIRE(written.ok());
  const fs::path path = h.fixture.root() / "streamed.bin";
  CHECK(written->size == kSize);
  CHECK(size_of(path) == kSize);
  CHECK(disk_use(path) < kFarBelowSize);
  auto back = h.read("streamed.bin");
  REQUIRE(back.ok());
  CHECK((*back == data));

  // A non-atomic write (straight into the target) keeps holes the same way.
  core::WriteOptions plain;
  plain.atomic = false;
  REQUIRE(h.write("plain.bin", data, plain).ok());
  CHECK(size_of(h.fixture.root() / "plain.bin") == kSize);
  CHECK(disk_use(h.fixture.root() / "plain.bin") < kFarBelowSize);
  auto plain_back = h.read("plain.bin");
  REQUIRE(plain_back.ok());
  CHECK((*plain_back == data));
}
