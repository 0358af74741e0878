#include "suggest.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>

namespace tetherd::config::detail {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
std::size_t edit_distance(const std::string& a, const std::string& b) {
  const std::size_t rows = a.size() + 1;
  const std::size_t cols = b.size() + 1;
  std::vector<std::size_t> d(rows * cols);
  const auto at = [cols, &d](std::size_t i, std::size_t j) -> std::size_t& {
    return d[i * cols + j];
  };
  for (std::size_t i = 0; i < rows; ++i)
    at(i, 0) = i;
  for (std::size_t j = 0; j < cols; ++j)
    at(0, j) = j;
  for (std::size_t i = 1; i < rows; ++i) {
    for (std::size_t j = 1; j < cols; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(rows - 1, cols - 1);
}

}  // namespace

std::optional<std::string> suggest(std::string_view word,
                                   const std::vector<std::string_view>& candidates) {
  // Words longer than any plausible key are not compared (keeps the table small).
  if (word.empty() || word.size() > 128) return std::nullopt;
  const std::string needle = lower(word);
  const std::size_t limit = needle.size() <= 4 ? 1 : needle.size() <= 8 ? 2 : 3;
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const std::string_view candidate : candidates) {
    const std::string other = lower(candidate);
    // A truncated or extended word ("warning" for "warn", "rule" for "rules") is a near miss
    // however many characters differ.
    const std::string& shorter = other.size() < needle.size() ? other : needle;
    const std::string& longer = other.size() < needle.size() ? needle : other;
    if (shorter.size() >= 3 && longer.compare(0, shorter.size(), shorter) == 0) {
      return std::string(candidate);
    }
    const std::size_t distance = edit_distance(needle, other);
    if (distance < best_distance) {
      best_distance = distance;
      best = std::string(candidate);
    }
  }
  return best;
}

}  // namespace tetherd::config::detail
