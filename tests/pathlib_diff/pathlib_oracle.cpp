// pathlib_oracle: runs PurePath over cases read from stdin and prints every property,
// for tests/pathlib_diff/pathlib_diff.py to compare with CPython's pathlib.
//
// Input, one JSON object per line (every string is hex of its bytes, so that POSIX
// names that are not UTF-8 and NUL bytes travel unchanged):
//   {"f": "posix"|"windows", "seg": [hex...], "other": [hex...], "name": hex,
//    "stem": hex, "suffix": hex, "pattern": hex, "full": hex}
// Output, one JSON object per line with the same keys as the script computes; an
// operation that throws PathError yields "!E".
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "tetherd/core/pure_path.hpp"

namespace {

using nlohmann::json;
using tetherd::core::PathError;
using tetherd::core::PathFlavour;
using tetherd::core::PurePath;

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0x0FU]);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  throw std::runtime_error("bad hex digit");
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(hex_value(hex[i]) * 16 + hex_value(hex[i + 1])));
  }
  return out;
}

json hex_list(const std::vector<std::string>& items) {
  json out = json::array();
  for (const auto& item : items) {
    out.push_back(to_hex(item));
  }
  return out;
}

template <typename F>
json guarded(F&& produce) {
  try {
    return produce();
  } catch (const PathError&) {
    return "!E";
  }
}

std::vector<std::string> segments_of(const json& list) {
  std::vector<std::string> out;
  for (const auto& item : list) {
    out.push_back(from_hex(item.get<std::string>()));
  }
  return out;
}

json run_case(const json& input) {
  const PathFlavour flavour =
      input.at("f").get<std::string>() == "windows" ? PathFlavour::windows : PathFlavour::posix;
  const std::vector<std::string> segments = segments_of(input.at("seg"));
  const PurePath path(flavour, segments);
  json out;
  out["str"] = to_hex(path.str());
  out["drive"] = to_hex(path.drive());
  out["root"] = to_hex(path.root());
  out["anchor"] = to_hex(path.anchor());
  out["parts"] = hex_list(path.parts());
  out["parent"] = to_hex(path.parent().str());
  std::vector<std::string> parents;
  for (const auto& parent : path.parents()) {
    parents.push_back(parent.str());
  }
  out["parents"] = hex_list(parents);
  out["name"] = to_hex(path.name());
  out["stem"] = to_hex(path.stem());
  out["suffix"] = to_hex(path.suffix());
  out["suffixes"] = hex_list(path.suffixes());
  out["as_posix"] = to_hex(path.as_posix());
  out["is_absolute"] = path.is_absolute();
  out["is_reserved"] = path.is_reserved();
  out["as_uri"] = guarded([&] { return json(to_hex(path.as_uri())); });

  // The same path built by joining one segment at a time with operator/.
  PurePath joined(flavour, segments.empty() ? std::string() : segments.front());
  for (std::size_t i = 1; i < segments.size(); ++i) {
    joined = joined / segments[i];
  }
  out["join"] = to_hex(joined.str());
  // Invariants pathlib guarantees: str() parses back to an equal path, parts join back.
  const PurePath reparsed(flavour, path.str());
  const PurePath from_parts(flavour, path.parts());
  out["reparse_eq"] = reparsed == path && reparsed.str() == path.str();
  out["parts_eq"] = from_parts == path;

  if (input.contains("name")) {
    const std::string arg = from_hex(input["name"].get<std::string>());
    out["with_name"] = guarded([&] { return json(to_hex(path.with_name(arg).str())); });
  }
  if (input.contains("stem")) {
    const std::string arg = from_hex(input["stem"].get<std::string>());
    out["with_stem"] = guarded([&] { return json(to_hex(path.with_stem(arg).str())); });
  }
  if (input.contains("suffix")) {
    const std::string arg = from_hex(input["suffix"].get<std::string>());
    out["with_suffix"] = guarded([&] { return json(to_hex(path.with_suffix(arg).str())); });
  }
  if (input.contains("other")) {
    const PurePath other(flavour, segments_of(input["other"]));
    out["relative_to"] = guarded([&] { return json(to_hex(path.relative_to(other).str())); });
    out["relative_to_walk_up"] =
        guarded([&] { return json(to_hex(path.relative_to(other, true).str())); });
    out["is_relative_to"] = path.is_relative_to(other);
    out["eq"] = path == other;
    const auto order = path <=> other;
    out["cmp"] = order < 0 ? -1 : (order > 0 ? 1 : 0);
    // Equal paths must hash equal (not comparable with Python's hash values).
    out["hash_ok"] = !(path == other) || path.hash() == other.hash();
  }
  if (input.contains("pattern")) {
    const std::string arg = from_hex(input["pattern"].get<std::string>());
    out["match"] = guarded([&] { return json(path.match(arg)); });
  }
  if (input.contains("full")) {
    const std::string arg = from_hex(input["full"].get<std::string>());
    out["full_match"] = guarded([&] { return json(path.full_match(arg)); });
  }
  return out;
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) {
      continue;
    }
    json out;
    try {
      out = run_case(json::parse(line));
    } catch (const std::exception& error) {
      // Anything but PathError is a bug the script must see, not a crash that hides
      // the remaining cases.
      out = json{{"crash", error.what()}};
    }
    std::cout << out.dump() << '\n';
  }
  return 0;
}
