// Parsing, joining and normalization: pathlib's _parse_path over os.path.join (3.12+).
#include <algorithm>
#include <array>

#include "pure_path_internal.hpp"

namespace tetherd::core {

using path_detail::RootSplit;

namespace path_detail {

bool starts_with_drive(std::string_view name) noexcept {
  if (name.empty()) {
    return false;
  }
  const std::size_t first = decode_utf8(name, 0).length;
  return name.size() > first && name[first] == ':';
}

RootSplit split_root_windows(std::string_view path) noexcept {
  // Both '\\' and '/' separate (ntpath.splitroot searches a copy with '/' replaced).
  const auto is_sep = [](char c) { return c == '\\' || c == '/'; };
  const auto find_sep = [&](std::size_t from) {
    for (std::size_t i = from; i < path.size(); ++i) {
      if (is_sep(path[i])) {
        return i;
      }
    }
    return std::string_view::npos;
  };
  if (path.empty()) {
    return {};
  }
  if (is_sep(path[0])) {
    if (path.size() < 2 || !is_sep(path[1])) {
      return {0, 1};  // "\Windows": root without drive
    }
    // UNC "\\server\share", "\\?\UNC\server\share" and device paths "\\.\dev", "\\?\dev".
    constexpr std::string_view unc_prefix = "\\\\?\\UNC\\";
    bool is_unc_prefix = path.size() >= unc_prefix.size();
    for (std::size_t i = 0; is_unc_prefix && i < unc_prefix.size(); ++i) {
      char c = path[i];
      if (c >= 'a' && c <= 'z') {
        c = static_cast<char>(c - 32);
      }
      is_unc_prefix = c == unc_prefix[i] || (unc_prefix[i] == '\\' && c == '/');
    }
    const std::size_t start = is_unc_prefix ? unc_prefix.size() : 2;
    const std::size_t index = find_sep(start);
    if (index == std::string_view::npos) {
      return {path.size(), 0};
    }
    const std::size_t index2 = find_sep(index + 1);
    if (index2 == std::string_view::npos) {
      return {path.size(), 0};
    }
    return {index2, 1};
  }
  const std::size_t first = decode_utf8(path, 0).length;
  if (path.size() > first && path[first] == ':') {
    const std::size_t drive = first + 1;
    return {drive, (path.size() > drive && is_sep(path[drive])) ? 1U : 0U};
  }
  return {};
}

}  // namespace path_detail

// Builds normalized PurePath values; a friend of PurePath.
struct PurePathBuilder {
  // pathlib's _parse_path: `raw` is one joined path string.
  static PurePath parse(PathFlavour flavour, std::string_view raw) {
    PurePath path(flavour);
    if (raw.empty()) {
      return path;
    }
    const char sep = flavour == PathFlavour::windows ? '\\' : '/';
    std::string& text = path.text_;
    text.reserve(raw.size());
    std::size_t rest = 0;  // where the relative part of raw starts
    if (flavour == PathFlavour::windows) {
      std::string normal(raw);
      std::replace(normal.begin(), normal.end(), '/', '\\');
      const RootSplit split = path_detail::split_root_windows(normal);
      std::string_view drive = std::string_view(normal).substr(0, split.drive);
      bool has_root = split.root != 0;
      if (!has_root && !drive.empty() && drive.front() == '\\' && drive.back() != '\\') {
        // A complete UNC drive ("\\server\share", "\\?\UNC\server\share") always has a
        // root; device drives ("\\?\c:", "\\.\pipe") do not.
        const auto separators = std::count(drive.begin(), drive.end(), '\\');
        if (separators == 3) {
          const std::size_t third = drive.find('\\', 2);
          const std::string_view host = drive.substr(2, third - 2);
          has_root = !(host.empty() || host == "?" || host == "." || host == "?.");
        } else if (separators == 5) {
          has_root = true;
        }
      }
      text.append(drive);
      path.drive_size_ = drive.size();
      if (has_root) {
        text.push_back('\\');
        path.root_size_ = 1;
      }
      rest = split.drive + split.root;
      append_names(path, std::string_view(normal).substr(rest), sep);
    } else {
      std::size_t slashes = 0;
      while (slashes < raw.size() && raw[slashes] == '/') {
        ++slashes;
      }
      if (slashes > 0) {
        // POSIX: exactly two leading slashes are kept, one or three or more become one.
        const std::size_t root = slashes == 2 ? 2 : 1;
        text.append(root, '/');
        path.root_size_ = root;
      }
      append_names(path, raw.substr(slashes), sep);
    }
    return path;
  }

  // Splits `rel` on `sep`, drops empty and "." names, and appends the names to `path`
  // (whose text holds the anchor so far).
  static void append_names(PurePath& path, std::string_view rel, char sep) {
    std::string& text = path.text_;
    const std::size_t anchor = text.size();
    std::size_t at = 0;
    bool first = true;
    while (at <= rel.size()) {
      std::size_t end = rel.find(sep, at);
      if (end == std::string_view::npos) {
        end = rel.size();
      }
      const std::string_view name = rel.substr(at, end - at);
      if (!name.empty() && name != ".") {
        if (first && anchor == 0 && sep == '\\' && path_detail::starts_with_drive(name)) {
          text.append(".\\");  // "c:x" as a first name must not read back as a drive
        }
        if (!first) {
          text.push_back(sep);
        }
        path.tail_.push_back({text.size(), name.size()});
        text.append(name);
        first = false;
      }
      at = end + 1;
    }
  }

