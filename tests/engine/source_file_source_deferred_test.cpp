// SourceFileSource opened on the consumer's worker: it opens the file only if it is still
// in the state the engine examined, so what is written carries the planned attributes.

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"
#include "tetherd/engine/source_file_source.hpp"
#include "tetherd/stores/uv_executor.hpp"

using namespace tetherd;
namespace fs = std::filesystem;

namespace {

struct Deferred {
  test_support::TempDir scratch{"tetherd-sfsd"};
  const fs::path& root = scratch.path();
  uv_loop_t loop{};
  std::unique_ptr<stores::UvExecutor> executor;
  std::shared_ptr<const daemon::LocalSourceTree> tree;

  Deferred() {
    uv_loop_init(&loop);
    executor = std::make_unique<stores::UvExecutor>(&loop);
    auto opened = daemon::LocalSourceTree::open(root.string());
    REQUIRE(opened.ok());
    tree = std::move(*opened);
  }
  ~Deferred() {
    executor.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(root / name, std::ios::binary | std::ios::trunc) << text;
  }
  daemon::SourceEntry examine(const std::string& name) {
    auto entry = tree->stat(name);
    REQUIRE(entry.ok());
    return *entry;
  }
  std::shared_ptr<daemon::SourceFileSource> source_for(const daemon::SourceEntry& examined) {
    return std::make_shared<daemon::SourceFileSource>(*executor, tree, examined);
  }
  // Reads the whole source through read(), running the loop.
  core::Result<std::string> read_all(const std::shared_ptr<daemon::SourceFileSource>& source) {
    std::string data;
    std::optional<core::StoreError> failure;
    bool ended = false;
    std::function<void()> next = [&] {
      source->read(3, [&](core::Result<core::Bytes> chunk) {
        if (!chunk) {
          failure = chunk.error();
          return;
        }
        if (chunk->empty()) {
          ended = true;
          return;
        }
        data.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
        next();
      });
    };
    next();
    uv_run(&loop, UV_RUN_DEFAULT);
    if (failure) return *failure;
    REQUIRE(ended);
    return data;
  }
};

}  // namespace

TEST_CASE("deferred source file: opened on the worker when unchanged since examined") {
  Deferred fixture;
  fixture.write("f", "0123456789");
  const daemon::SourceEntry examined = fixture.examine("f");
  auto source = fixture.source_for(examined);
  CHECK(source->opens_on_worker());
  CHECK_FALSE(source->file_region().has_value());  // nothing is open yet
  REQUIRE(source->open_on_worker().ok());
  auto region = source->file_region();
  REQUIRE(region.has_value());
  CHECK(region->length == 10);
  CHECK(source->check_region_copied(10).ok());
  CHECK(source->state().same_state(examined));
}

TEST_CASE("deferred source file: a file changed since it was examined is refused") {
  Deferred fixture;
  fixture.write("f", "0123456789");
  const daemon::SourceEntry examined = fixture.examine("f");
  SUBCASE("content") {
    fixture.write("f", "0123456789 and more");
  }
  SUBCASE("mode") {
    fs::permissions(fixture.root / "f", fs::perms::owner_read | fs::perms::owner_write);
  }
  SUBCASE("replaced by another file") {
    fixture.write("g", "0123456789");
    fs::rename(fixture.root / "g", fixture.root / "f");
  }
  auto source = fixture.source_for(examined);
  auto opened = source->open_on_worker();
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == core::Errc::PreconditionFailed);
  CHECK(opened.error().retryable);
  CHECK(opened.error().store == "source");
  CHECK_FALSE(source->file_region().has_value());
}

TEST_CASE("deferred source file: a file gone since it was examined is NotFound") {
  Deferred fixture;
  fixture.write("f", "0123456789");
  const daemon::SourceEntry examined = fixture.examine("f");
  fs::remove(fixture.root / "f");
  auto opened = fixture.source_for(examined)->open_on_worker();
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == core::Errc::NotFound);
  CHECK(opened.error().store == "source");
}

TEST_CASE("deferred source file: read() opens the file itself, with the same check") {
  Deferred fixture;
  fixture.write("f", "0123456789");
  const daemon::SourceEntry examined = fixture.examine("f");
  SUBCASE("unchanged: the whole content") {
    auto source = fixture.source_for(examined);
    auto data = fixture.read_all(source);
    REQUIRE(data.ok());
    CHECK(*data == "0123456789");
    CHECK(source->state().same_state(examined));
  }
  SUBCASE("changed: refused before any data") {
    fixture.write("f", "something else entirely");
    auto data = fixture.read_all(fixture.source_for(examined));
    REQUIRE_FALSE(data.ok());
    CHECK(data.error().code == core::Errc::PreconditionFailed);
  }
}
