#include "remote_checks.hpp"

#include <algorithm>

namespace tetherd::config::detail {
namespace {

bool is_base64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

std::optional<std::string> sftp_host(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    const std::string_view inner = text.substr(1, text.size() - 2);
    // An IPv6 address (with an optional "%zone"): hex digits, ':', '.' and the zone name.
    if (inner.find(':') == std::string_view::npos ||
        inner.find_first_of(" \t/@[]") != std::string_view::npos) {
      return std::nullopt;
    }
    return std::string(inner);
  }
  if (text.empty() || text.find_first_of(" \t/:@[]") != std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(text);
}

std::optional<std::string> sftp_root(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '/' || text == "~" || text.starts_with("~/")) return std::string(text);
  if (text.front() == '~') return std::nullopt;
  return "~/" + std::string(text);
}

std::optional<std::string> sha256_fingerprint(std::string_view text) {
  constexpr std::string_view prefix = "SHA256:";
  if (!text.starts_with(prefix)) return std::nullopt;
  std::string_view digest = text.substr(prefix.size());
  if (digest.size() == 44 && digest.back() == '=') digest.remove_suffix(1);
  if (digest.size() != 43 || !std::all_of(digest.begin(), digest.end(), is_base64)) {
    return std::nullopt;
  }
  // 43 characters carry 258 bits for a 256-bit digest: the last one's low 2 bits are zero.
  const char last = digest.back();
  const int value = last >= 'A' && last <= 'Z'   ? last - 'A'
                    : last >= 'a' && last <= 'z' ? last - 'a' + 26
                    : last >= '0' && last <= '9' ? last - '0' + 52
                    : last == '+'                ? 62
                                                 : 63;
  if (value % 4 != 0) return std::nullopt;
  return std::string(prefix) + std::string(digest);
}

bool valid_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  const auto edge = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!edge(bucket.front()) || !edge(bucket.back())) return false;
  return std::all_of(bucket.begin(), bucket.end(),
                     [&](char c) { return edge(c) || c == '.' || c == '-'; });
}

}  // namespace tetherd::config::detail
