#pragma once

// Helpers for the config tests: a scratch directory on the real filesystem, and running
// parse_config on text with placeholders for paths that must exist.

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/temp_dir.hpp"
#include "tetherd/config/load_config.hpp"

namespace tetherd::config::testing {

/// A scratch directory (test_support::TempDir) with shorthands to fill it.
class ScratchDir {
 public:
  const std::filesystem::path& path() const { return dir_.path(); }

  /// Creates directory `relative` (and parents) and returns its absolute path.
  std::filesystem::path make_dir(const std::string& relative) const {
    std::filesystem::create_directories(path() / relative);
    return path() / relative;
  }

  /// Writes `contents` to file `relative` and returns its absolute path.
  std::filesystem::path write(const std::string& relative, std::string_view contents) const {
    std::filesystem::create_directories((path() / relative).parent_path());
    std::ofstream out(path() / relative, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return path() / relative;
  }

 private:
  test_support::TempDir dir_{"tetherd-config"};
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
