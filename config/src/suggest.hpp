#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::config::detail {

/// The candidate closest to `word` if it is a plausible typo of it (case-insensitive edit
/// distance with transpositions, at most 1 for words up to 4 characters, 2 up to 8, else 3),
/// else nothing. Ties go to the earlier candidate.
std::optional<std::string> suggest(std::string_view word,
                                   const std::vector<std::string_view>& candidates);

}  // namespace tetherd::config::detail
