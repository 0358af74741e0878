// local_store durable writes: group commit (many writes sharing one flush) and kernel copies
// of a file region that the source refuses at the end (it changed while being copied).

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "fixtures.hpp"
#include "harness.hpp"
#include "tetherd/stores/fd_byte_source.hpp"
#include "tetherd/stores/local_store.hpp"

using namespace tetherd;
using namespace tetherd::test;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> names_under(const fs::path& root) {
  std::vector<std::string> names;
  for (auto& entry : fs::recursive_directory_iterator(root))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A file region whose source says, at the end, that the data changed meanwhile.
class ChangedRegionSource final : public core::ByteSource {
 public:
  ChangedRegionSource(core::Executor& executor, int fd, std::uint64_t length)
      : inner_(std::make_shared<stores::FdByteSource>(executor, fd, 0, length)) {}
  void read(std::size_t max_bytes, core::Callback<core::Bytes> done) override {
    inner_->read(max_bytes, std::move(done));
  }
  void cancel() override { inner_->cancel(); }
  std::optional<FileRegion> file_region() const override { return inner_->file_region(); }
  core::Result<void> check_region_copied(std::uint64_t) const override {
    return core::StoreError::make(core::Errc::PreconditionFailed, "changed while copied");
  }

 private:
  std::shared_ptr<stores::FdByteSource> inner_;
};

}  // namespace

TEST_CASE("local: durable writes issued together all land complete (group commit)") {
  TestLoop loop;
  TempDir top{kTempPrefix};
  fs::path root = top.path() / "root";
  fs::create_directories(root);
  fs::path input = top.path() / "input";
  fs::create_directories(input);
  constexpr int kFiles = 200;
  for (int i = 0; i < kFiles; ++i) {
    std::ofstream(input / std::to_string(i), std::ios::binary) << "content of " << i;
  }
  stores::LocalStoreOptions options;
  options.root = root.string();
  options.durable = true;
  auto store = stores::open_local_store(loop.executor(), options);
  REQUIRE(store.ok());
  CHECK((*store)->capabilities().has(core::Capability::Durable));

  int completed = 0;
  int failed = 0;
  for (int i = 0; i < kFiles; ++i) {
    const fs::path file = input / std::to_string(i);
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    auto source =
        std::make_shared<stores::FdByteSource>(loop.executor(), fd, 0, fs::file_size(file));
    core::WriteOptions write;
    write.atomic = true;
    write.overwrite = true;
    write.mode = 0640;
    (*store)->write(key("d" + std::to_string(i % 4) + "/" + std::to_string(i)), source, write,
                    [&](core::Result<core::EntryInfo> info) {
                      ++completed;
                      if (!info) ++failed;
                    });
  }
  REQUIRE(loop.run_until([&] { return completed == kFiles; }));
  CHECK(failed == 0);
  for (int i = 0; i < kFiles; ++i) {
    const fs::path written = root / ("d" + std::to_string(i % 4)) / std::to_string(i);
    CHECK(slurp(written) == "content of " + std::to_string(i));
    CHECK((fs::status(written).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
  }
  for (const auto& name : names_under(root))
    CHECK(name.rfind(".tetherd.tmp.", 0) != 0);
}

TEST_CASE("local: a region copy the source refuses at the end is never published") {
  TestLoop loop;
  TempDir top{kTempPrefix};
  fs::path root = top.path() / "root";
  fs::create_directories(root);
  std::ofstream(root / "kept", std::ios::binary) << "old content";
  const fs::path input = top.path() / "input";
  std::ofstream(input, std::ios::binary) << "new content that changed meanwhile";

  for (bool durable : {true, false}) {
    CAPTURE(durable);
    stores::LocalStoreOptions options;
    options.root = root.string();
    options.durable = durable;
    auto store = stores::open_local_store(loop.executor(), options);
    REQUIRE(store.ok());
    for (const std::string name : {"kept", "fresh"}) {
      CAPTURE(name);
      const int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
      REQUIRE(fd >= 0);
      auto source =
          std::make_shared<ChangedRegionSource>(loop.executor(), fd, fs::file_size(input));
      core::WriteOptions write;
      write.atomic = true;
      write.overwrite = true;
      auto written = loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
        (*store)->write(key(name), source, write, done);
      });
      REQUIRE_FALSE(written.ok());
      CHECK(written.error().code == core::Errc::PreconditionFailed);
    }
    CHECK(slurp(root / "kept") == "old content");
    CHECK_FALSE(fs::exists(root / "fresh"));
    CHECK(names_under(root) == std::vector<std::string>{"kept"});
  }
}

