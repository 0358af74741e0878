#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::config::detail {

/// The candidate closest to `word` if it is a plausible typo of it (case-insensitive edit
/// distance with transpositions, at most 1 for words up to 4 characters, 2 up to 8, else 3;
/// or one is a prefix, of at least 3 characters, of the other), else nothing. A prefix match
/// wins; otherwise the smallest distance, ties to the earlier candidate.
std::optional<std::string> suggest(std::string_view word,
                                   const std::vector<std::string_view>& candidates);

}  // namespace tetherd::config::detail