  static PurePath format(PathFlavour flavour, std::string_view drive, std::string_view root,
                         const std::vector<std::string_view>& names) {
    PurePath path(flavour);
    const char sep = flavour == PathFlavour::windows ? '\\' : '/';
    std::size_t total = drive.size() + root.size() + names.size() + 2;
    for (const std::string_view name : names) {
      total += name.size();
    }
    std::string& text = path.text_;
    text.reserve(total);
    text.append(drive);
    text.append(root);
    path.drive_size_ = drive.size();
    path.root_size_ = root.size();
    path.tail_.reserve(names.size());
    if (drive.empty() && root.empty() && !names.empty() && flavour == PathFlavour::windows &&
        path_detail::starts_with_drive(names.front())) {
      text.append(".\\");
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (i != 0) {
        text.push_back(sep);
      }
      path.tail_.push_back({text.size(), names[i].size()});
      text.append(names[i]);
    }
    return path;
  }
};

namespace {

// posixpath.join
std::string join_posix(const std::string_view* segments, std::size_t count) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!segments[i].empty() && segments[i].front() == '/') {
      start = i;  // an absolute segment discards everything before it
    }
  }
  std::string joined(segments[start]);
  for (std::size_t i = start + 1; i < count; ++i) {
    if (!joined.empty() && joined.back() != '/') {
      joined.push_back('/');
    }
    joined.append(segments[i]);
  }
  return joined;
}

// ntpath.join (3.12+). Segments keep their own separators, as in Python, where drives
// are compared as written: //srv/shr and \\srv\shr count as different drives.
std::string join_windows(const std::string_view* segments, std::size_t count) {
  const auto split = [](std::string_view segment) {
    const RootSplit s = path_detail::split_root_windows(segment);
    return std::array<std::string_view, 3>{std::string_view(segment).substr(0, s.drive),
                                           std::string_view(segment).substr(s.drive, s.root),
                                           std::string_view(segment).substr(s.drive + s.root)};
  };
  auto first = split(segments[0]);
  std::string drive(first[0]);
  std::string root(first[1]);
  std::string rest(first[2]);
  for (std::size_t i = 1; i < count; ++i) {
    const auto [p_drive, p_root, p_rest] = split(segments[i]);
    if (!p_root.empty()) {
      // An anchored segment: it keeps the current drive unless it names its own.
      if (!p_drive.empty() || drive.empty()) {
        drive.assign(p_drive);
      }
      root.assign(p_root);
      rest.assign(p_rest);
      continue;
    }
    if (!p_drive.empty() && p_drive != drive) {
      if (path_detail::python_lower(p_drive) != path_detail::python_lower(drive)) {
        // Another drive: the segment replaces everything.
        drive.assign(p_drive);
        root.assign(p_root);
        rest.assign(p_rest);
        continue;
      }
      drive.assign(p_drive);  // the same drive spelled in another case
    }
    if (!rest.empty() && rest.back() != '\\' && rest.back() != '/') {
      rest.push_back('\\');
    }
    rest.append(p_rest);
  }
  std::string joined;
  joined.reserve(drive.size() + root.size() + rest.size() + 1);
  joined.append(drive);
  if (!rest.empty() && root.empty() && !drive.empty() && drive.back() != ':' &&
      drive.back() != '\\' && drive.back() != '/') {
    joined.push_back('\\');  // separator between a UNC drive and a relative path
  } else {
    joined.append(root);
  }
  joined.append(rest);
  return joined;
}

PurePath parse_segments(PathFlavour flavour, const std::string_view* segments, std::size_t count) {
  if (count == 0) {
    return PurePath(flavour);
  }
  if (count == 1) {
    return PurePathBuilder::parse(flavour, segments[0]);
  }
  if (flavour == PathFlavour::posix) {
    return PurePathBuilder::parse(flavour, join_posix(segments, count));
  }
  return PurePathBuilder::parse(flavour, join_windows(segments, count));
}

}  // namespace

PurePath::PurePath(PathFlavour flavour) noexcept : flavour_(flavour) {}

PurePath::PurePath(PathFlavour flavour, std::string_view path)
    : PurePath(PurePathBuilder::parse(flavour, path)) {}

PurePath::PurePath(PathFlavour flavour, std::initializer_list<std::string_view> segments)
    : PurePath(parse_segments(flavour, segments.begin(), segments.size())) {}

PurePath::PurePath(PathFlavour flavour, const std::vector<std::string>& segments)
    : flavour_(flavour) {
  std::vector<std::string_view> views(segments.begin(), segments.end());
  *this = parse_segments(flavour, views.data(), views.size());
}

PurePath PurePath::from_parts(PathFlavour flavour, std::string_view drive, std::string_view root,
                              const std::vector<std::string_view>& names) {
  return PurePathBuilder::format(flavour, drive, root, names);
}

PurePath PurePath::joinpath(std::string_view segment) const {
  const std::string_view segments[2] = {text_, segment};
  return parse_segments(flavour_, segments, 2);
}

PurePath PurePath::joinpath(const PurePath& other) const {
  if (other.flavour_ == PathFlavour::windows && flavour_ == PathFlavour::posix) {
    // pathlib converts a Windows path's separators when it is joined to a POSIX path.
    std::string converted = other.text_;
    std::replace(converted.begin(), converted.end(), '\\', '/');
    return joinpath(std::string_view(converted));
  }
  return joinpath(std::string_view(other.text_));
}

PurePath PurePath::joinpath(std::initializer_list<std::string_view> segments) const {
  std::vector<std::string_view> all;
  all.reserve(segments.size() + 1);
  all.push_back(text_);
  all.insert(all.end(), segments.begin(), segments.end());
  return parse_segments(flavour_, all.data(), all.size());
}

}  // namespace tetherd::core
