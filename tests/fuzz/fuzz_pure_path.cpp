// libFuzzer target for tetherd::core::PurePath: parses arbitrary bytes as POSIX and
// Windows paths, runs every accessor and operation, and checks the invariants pathlib
// guarantees. Any crash, sanitizer report or failed invariant (abort) is a bug.
#include <fuzzer/FuzzedDataProvider.h>

#include <compare>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tetherd/core/pure_path.hpp"

namespace {

using tetherd::core::PathError;
using tetherd::core::PathFlavour;
using tetherd::core::PurePath;

// The path being checked, named in the failure report.
std::string current_path;  // NOLINT: one fuzzing thread

void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant failed: %s (path: %s)\n", what, current_path.c_str());
    std::abort();
  }
}

std::strong_ordering reverse(std::strong_ordering order) {
  if (order < 0) {
    return std::strong_ordering::greater;
  }
  if (order > 0) {
    return std::strong_ordering::less;
  }
  return std::strong_ordering::equal;
}

// A name (no separators) that a Windows path would read as a drive ("c:x").
bool drive_like(const std::string& name) {
  return !PurePath::windows(name).drive().empty();
}

void check_path(const PurePath& path) {
  const PathFlavour flavour = path.flavour();
  const std::string text = path.str();
  current_path = (flavour == PathFlavour::windows ? "windows " : "posix ") + text;
  // str() parses back to the same path.
  const PurePath reparsed(flavour, text);
  require(reparsed == path && reparsed.str() == text, "re-parsing str() gives an equal path");
  require(reparsed.hash() == path.hash(), "equal paths hash equal");
  require((reparsed <=> path) == std::strong_ordering::equal, "equal paths order equal");

  // parts() joined back give the path (a drive-like first name needs its ".\").
  const std::vector<std::string> parts = path.parts();
  const std::vector<std::string> names = path.names();
  require(parts.size() == names.size() + (path.anchor().empty() ? 0 : 1), "parts = anchor + names");
  // As separate segments, a name that reads as a drive ("c:x") would restart the path on
  // Windows (pathlib's PureWindowsPath(*p.parts) does the same), so those are joined
  // as text: anchor + names, with ".\\" before a drive-like first name.
  bool any_drive_like = false;
  std::string joined_text = path.anchor();
  for (std::size_t i = 0; i < names.size(); ++i) {
    any_drive_like = any_drive_like || (flavour == PathFlavour::windows && drive_like(names[i]));
    if (i == 0 && path.anchor().empty() && flavour == PathFlavour::windows &&
        drive_like(names[i])) {
      joined_text += ".\\";
    }
    if (i != 0) {
      joined_text += flavour == PathFlavour::windows ? '\\' : '/';
    }
    joined_text += names[i];
  }
  require(joined_text == path.view(), "anchor and names make up the text");
  if (!any_drive_like) {
    require(PurePath(flavour, parts) == path, "parts joined back equal the path");
  }

  require(path.drive() + path.root() == path.anchor(), "anchor = drive + root");
  const std::vector<PurePath> parents = path.parents();
  require(parents.size() == names.size(), "one parent per name");
  const PurePath parent = path.parent();
  if (names.empty()) {
    require(parent == path, "a path without names is its own parent");
  } else {
    require(parent.names().size() == names.size() - 1, "parent drops one name");
    require(parent == parents.front(), "parent is the first of parents");
    require(path.is_relative_to(parent), "a path is relative to its parent");
    const PurePath last = path.relative_to(parent);
    require(last.anchor().empty() && last.names() == std::vector<std::string>{names.back()},
            "relative_to(parent) is the last name");
    require(path.name() == names.back(), "name is the last name");
  }
  const std::string name = path.name();
  const std::string stem = path.stem();
  const std::string suffix = path.suffix();
  require(stem + suffix == name, "stem + suffix = name");
  std::string all_suffixes;
  for (const auto& one : path.suffixes()) {
    require(!one.empty() && one.front() == '.', "suffixes start with a dot");
    all_suffixes += one;
  }
  require(name.size() >= all_suffixes.size(), "suffixes fit in the name");
  (void)path.as_posix();
  (void)path.is_reserved();
  try {
    const std::string uri = path.as_uri();
    require(path.is_absolute() && uri.rfind("file:", 0) == 0, "as_uri of an absolute path");
  } catch (const PathError&) {
    require(!path.is_absolute(), "as_uri fails only for relative paths");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const PathFlavour flavour = input.ConsumeBool() ? PathFlavour::windows : PathFlavour::posix;
  const std::string first = input.ConsumeRandomLengthString(512);
  const std::string second = input.ConsumeRandomLengthString(512);
  const std::string argument = input.ConsumeRandomLengthString(64);
  const std::string pattern = input.ConsumeRandomLengthString(128);
  const std::string rest = input.ConsumeRemainingBytesAsString();

  const PurePath path(flavour, first);
  const PurePath other(flavour, second);
  const PurePath joined(flavour, {first, second, rest});
  const PurePath posix_view = PurePath::posix(first);
  const PurePath windows_view = PurePath::windows(first);
  for (const PurePath* each : {&path, &other, &joined, &posix_view, &windows_view}) {
    check_path(*each);
  }
  require(joined == PurePath(flavour, std::vector<std::string>{first, second, rest}),
          "initializer_list and vector constructors agree");
  require(posix_view != windows_view, "flavours never compare equal");
  require((path <=> other) == reverse(other <=> path), "ordering is antisymmetric");
  if (path == other) {
    require(path.hash() == other.hash(), "equal paths hash equal");
  }

  (void)(path / second);
  (void)path.joinpath(other);
  (void)path.joinpath(posix_view);
  for (const auto& [operation, value] : std::initializer_list<std::pair<int, std::string>>{
           {0, argument}, {1, argument}, {2, argument}}) {
    try {
      const PurePath changed = operation == 0   ? path.with_name(value)
                               : operation == 1 ? path.with_stem(value)
                                                : path.with_suffix(value);
      check_path(changed);
      if (operation == 0) {
        require(changed.name() == value, "with_name sets the name");
      }
    } catch (const PathError&) {
    }
  }
  const bool related = path.is_relative_to(other);
  try {
    const PurePath relative = path.relative_to(other);
    require(related, "relative_to succeeds only for related paths");
    check_path(relative);
    if (flavour == PathFlavour::posix) {
      require(other.joinpath(relative) == path, "other / relative_to(other) == path");
    }
  } catch (const PathError&) {
    require(!related, "relative_to fails only for unrelated paths");
  }
  try {
    check_path(path.relative_to(other, true));
  } catch (const PathError&) {
  }
  for (const bool sensitive : {false, true}) {
    try {
      (void)path.match(pattern, sensitive);
    } catch (const PathError&) {
    }
    (void)path.full_match(pattern, sensitive);
    (void)joined.full_match(pattern);
  }
  return 0;
}
