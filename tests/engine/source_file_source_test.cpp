// SourceFileSource: a kernel copy of the file's region is accepted only when the file is
// still in the state it had when opened (docs/ARCHITECTURE.md: never torn).

#include "tetherd/engine/source_file_source.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"
#include "tetherd/stores/uv_executor.hpp"

using namespace tetherd;
namespace fs = std::filesystem;
using tetherd::test_support::TempDir;

namespace {

struct Opened {
  uv_loop_t loop{};
  std::unique_ptr<stores::UvExecutor> executor;
  std::shared_ptr<daemon::SourceFileSource> source;

  Opened(const fs::path& root, const std::string& name) {
    uv_loop_init(&loop);
    executor = std::make_unique<stores::UvExecutor>(&loop);
    auto tree = daemon::LocalSourceTree::open(root.string());
    REQUIRE(tree.ok());
    auto file = (*tree)->open_file(name);
    REQUIRE(file.ok());
    source = std::make_shared<daemon::SourceFileSource>(*executor, std::move(*file));
  }
  ~Opened() {
    source.reset();
    executor.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
};

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace

TEST_CASE("source file: the region is the whole file, and an unchanged copy is accepted") {
  TempDir scratch{"tetherd-sfs"};
  write_file(scratch.path() / "f", "0123456789");
  Opened opened(scratch.path(), "f");
  auto region = opened.source->file_region();
  REQUIRE(region.has_value());
  CHECK(region->offset == 0);
  CHECK(region->length == 10);
  CHECK(opened.source->check_region_copied(10).ok());
}

TEST_CASE("source file: a copy of a file that changed is refused as retryable") {
  TempDir scratch{"tetherd-sfs"};
  SUBCASE("fewer bytes copied than the size") {
    write_file(scratch.path() / "f", "0123456789");
    Opened opened(scratch.path(), "f");
    auto checked = opened.source->check_region_copied(4);
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.error().code == core::Errc::PreconditionFailed);
    CHECK(checked.error().retryable);
  }
  SUBCASE("it grew after it was opened") {
    write_file(scratch.path() / "f", "0123456789");
    Opened opened(scratch.path(), "f");
    std::ofstream(scratch.path() / "f", std::ios::binary | std::ios::app) << "more";
    auto checked = opened.source->check_region_copied(10);
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.error().code == core::Errc::PreconditionFailed);
    CHECK(checked.error().message().find("it grew") != std::string::npos);
  }
  SUBCASE("it shrank after it was opened") {
    write_file(scratch.path() / "f", "0123456789");
    Opened opened(scratch.path(), "f");
    fs::resize_file(scratch.path() / "f", 3);
    auto checked = opened.source->check_region_copied(3);
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.error().code == core::Errc::PreconditionFailed);
  }
  SUBCASE("rewritten in place with the same size") {
    write_file(scratch.path() / "f", "0123456789");
    Opened opened(scratch.path(), "f");
    // A different modification time even on coarse clocks.
    write_file(scratch.path() / "f", "abcdefghij");
    fs::last_write_time(scratch.path() / "f",
                        fs::last_write_time(scratch.path() / "f") + std::chrono::seconds(5));
    auto checked = opened.source->check_region_copied(10);
    REQUIRE_FALSE(checked.ok());
    CHECK(checked.error().code == core::Errc::PreconditionFailed);
  }
}

TEST_CASE("source file: releasing the region closes the file, and its state stays") {
  TempDir scratch{"tetherd-sfs"};
  write_file(scratch.path() / "f", "0123456789");
  Opened opened(scratch.path(), "f");
  auto region = opened.source->file_region();
  REQUIRE(region.has_value());
  const int fd = region->fd;
  CHECK(::fcntl(fd, F_GETFD) != -1);
  opened.source->release_region();
  CHECK_FALSE(opened.source->file_region().has_value());
  CHECK(opened.source->state().size == 10);
  opened.source->release_region();  // twice is harmless
  // The descriptor number may be reused by now; it is no longer this file's.
  struct stat info {};
  CHECK((::fstat(fd, &info) != 0 || info.st_ino != opened.source->state().inode));
}
