#pragma once

// The fixture registry of the conformance suite. A fixture makes a fresh, empty store for
// one test (and whatever server it needs). To run the suite against a new backend, add a
// fixture type here and name it in TETHERD_STORE_FIXTURES.
//
// A fixture provides:
//   static constexpr const char* kName;
//   explicit Fixture(core::Executor&);   // a fresh empty store
//   core::StorePtr store;
//   bool posix_bytes() const;            // names may hold any byte but NUL and '/'
//   std::vector<std::string> raw_names(); // every name the backend holds, store files
//                                         // and internal ones (temporary files) alike
//   std::optional<std::filesystem::path> outside();  // a directory outside the store
//                                         // (for symlink escape tests), if meaningful

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "s3_fixture.hpp"
#include "sftp_fixture.hpp"
#include "support/required_servers.hpp"
#include "support/temp_dir.hpp"
#include "tetherd/stores/local_store.hpp"
#include "tetherd/stores/memory_store.hpp"

namespace tetherd::test {

using test_support::TempDir;

/// The prefix of every scratch directory of the store tests.
inline constexpr std::string_view kTempPrefix = "tetherd-test";

struct MemoryFixture {
  static constexpr const char* kName = "memory";
  explicit MemoryFixture(core::Executor& executor)
      : memory(stores::open_memory_store(executor, {"memory", std::nullopt})), store(memory) {}
  bool posix_bytes() const { return true; }
  std::optional<std::filesystem::path> outside() const { return std::nullopt; }

  std::shared_ptr<stores::MemoryStore> memory;
  core::StorePtr store;
};

/// A durable local store rooted at the existing directory `root` (group-commit tests).
inline core::StorePtr open_durable_local_store(core::Executor& executor,
                                               const std::filesystem::path& root) {
  stores::LocalStoreOptions options;
  options.root = root.string();
  options.durable = true;
  auto opened = stores::open_local_store(executor, options);
  if (!opened) throw std::runtime_error(opened.error().message());
  return *opened;
}

struct LocalFixtureBase {
  explicit LocalFixtureBase(core::Executor& executor, stores::LocalStoreOptions options) {
    std::filesystem::create_directory(root());
    std::filesystem::create_directory(*outside());
    options.root = root().string();
    auto opened = stores::open_local_store(executor, options);
    if (!opened) throw std::runtime_error(opened.error().message());
    store = *opened;
  }
  bool posix_bytes() const { return true; }
  std::filesystem::path root() const { return dir.path() / "root"; }
  std::optional<std::filesystem::path> outside() const { return dir.path() / "outside"; }
  std::vector<std::string> raw_names() const {
    std::vector<std::string> names;
    for (auto& entry : std::filesystem::recursive_directory_iterator(root())) {
      names.push_back(entry.path().lexically_relative(root()).string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  TempDir dir{kTempPrefix};
  core::StorePtr store;
};

struct LocalFixture : LocalFixtureBase {
  static constexpr const char* kName = "local";
  explicit LocalFixture(core::Executor& executor) : LocalFixtureBase(executor, {}) {}
};

/// The O_NOFOLLOW walk instead of openat2, as on kernels before 5.6, and anonymous files
/// linked through /proc/self/fd, as without CAP_DAC_READ_SEARCH.
struct LocalWalkFixture : LocalFixtureBase {
  static constexpr const char* kName = "local-walk";
  static stores::LocalStoreOptions options() {
    stores::LocalStoreOptions options;
    options.force_walk_resolution = true;
    options.allow_empty_path_links = false;
    return options;
  }
  explicit LocalWalkFixture(core::Executor& executor) : LocalFixtureBase(executor, options()) {}
};

/// No FICLONE, no copy_file_range, no O_TMPFILE, every rename answering EXDEV: exercises
/// the read/write copy loop, named temporary files and the copy-then-delete move that a
/// mount inside the root causes.
struct LocalFallbackFixture : LocalFixtureBase {
  static constexpr const char* kName = "local-fallback";
  static stores::LocalStoreOptions options() {
    stores::LocalStoreOptions options;
    options.allow_clone = false;
    options.allow_copy_file_range = false;
    options.simulate_cross_device = true;
    options.allow_anonymous_temps = false;
    options.durable = false;
    return options;
  }
  explicit LocalFallbackFixture(core::Executor& executor) : LocalFixtureBase(executor, options()) {}
};

/// Why fixture F cannot run on this machine (its server's prerequisites are missing);
/// nullopt when it can.
template <typename F>
std::optional<std::string> fixture_unavailable() {
  if constexpr (requires { F::unavailable(); }) {
    return F::unavailable();
  } else {
    return std::nullopt;
  }
}

/// Throws, with the reason, when F's server could run here but did not start.
template <typename F>
void require_fixture_started() {
  if constexpr (requires { F::require_started(); }) F::require_started();
}

}  // namespace tetherd::test

/// At the top of a test over fixture F. When F's server cannot run on this machine: prints
/// test_support::kSkippedMarker with the reason and returns, so that the ctest entry shows
/// "Skipped" (SKIP_REGULAR_EXPRESSION, tests/stores/CMakeLists.txt) rather than a pass; or,
/// under TETHERD_REQUIRE_SERVERS=1, fails with the reason. When the server could run but did
/// not start, fails with the reason.
#define TETHERD_SKIP_IF_UNAVAILABLE(F)                                                      \
  if (auto tetherd_unavailable_ = ::tetherd::test::fixture_unavailable<F>()) {              \
    if (::tetherd::test_support::servers_required())                                        \
      FAIL(std::string(F::kName)                                                            \
           << " server required (TETHERD_REQUIRE_SERVERS=1) but unavailable: "              \
           << *tetherd_unavailable_);                                                       \
    MESSAGE(::tetherd::test_support::kSkippedMarker << " " << std::string(F::kName) << ": " \
                                                    << *tetherd_unavailable_);              \
    return;                                                                                 \
  }                                                                                         \
  ::tetherd::test::require_fixture_started<F>();

// S3Fixture (s3_fixture.hpp) runs every conformance case against a real radosgw with no
// S3-specific skip: its capability gates decide (no SYMLINK, so the symlink halves of 03
// and 16 do not run), and posix_bytes() is false because S3 keys are UTF-8.
#define TETHERD_STORE_FIXTURES                                                                \
  tetherd::test::MemoryFixture, tetherd::test::LocalFixture, tetherd::test::LocalWalkFixture, \
      tetherd::test::LocalFallbackFixture, tetherd::test::SftpFixture, tetherd::test::S3Fixture
