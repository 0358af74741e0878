#include "tetherd/core/text.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace tetherd::core;

namespace {
const std::string replacement = "\xEF\xBF\xBD";

/// Up to `most` - 1 arbitrary bytes.
std::string random_bytes(std::mt19937& random, std::size_t most) {
  std::string bytes(random() % most, '\0');
  for (char& byte : bytes)
    byte = static_cast<char>(random() & 0xFF);
  return bytes;
}
}  // namespace

TEST_CASE("is_valid_utf8 accepts well-formed UTF-8 and rejects every ill-formed kind") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii/path.txt"));
  CHECK(is_valid_utf8("caf\xC3\xA9"));             // é
  CHECK(is_valid_utf8("\xE2\x82\xAC"));            // €
  CHECK(is_valid_utf8("\xF0\x9F\x98\x80"));        // 😀
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));        // U+10FFFF
  CHECK(is_valid_utf8(std::string("a\0b", 3)));    // NUL is valid UTF-8
  CHECK_FALSE(is_valid_utf8("caf\xE9"));           // Latin-1
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
  CHECK_FALSE(is_valid_utf8("\x80"));      // lone continuation
  CHECK_FALSE(is_valid_utf8("\xE2\x82"));  // truncated
  CHECK_FALSE(is_valid_utf8("\xFF"));
}

TEST_CASE("utf8_lossy replaces one U+FFFD per maximal subpart / keeps valid text") {
  CHECK(utf8_lossy("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(utf8_lossy("caf\xE9") == "caf" + replacement);
  CHECK(utf8_lossy("a\xFF\xFE"
                   "b") == "a" + replacement + replacement + "b");
  CHECK(utf8_lossy("\xE2\x82") == replacement);  // truncated: one
  CHECK(utf8_lossy("\xE2\x82"
                   "x") == replacement + "x");
  CHECK(utf8_lossy("\xF0\x9F\x98") == replacement);
  CHECK(utf8_lossy("\xC0\xAF") == replacement + replacement);  // C0 is never a lead
  CHECK(utf8_lossy("\xED\xA0\x80") == replacement + replacement + replacement);
  CHECK(utf8_lossy("\xE0\x80\xAF") == replacement + replacement + replacement);
  // The Unicode standard's example (Table 3-8): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64
  CHECK(utf8_lossy("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64") ==
        "a" + replacement + replacement + replacement + "b" + replacement + "c" + replacement +
            replacement + "d");
}

TEST_CASE("utf8_lossy: each kind of ill-formed sequence, also at the end of the input") {
  CHECK(utf8_lossy("a\xC1\xBF") == "a" + replacement + replacement);  // overlong 2-byte
  CHECK(utf8_lossy("\xED\x9F\xBF") == "\xED\x9F\xBF");                // U+D7FF: valid
  CHECK(utf8_lossy("\xED\xBF\xBF"
                   "z") == replacement + replacement + replacement + "z");  // surrogate U+DFFF
  CHECK(utf8_lossy("\xF4\x90\x80\x80") ==  // above U+10FFFF: F4 is a lead, 90 is not its 2nd
        replacement + replacement + replacement + replacement);
  CHECK(utf8_lossy("\xF4\x90") == replacement + replacement);
  CHECK(utf8_lossy("ab\xE2\x82") == "ab" + replacement);  // truncated 3-byte at the end
  CHECK(utf8_lossy("ab\xE2") == "ab" + replacement);
  CHECK(utf8_lossy("\xF0\x9F\x98\x80\xF0\x9F") == "\xF0\x9F\x98\x80" + replacement);
}

TEST_CASE("utf8_lossy output is always valid UTF-8") {
  std::mt19937 random(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(static_cast<std::size_t>(random() % 24), '\0');
    for (char& byte : bytes)
      byte = static_cast<char>(random() & 0xFF);
    const std::string lossy = utf8_lossy(bytes);
    CHECK(is_valid_utf8(lossy));
    if (is_valid_utf8(bytes)) CHECK(lossy == bytes);
  }
}

TEST_CASE("base64 matches RFC 4648 vectors and round-trips arbitrary bytes") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("caf\xE9") == "Y2Fm6Q==");
  CHECK(base64_encode("\xFF\xFE\xFD") == "//79");
  CHECK(base64_decode("Zm9vYmE=") == std::optional<std::string>("fooba"));
  CHECK(base64_decode("") == std::optional<std::string>(""));
  CHECK_FALSE(base64_decode("Zm9").has_value());
  CHECK_FALSE(base64_decode("Zm=v").has_value());
  CHECK_FALSE(base64_decode("Zm9*").has_value());
  CHECK_FALSE(base64_decode("Zh==").has_value());  // non-zero padding bits
  std::mt19937 random(7);
  for (int round = 0; round < 500; ++round) {
    std::string bytes(static_cast<std::size_t>(random() % 40), '\0');
    for (char& byte : bytes)
      byte = static_cast<char>(random() & 0xFF);
    CHECK(base64_decode(base64_encode(bytes)) == std::optional<std::string>(bytes));
  }
}