TEST_CASE("local: directory changes issued together all complete, made durable as a group") {
  // mkdir, symlink, move and remove hand their changed directories to the committer, which
  // reports them after one flush (or fsyncs the directory when one arrives alone).
  TestLoop loop;
  TempDir top{kTempPrefix};
  fs::path root = top.path() / "root";
  fs::create_directories(root / "old");
  constexpr int kEach = 60;
  for (int i = 0; i < kEach; ++i) {
    std::ofstream(root / "old" / ("m" + std::to_string(i)), std::ios::binary) << i;
    std::ofstream(root / "old" / ("r" + std::to_string(i)), std::ios::binary) << i;
  }
  stores::LocalStoreOptions options;
  options.root = root.string();
  options.durable = true;
  auto store = stores::open_local_store(loop.executor(), options);
  REQUIRE(store.ok());

  int completed = 0;
  std::vector<std::string> failures;
  auto count = [&](const std::string& what) {
    return [&completed, &failures, what](core::Result<void> outcome) {
      ++completed;
      if (!outcome) failures.push_back(what + ": " + outcome.error().message());
    };
  };
  for (int i = 0; i < kEach; ++i) {
    const std::string n = std::to_string(i);
    (*store)->mkdir(key("dirs/d" + n + "/sub"), count("mkdir " + n));
    (*store)->symlink(key("links/l" + n), "target " + n, count("symlink " + n));
    (*store)->move(key("old/m" + n), key("moved/m" + n), true, count("move " + n));
    (*store)->remove(key("old/r" + n), false, count("remove " + n));
  }
  REQUIRE(loop.run_until([&] { return completed == 4 * kEach; }));
  CHECK(failures.empty());
  for (int i = 0; i < kEach; ++i) {
    const std::string n = std::to_string(i);
    CHECK(fs::is_directory(root / "dirs" / ("d" + n) / "sub"));
    CHECK(fs::read_symlink(root / "links" / ("l" + n)) == "target " + n);
    CHECK(slurp(root / "moved" / ("m" + n)) == n);
    CHECK_FALSE(fs::exists(root / "old" / ("m" + n)));
    CHECK_FALSE(fs::exists(root / "old" / ("r" + n)));
  }

  // One change alone takes the per-directory fsync path, and completes too.
  auto alone = loop.await<void>(
      [&](core::Callback<void> done) { (*store)->mkdir(key("alone"), std::move(done)); });
  CHECK(alone.ok());
  CHECK(fs::is_directory(root / "alone"));
}

TEST_CASE("local: writes and directory changes mixed in one burst all complete") {
  TestLoop loop;
  TempDir top{kTempPrefix};
  fs::path root = top.path() / "root";
  fs::create_directories(root);
  const fs::path input = top.path() / "input";
  std::ofstream(input, std::ios::binary) << "payload";
  stores::LocalStoreOptions options;
  options.root = root.string();
  options.durable = true;
  auto store = stores::open_local_store(loop.executor(), options);
  REQUIRE(store.ok());
  constexpr int kRounds = 3;
  constexpr int kEach = 50;
  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    int completed = 0;
    int failed = 0;
    auto count = [&](auto outcome) {
      ++completed;
      if (!outcome) ++failed;
    };
    for (int i = 0; i < kEach; ++i) {
      const std::string n = std::to_string(round) + "-" + std::to_string(i);
      const int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
      REQUIRE(fd >= 0);
      auto source =
          std::make_shared<stores::FdByteSource>(loop.executor(), fd, 0, fs::file_size(input));
      core::WriteOptions write;
      (*store)->write(key("files/f" + n), source, write,
                      [&count](core::Result<core::EntryInfo> info) { count(info); });
      (*store)->mkdir(key("dirs/d" + n), [&count](core::Result<void> outcome) { count(outcome); });
    }
    REQUIRE(loop.run_until([&] { return completed == 2 * kEach; }));
    CHECK(failed == 0);
    for (int i = 0; i < kEach; ++i) {
      const std::string n = std::to_string(round) + "-" + std::to_string(i);
      CHECK(slurp(root / "files" / ("f" + n)) == "payload");
      CHECK(fs::is_directory(root / "dirs" / ("d" + n)));
    }
  }
  for (const auto& name : names_under(root))
    CHECK(name.rfind(".tetherd.tmp.", 0) != 0);
}

TEST_CASE("local: durable writes that keep arriving while cycles and links run all land") {
  // Each completion issues the next write, so changes join cycles whose flush or whose
  // publish jobs are under way: every one must still land whole, under its name, and be
  // reported once.
  TestLoop loop;
  TempDir top{kTempPrefix};
  fs::path root = top.path() / "root";
  fs::create_directories(root);
  const fs::path input = top.path() / "input";
  std::ofstream(input, std::ios::binary) << "wave payload";
  auto store = open_durable_local_store(loop.executor(), root);
  constexpr int kTotal = 1500;
  constexpr int kAtOnce = 64;
  int issued = 0;
  int completed = 0;
  std::vector<std::string> failures;
  std::map<std::string, int> reports;
  std::function<void()> issue = [&] {
    const std::string name = "w" + std::to_string(issued % 7) + "/" + std::to_string(issued);
    ++issued;
    const int fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    auto source =
        std::make_shared<stores::FdByteSource>(loop.executor(), fd, 0, fs::file_size(input));
    store->write(key(name), source, core::WriteOptions{},
                 [&, name](core::Result<core::EntryInfo> info) {
                   ++completed;
                   ++reports[name];
                   if (!info) failures.push_back(name + ": " + info.error().message());
                   if (issued < kTotal) issue();
                 });
  };
  for (int i = 0; i < kAtOnce; ++i)
    issue();
  REQUIRE(loop.run_until([&] { return completed == kTotal; }));
  CHECK(failures.empty());
  CHECK(reports.size() == static_cast<std::size_t>(kTotal));
  for (const auto& report : reports) {
    const std::string& name = report.first;
    CAPTURE(name);
    CHECK(report.second == 1);
    CHECK(slurp(root / name) == "wave payload");
  }
  for (const auto& name : names_under(root))
    CHECK(name.rfind(".tetherd.tmp.", 0) != 0);
}
