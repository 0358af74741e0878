#pragma once

// Reading and validating the JSON config file.
//
// Every problem is reported at once (not just the first), each with the file, the 1-based
// line and column of the offending key or value (for a missing key: the '{' of the object
// that lacks it) and its JSON path (e.g. `rules[0].delete`). Columns count Unicode code
// points, not bytes (a tab is one column; a leading UTF-8 byte order mark is skipped and not
// counted). A JSON syntax error stops parsing: it is reported alone.
//
// The format is strict JSON (RFC 8259, UTF-8): no comments, no trailing commas, duplicate
// keys are errors, unknown keys are errors (with "did you mean" for near misses), nesting is
// limited to 64 levels and files to max_config_bytes.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/config/config.hpp"

namespace tetherd::config {

/// Config files larger than this are refused (a config is a few kilobytes).
inline constexpr std::size_t max_config_bytes = 1024 * 1024;

/// The default config file location.
inline constexpr std::string_view default_config_path = "/etc/tetherd/tetherd.json";

struct Problem {
  std::string origin;     ///< file path (or origin name)
  int line = 0;           ///< 1-based; 0 when the problem is the file itself
  int column = 0;         ///< 1-based, in code points; 0 when line is 0
  std::string json_path;  ///< e.g. "rules[0].delete"; empty for syntax and file problems
  std::string message;

  /// `origin:line:column: json_path: message`, leaving out the parts that are empty/zero.
  std::string to_string() const;
};

struct ConfigResult {
  std::optional<Config> config;   ///< set if and only if problems is empty
  std::vector<Problem> problems;  ///< ordered by position in the file
  /// The file could not be read at all (missing, permission, a directory): problems holds
  /// one entry saying why. (`tetherd check` exits 66 then, 78 for any other problem.)
  bool unreadable = false;

  bool ok() const { return config.has_value(); }
};

/// Reads and validates the file at `path`.
ConfigResult load_config(const std::filesystem::path& path);

/// Validates `text` exactly as load_config validates a file's contents; problems name
/// `origin` as their file. Sources are still checked against the real filesystem.
ConfigResult parse_config(std::string_view text, std::string_view origin);

}  // namespace tetherd::config
