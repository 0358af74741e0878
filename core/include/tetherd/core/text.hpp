#pragma once

// Text helpers for paths, which are bytes: UTF-8 validation, a lossy UTF-8 rendering,
// base64 (for the exact bytes in JSON), JSON string quoting and a one-line display form.
// All functions accept arbitrary bytes and never fail.

#include <optional>
#include <string>
#include <string_view>

namespace tetherd::core {

/// Whether `bytes` is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view bytes) noexcept;

/// `bytes` with every ill-formed sequence replaced by U+FFFD, one per maximal subpart (the
/// Unicode "best practice" used by WHATWG and ICU): "a\xff\xfeb" -> "a\uFFFD\uFFFDb",
/// a truncated 3-byte sequence -> one U+FFFD. Valid input is returned unchanged.
std::string utf8_lossy(std::string_view bytes);

/// RFC 4648 base64 with padding.
std::string base64_encode(std::string_view bytes);
/// Inverse of base64_encode; nullopt for anything that is not canonical padded base64.
std::optional<std::string> base64_decode(std::string_view text);

/// A JSON string literal (with the quotes) for text that must already be valid UTF-8:
/// escapes '"', '\\' and control characters (U+0000..U+001F, U+007F) so a line stays a line.
std::string json_quote(std::string_view utf8);
/// json_quote(), appended to `out`.
void append_json_quoted(std::string& out, std::string_view utf8);

/// A single-line, terminal-safe rendering of a path: valid printable UTF-8 unchanged,
/// '\\' -> "\\\\", newline/tab/CR -> "\\n"/"\\t"/"\\r", other control bytes and bytes of
/// ill-formed sequences -> "\\xNN". Distinct inputs give distinct outputs.
std::string display_escape(std::string_view bytes);

}  // namespace tetherd::core
