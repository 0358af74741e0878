#pragma once

// Helpers for the config tests: a scratch directory on the real filesystem, and running
// parse_config on text with placeholders for paths that must exist.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/config/load_config.hpp"

namespace tetherd::config::testing {

/// A fresh directory under $TMPDIR, removed with everything in it at destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tetherd-config-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  /// Creates directory `relative` (and parents) and returns its absolute path.
  std::filesystem::path make_dir(const std::string& relative) const {
    std::filesystem::create_directories(path_ / relative);
    return path_ / relative;
  }

  /// Writes `contents` to file `relative` and returns its absolute path.
  std::filesystem::path write(const std::string& relative, std::string_view contents) const {
    std::filesystem::create_directories((path_ / relative).parent_path());
    std::ofstream out(path_ / relative, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return path_ / relative;
  }

 private:
  std::filesystem::path path_;
};

/// Replaces every `placeholder` in `text` with `value`.
inline std::string replace_all(std::string text, std::string_view placeholder,
                               std::string_view value) {
  for (std::size_t at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + value.size())) {
    text.replace(at, placeholder.size(), value);
  }
  return text;
}

/// Every problem of `text` (origin "t.json") as `t.json:line:column: path: message`, one
/// per line (each line ends with '\n'); empty if the config is valid.
inline std::string problems_of(std::string_view text) {
  std::string lines;
  for (const Problem& problem : parse_config(text, "t.json").problems) {
    lines += problem.to_string() + "\n";
  }
  return lines;
}

}  // namespace tetherd::config::testing
