// JSON syntax errors: exactly one problem, at the right line:column (1-based; columns count
// code points; a UTF-8 byte order mark is not counted).

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config_test_support.hpp"

namespace tetherd::config {
namespace {

using testing::problems_of;

struct SyntaxCase {
  const char* name;
  std::string text;
  std::string expected;
};

TEST_CASE("JSON syntax errors are reported alone with their exact line and column") {
  const std::vector<SyntaxCase> cases = {
      {"empty file", "", "t.json:1:1: the file is empty; expected a JSON value"},
      {"whitespace only", " \n  ", "t.json:2:3: the file is empty; expected a JSON value"},
      {"trailing comma in array", R"({"rules": [1, 2,]})",
       "t.json:1:17: unexpected ']' after ','; a trailing comma is not allowed in JSON"},
      {"trailing comma in object", "{\"rules\": [],\n}",
       "t.json:2:1: unexpected '}' after ','; a trailing comma is not allowed in JSON"},
      {"unclosed object", R"({"rules": [])",
       "t.json:1:13: unexpected end of file; expected ',' or '}' (object not closed)"},
      {"unclosed array", "{\"rules\": [\n  1",
       "t.json:2:4: unexpected end of file; expected ',' or ']' (array not closed)"},
      {"missing colon", R"({"a" 1})", "t.json:1:6: unexpected '1'; expected ':' after the key"},
      {"missing comma", "{\"a\": 1\n \"b\": 2}",
       "t.json:2:2: unexpected '\"'; expected ',' or '}' after an object member"},
      {"single-quoted key", "{'a': 1}",
       "t.json:1:2: keys must use double quotes (\"), not single quotes"},
      {"single-quoted value", "{\"a\": 'x'}",
       "t.json:1:7: strings must use double quotes (\"), not single quotes"},
      {"unquoted key", "{rules: []}",
       "t.json:1:2: unexpected 'r'; expected a key in double quotes"},
      {"bad literal", R"({"a": tru})",
       "t.json:1:7: invalid literal; expected a value (true, false, null, a number, a string, an "
       "array or an object)"},
      {"literal with trailing letters", R"({"a": nullx})",
       "t.json:1:7: invalid literal; expected a value (true, false, null, a number, a string, an "
       "array or an object)"},
      {"leading zero", R"({"a": 01})", "t.json:1:7: invalid number: leading zeros are not allowed"},
      {"bare minus", R"({"a": -})", "t.json:1:7: invalid number"},
      {"fraction without digits", R"({"a": 1.})", "t.json:1:7: invalid number"},
      {"exponent without digits", R"({"a": 1e+})", "t.json:1:7: invalid number"},
      {"invalid escape", R"({"a": "x\qy"})",
       "t.json:1:9: invalid escape sequence '\\q' (a Windows path needs '\\\\' or '/')"},
      {"short unicode escape", R"({"a": "\u12"})",
       "t.json:1:12: invalid \\u escape: expected 4 hexadecimal digits"},
      {"lone low surrogate", R"({"a": "x\uDC00"})",
       "t.json:1:9: invalid \\u escape: unpaired low surrogate"},
      {"high surrogate alone", R"({"a": "\uD800x"})",
       "t.json:1:8: invalid \\u escape: high surrogate not followed by a low one"},
      {"escaped NUL", R"({"a": "\u0000"})",
       "t.json:1:8: a NUL character (\\u0000) is not allowed in strings"},
      {"unterminated string", R"({"a": "abc)", "t.json:1:7: unterminated string (no closing '\"')"},
      {"line break in string", "{\"a\": \"abc\n\"}",
       "t.json:1:7: unterminated string (line break before the closing '\"')"},
      {"raw tab in string", "{\"a\": \"a\tb\"}",
       "t.json:1:9: control character byte 0x09 in a string must be escaped"},
      {"content after the value", "{} x",
       "t.json:1:4: unexpected 'x' after the end of the JSON value"},
      {"two documents", "{}\n{}", "t.json:2:1: unexpected '{' after the end of the JSON value"},
      {"line comment", "{\"rules\": []} // note", "t.json:1:15: comments are not allowed in JSON"},
      {"block comment", "{\n  /* note */\n}", "t.json:2:3: comments are not allowed in JSON"},
      {"error deep inside nested arrays", "{\n  \"rules\": [\n    [1, [2,\n      [3, @]]]\n  ]\n}",
       "t.json:4:11: unexpected '@'; expected a value"},
      {"columns count code points, not bytes", "{\"é\": \"ü€😀\", x}",
       "t.json:1:14: unexpected 'x'; expected a key in double quotes"},
      {"byte order mark is skipped and not counted", "\xEF\xBB\xBF{ x",
       "t.json:1:3: unexpected 'x'; expected a key in double quotes"},
      {"UTF-16 byte order mark", "\xFF\xFE{\0}",
       "t.json:1:1: the file is UTF-16 encoded; save it as UTF-8"},
      {"invalid UTF-8 byte", "{\"a\": \"\xFF\"}",
       "t.json:1:8: invalid UTF-8 (byte 0xFF); the file must be UTF-8 encoded"},
      {"overlong UTF-8", "{\"a\": \"\xC0\xAF\"}",
       "t.json:1:8: invalid UTF-8 (byte 0xC0); the file must be UTF-8 encoded"},
      {"UTF-8 surrogate", "{\"a\": \"\xED\xA0\x80\"}",
       "t.json:1:8: invalid UTF-8 (byte 0xED starts a malformed sequence); the file must be UTF-8 "
       "encoded"},
      {"truncated UTF-8", "{\"a\": \"\xE2\x82",
       "t.json:1:8: invalid UTF-8 (truncated sequence); the file must be UTF-8 encoded"},
      {"NUL byte outside strings", std::string("{\0}", 3),
       "t.json:1:2: unexpected byte 0x00; expected a key in double quotes"},
  };
  for (const SyntaxCase& test : cases) {
    CAPTURE(test.name);
    CHECK(problems_of(test.text) == test.expected + "\n");
  }
}

TEST_CASE("deep nesting is refused with a clear error, without exhausting the stack") {
  const std::string arrays(200000, '[');
  CHECK(problems_of(arrays) == "t.json:1:65: nesting is deeper than 64 levels\n");

  std::string objects;
  for (int i = 0; i < 100000; ++i)
    objects += "{\"a\":\n";
  CHECK(problems_of(objects) == "t.json:65:1: nesting is deeper than 64 levels\n");

  // 64 levels are fine as JSON (the config then complains about the structure, not syntax).
  const std::string deepest = "{\"rules\": " + std::string(63, '[') + std::string(63, ']') + "}";
  CHECK(problems_of(deepest) == "t.json:1:12: rules[0]: expected an object, got an array\n");
}

TEST_CASE("a config larger than the limit is refused, by parse_config and load_config") {
  const std::string huge = "{\"rules\": [], \"x\": \"" + std::string(max_config_bytes, 'a') + "\"}";
  CHECK(problems_of(huge) == "t.json: the config is " + std::to_string(huge.size()) +
                                 " bytes long; the limit is " + std::to_string(max_config_bytes) +
                                 "\n");
  testing::ScratchDir scratch;
  const auto file = scratch.write("huge.json", huge);
  const ConfigResult result = load_config(file);
  CHECK_FALSE(result.unreadable);
  REQUIRE(result.problems.size() == 1);
  CHECK(result.problems[0].to_string() == file.string() + ": the config file is larger than " +
                                              std::to_string(max_config_bytes) +
                                              " bytes; a config is a few kilobytes");
}

}  // namespace
}  // namespace tetherd::config
