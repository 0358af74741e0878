#pragma once

// The one scratch directory of the test suites: a fresh directory on the real filesystem
// that lives as long as the object and is removed with everything in it afterwards.

#include <stdlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace tetherd::test_support {

class TempDir {
 public:
  /// Creates `<base>/<prefix>-XXXXXX` (mkdtemp: a new name, mode 0700), where <base> is
  /// $TMPDIR when set and not empty, else /tmp. `prefix` is one name, without '/'.
  /// Throws std::runtime_error, with the reason, if the directory cannot be created.
  explicit TempDir(std::string_view prefix) {
    if (prefix.empty() || prefix.find('/') != std::string_view::npos) {
      throw std::invalid_argument("TempDir: the prefix must be one non-empty name, not '" +
                                  std::string(prefix) + "'");
    }
    const char* tmpdir = std::getenv("TMPDIR");
    const std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
    std::string pattern = base + "/" + std::string(prefix) + "-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      const int error = errno;
      throw std::runtime_error("cannot create a temporary directory in " + base + ": " +
                               std::strerror(error));
    }
    path_ = pattern;
  }

  /// Removes the tree. Never throws: a test's own failure must not turn into a crash here,
  /// and what cannot be removed is left behind.
  ~TempDir() {
    try {
      restore_permissions();
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    } catch (...) {  // std::bad_alloc from a path: leave the tree
    }
  }

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// The absolute directory (as created: not canonical if $TMPDIR holds a symlink).
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  // Tests may have taken permissions away (to provoke EACCES); without read, write and
  // search permission on every directory, remove_all could not empty the tree. Symlinks
  // are not followed, so nothing outside the tree changes.
  void restore_permissions() const {
    namespace fs = std::filesystem;
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    for (auto it = fs::recursive_directory_iterator(
             path_, fs::directory_options::skip_permission_denied, ignored);
         it != fs::recursive_directory_iterator(); it.increment(ignored)) {
      if (it->is_directory(ignored) && !it->is_symlink(ignored)) {
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ignored);
      }
    }
  }

  std::filesystem::path path_;
};

}  // namespace tetherd::test_support