TEST_CASE("json_quote escapes quotes / backslashes and control characters") {
  CHECK(json_quote("plain") == "\"plain\"");
  CHECK(json_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_quote("two\nlines\t!") == "\"two\\nlines\\t!\"");
  CHECK(json_quote(std::string("\x01\x7F", 2)) == "\"\\u0001\\u007f\"");
  CHECK(json_quote("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
}

TEST_CASE("display_escape keeps a path on one line and tells different bytes apart") {
  CHECK(display_escape("dir/file.txt") == "dir/file.txt");
  CHECK(display_escape("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(display_escape("caf\xE9") == "caf\\xe9");
  CHECK(display_escape("two\nlines") == "two\\nlines");
  CHECK(display_escape("back\\slash") == "back\\\\slash");
  CHECK(display_escape("\x1B[31m") == "\\x1b[31m");
  CHECK(display_escape("\xC2\x85") == "\\xc2\\x85");  // NEL, a C1 control
  CHECK(display_escape("a\\xe9") != display_escape("a\xE9"));
}

TEST_CASE("display_escape: every byte of an ill-formed sequence as \\xNN, valid text kept") {
  CHECK(display_escape("a\xC0\xAF") == "a\\xc0\\xaf");  // overlong 2-byte '/'
  CHECK(display_escape("\xC1\xBF") == "\\xc1\\xbf");
  CHECK(display_escape("\xED\xA0\x80") == "\\xed\\xa0\\x80");           // surrogate U+D800
  CHECK(display_escape("\xED\x9F\xBF") == "\xED\x9F\xBF");              // U+D7FF is valid
  CHECK(display_escape("\xF4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
  CHECK(display_escape("\xF4\x8F\xBF\xBF") == "\xF4\x8F\xBF\xBF");      // U+10FFFF
  CHECK(display_escape("ab\xE2\x82") == "ab\\xe2\\x82");  // truncated 3-byte at the end
  CHECK(display_escape("\xE2\x82"
                       "x") == "\\xe2\\x82x");
  CHECK(display_escape("\xE0\x80\xAF") == "\\xe0\\x80\\xaf");  // overlong 3-byte
  CHECK(display_escape("\xC2\xA0") == "\xC2\xA0");             // U+00A0 is past the C1 controls
}

TEST_CASE("display_escape output is one line of valid UTF-8 without control characters") {
  std::mt19937 random(4242);
  for (int round = 0; round < 2000; ++round) {
    const std::string shown = display_escape(random_bytes(random, 24));
    CHECK(is_valid_utf8(shown));
    bool control = false;  // C0, DEL or (as C2 80..C2 9F) C1
    for (std::size_t at = 0; at < shown.size(); ++at) {
      const auto byte = static_cast<unsigned char>(shown[at]);
      const auto next = at + 1 < shown.size() ? static_cast<unsigned char>(shown[at + 1]) : 0;
      if (byte < 0x20 || byte == 0x7F || (byte == 0xC2 && next >= 0x80 && next <= 0x9F)) {
        control = true;
      }
    }
    CHECK_FALSE(control);
  }
}
