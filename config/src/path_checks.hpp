#pragma once

// Path comparisons for the config checks (sources, targets, overlap).

#include <filesystem>
#include <string>

namespace tetherd::config::detail {

/// "/a/b/" -> "/a/b"; "/a/./b/../c" -> "/a/c" (lexical only).
std::filesystem::path normalize_absolute(const std::string& text);

/// True if `inner` is `outer` or lies beneath it, comparing whole components (both absolute
/// and normalized: "/a/bc" is not within "/a/b").
bool is_within(const std::filesystem::path& inner, const std::filesystem::path& outer);

/// The path with symbolic links resolved for the part that exists
/// (std::filesystem::weakly_canonical), normalized; the path itself if that fails.
std::filesystem::path resolve(const std::filesystem::path& path);

}  // namespace tetherd::config::detail
