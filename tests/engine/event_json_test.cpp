// Event::to_json writes its line by hand: every line must parse as JSON and hold exactly
// the object the fields describe (keys in first-seen order, a repeated key's last value),
// whatever the strings contain.

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "tetherd/engine/event.hpp"

using tetherd::daemon::Event;
using tetherd::daemon::EventLevel;
using Json = nlohmann::ordered_json;

namespace {

Json parsed(const Event& event) {
  const std::string line = event.to_json();
  CAPTURE(line);
  CHECK(line.find('\n') == std::string::npos);
  return Json::parse(line);  // throws, failing the test, on anything but valid JSON
}

std::vector<std::string> keys_of(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& item : object.items())
    keys.push_back(item.key());
  return keys;
}

}  // namespace

TEST_CASE("an action line parses to its fields, in order") {
  Event event(EventLevel::info, "copy");
  event.rule("photos").store("/srv/mirror").path("a/b.jpg").result("ok").bytes(4096);
  event.duration(std::chrono::microseconds(17250));
  const Json line = parsed(event);
  CHECK(keys_of(line) == std::vector<std::string>{"ts", "level", "event", "rule", "store", "path",
                                                  "result", "bytes", "duration_ms"});
  CHECK(line["level"] == "info");
  CHECK(line["event"] == "copy");
  CHECK(line["path"] == "a/b.jpg");
  CHECK(line["bytes"] == 4096);
  CHECK(line["duration_ms"].is_number_float());
  CHECK(line["duration_ms"].get<double>() == doctest::Approx(17.25));
  const std::string ts = line["ts"];
  CHECK(ts.size() == 24);  // 2026-12-02T15:45:21.013Z
  CHECK(ts.back() == 'Z');
}

TEST_CASE("strings with quotes, backslashes and control characters round-trip") {
  std::string nasty = "quote\" back\\slash / tab\t nl\n cr\r bs\b ff\f";
  nasty += std::string(1, '\0');
  nasty += "\x01\x1f\x7f é ✓";
  Event event(EventLevel::warn, "error");
  event.message(nasty).path(nasty);
  const Json line = parsed(event);
  CHECK(line["message"] == nasty);
  CHECK(line["path"] == nasty);
  CHECK_FALSE(line.contains("path_base64"));  // valid UTF-8: no exact copy needed
}

TEST_CASE("a path that is not UTF-8 keeps the line valid and its bytes in base64") {
  Event event(EventLevel::info, "copy");
  event.path(std::string("bad\xff\xfename"));
  const Json line = parsed(event);
  CHECK(line["path"] == "bad\xef\xbf\xbd\xef\xbf\xbdname");
  REQUIRE(line.contains("path_base64"));
  CHECK(line["path_base64"] == "YmFk//5uYW1l");
}

TEST_CASE("numbers: integers, whole and tiny reals, non-finite reals, flags") {
  Event event(EventLevel::debug, "numbers");
  event.number("big", std::numeric_limits<std::int64_t>::max())
      .number("negative", -42)
      .real("whole", 17.0)
      .real("tiny", 1e-7)
      .real("huge", 1.5e300)
      .real("nan", std::nan(""))
      .flag("yes", true)
      .flag("no", false);
  const Json line = parsed(event);
  CHECK(line["big"] == std::numeric_limits<std::int64_t>::max());
  CHECK(line["negative"] == -42);
  CHECK(line["whole"].is_number_float());
  CHECK(line["whole"].get<double>() == 17.0);
  CHECK(line["tiny"].get<double>() == 1e-7);
  CHECK(line["huge"].get<double>() == 1.5e300);
  CHECK(line["nan"].is_null());
  CHECK(line["yes"] == true);
  CHECK(line["no"] == false);
}

TEST_CASE("a repeated key keeps its first place and its last value") {
  Event event(EventLevel::info, "x");
  event.text("a", "1").number("b", 2).text("a", "3").text("event", "renamed");
  const Json line = parsed(event);
  CHECK(keys_of(line) == std::vector<std::string>{"ts", "level", "event", "a", "b"});
  CHECK(line["a"] == "3");
  CHECK(line["event"] == "renamed");
}
