// PurePath accessors, derived paths (with_*, parent, relative_to) and comparisons.
#include <algorithm>

#include "pure_path_internal.hpp"

namespace tetherd::core {

namespace {

char separator(PathFlavour flavour) noexcept {
  return flavour == PathFlavour::windows ? '\\' : '/';
}

// Python's repr() of a str is not reproduced; messages quote the path text plainly.
std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

// Windows equality: str().lower() equal, without allocating for ASCII text.
bool windows_equal(std::string_view a, std::string_view b) {
  if (path_detail::is_ascii(a) && path_detail::is_ascii(b)) {
    if (a.size() != b.size()) {
      return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      char x = a[i];
      char y = b[i];
      x = (x >= 'A' && x <= 'Z') ? static_cast<char>(x + 32) : x;
      y = (y >= 'A' && y <= 'Z') ? static_cast<char>(y + 32) : y;
      if (x != y) {
        return false;
      }
    }
    return true;
  }
  return path_detail::python_lower(a) == path_detail::python_lower(b);
}

bool text_equal(PathFlavour flavour, std::string_view a, std::string_view b) {
  return flavour == PathFlavour::posix ? a == b : windows_equal(a, b);
}

}  // namespace

std::string PurePath::str() const {
  return text_.empty() ? std::string(".") : text_;
}

std::string PurePath::drive() const {
  return text_.substr(0, drive_size_);
}

std::string PurePath::root() const {
  return text_.substr(drive_size_, root_size_);
}

std::string PurePath::anchor() const {
  return text_.substr(0, drive_size_ + root_size_);
}

std::vector<std::string> PurePath::names() const {
  std::vector<std::string> out;
  out.reserve(tail_.size());
  for (std::size_t i = 0; i < tail_.size(); ++i) {
    out.emplace_back(tail_at(i));
  }
  return out;
}

std::vector<std::string> PurePath::parts() const {
  std::vector<std::string> out;
  out.reserve(tail_.size() + 1);
  if (drive_size_ + root_size_ != 0) {
    out.push_back(anchor());
  }
  for (std::size_t i = 0; i < tail_.size(); ++i) {
    out.emplace_back(tail_at(i));
  }
  return out;
}

PurePath PurePath::parent() const {
  if (tail_.empty()) {
    return *this;
  }
  PurePath path = *this;
  path.tail_.pop_back();
  if (path.tail_.empty()) {
    // Only the anchor is left (this also drops the ".\" shown before a drive-like name).
    path.text_.resize(drive_size_ + root_size_);
  } else {
    path.text_.resize(path.tail_.back().offset + path.tail_.back().size);
  }
  return path;
}

std::vector<PurePath> PurePath::parents() const {
  std::vector<PurePath> out;
  out.reserve(tail_.size());
  PurePath current = *this;
  while (!current.tail_.empty()) {
    current = current.parent();
    out.push_back(current);
  }
  return out;
}

std::string PurePath::name() const {
  return tail_.empty() ? std::string() : std::string(tail_at(tail_.size() - 1));
}

std::string PurePath::stem() const {
  std::string name_text = name();
  const std::size_t dot = name_text.rfind('.');
  if (dot != std::string::npos && dot > 0 && dot + 1 < name_text.size()) {
    name_text.resize(dot);
  }
  return name_text;
}

std::string PurePath::suffix() const {
  const std::string name_text = name();
  const std::size_t dot = name_text.rfind('.');
  if (dot != std::string::npos && dot > 0 && dot + 1 < name_text.size()) {
    return name_text.substr(dot);
  }
  return {};
}

std::vector<std::string> PurePath::suffixes() const {
  std::vector<std::string> out;
  const std::string name_text = name();
  if (name_text.empty() || name_text.back() == '.') {
    return out;
  }
  std::size_t at = name_text.find_first_not_of('.');
  if (at == std::string::npos) {
    return out;
  }
  at = name_text.find('.', at);
  while (at != std::string::npos) {
    const std::size_t next = name_text.find('.', at + 1);
    out.push_back(name_text.substr(at, next == std::string::npos ? next : next - at));
    at = next;
  }
  return out;
}

PurePath PurePath::with_name(std::string_view new_name) const {
  const bool has_separator =
      new_name.find(separator(flavour_)) != std::string_view::npos ||
      (flavour_ == PathFlavour::windows && new_name.find('/') != std::string_view::npos);
  if (new_name.empty() || has_separator || new_name == ".") {
    throw PathError("invalid name " + quoted(new_name));
  }
  if (tail_.empty()) {
    throw PathError("path " + quoted(str()) + " has an empty name");
  }
  std::vector<std::string_view> names;
  names.reserve(tail_.size());
  for (std::size_t i = 0; i + 1 < tail_.size(); ++i) {
    names.push_back(tail_at(i));
  }
  names.push_back(new_name);
  const std::string_view text = text_;
  return from_parts(flavour_, text.substr(0, drive_size_), text.substr(drive_size_, root_size_),
                    names);
}

PurePath PurePath::with_stem(std::string_view new_stem) const {
  const std::string old_suffix = suffix();
  if (old_suffix.empty()) {
    return with_name(new_stem);
  }
  if (new_stem.empty()) {
    throw PathError("path " + quoted(str()) + " has a non-empty suffix");
  }
  std::string new_name(new_stem);
  new_name.append(old_suffix);
  return with_name(new_name);
}

PurePath PurePath::with_suffix(std::string_view new_suffix) const {
  std::string new_name = stem();
  if (new_name.empty()) {
    throw PathError("path " + quoted(str()) + " has an empty name");
  }
  if (!new_suffix.empty() && !(new_suffix.front() == '.' && new_suffix.size() > 1)) {
    throw PathError("invalid suffix " + quoted(new_suffix));
  }
  new_name.append(new_suffix);
  return with_name(new_name);
}

std::string_view PurePath::prefix_text(std::size_t count) const noexcept {
  const std::string_view text = text_;
  return count == 0 ? text.substr(0, drive_size_ + root_size_)
                    : text.substr(0, tail_[count - 1].offset + tail_[count - 1].size);
}

// True when `ancestor` equals this path cut to ancestor.name_count() names. Equal
// paths have equal name counts, so this is pathlib's `ancestor == self or ancestor in
// self.parents`.
bool PurePath::same_anchor_and_prefix(const PurePath& ancestor) const {
  return ancestor.flavour_ == flavour_ && ancestor.tail_.size() <= tail_.size() &&
         text_equal(flavour_, prefix_text(ancestor.tail_.size()), ancestor.text_);
}

PurePath PurePath::relative_to(const PurePath& other, bool walk_up) const {
  // pathlib walks `other` and then its parents; the parents are prefixes of its text,
  // so no path is built until a match is found.
  const std::size_t other_depth = other.tail_.size();
  for (std::size_t step = 0; step <= other_depth; ++step) {
    const std::size_t depth = other_depth - step;
    if (other.flavour_ == flavour_ && depth <= tail_.size() &&
        text_equal(flavour_, prefix_text(depth), other.prefix_text(depth))) {
      std::vector<std::string_view> names(step, std::string_view(".."));
      for (std::size_t i = depth; i < tail_.size(); ++i) {
        names.push_back(tail_at(i));
      }
      return from_parts(flavour_, {}, {}, names);
    }
    if (!walk_up) {
      throw PathError(quoted(str()) + " is not in the subpath of " + quoted(other.str()));
    }
    if (depth > 0 && other.tail_at(depth - 1) == "..") {
      throw PathError("'..' segment in " + quoted(other.str()) + " cannot be walked");
    }
  }
  throw PathError(quoted(str()) + " and " + quoted(other.str()) + " have different anchors");
}

PurePath PurePath::relative_to(std::string_view other, bool walk_up) const {
  return relative_to(PurePath(flavour_, other), walk_up);
}

bool PurePath::is_relative_to(const PurePath& other) const {
  return same_anchor_and_prefix(other);
}

bool PurePath::is_relative_to(std::string_view other) const {
  return is_relative_to(PurePath(flavour_, other));
}

std::string PurePath::as_posix() const {
  std::string out = str();
  if (flavour_ == PathFlavour::windows) {
    std::replace(out.begin(), out.end(), '\\', '/');
  }
  return out;
}

std::string PurePath::normcase() const {
  return flavour_ == PathFlavour::windows ? path_detail::python_lower(text_) : text_;
}

bool operator==(const PurePath& left, const PurePath& right) {
  return left.flavour_ == right.flavour_ && text_equal(left.flavour_, left.text_, right.text_);
}

std::strong_ordering operator<=>(const PurePath& left, const PurePath& right) {
  if (left.flavour_ != right.flavour_) {
    return left.flavour_ < right.flavour_ ? std::strong_ordering::less
                                          : std::strong_ordering::greater;
  }
  // pathlib compares str().split(sep) lists of (lower-cased) strings by code point. That
  // is the order of the code point sequences with the separator ranked below every
  // character.
  const std::string a = left.text_.empty() ? std::string(".") : left.normcase();
  const std::string b = right.text_.empty() ? std::string(".") : right.normcase();
  const char sep = separator(left.flavour_);
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    const path_detail::Decoded x = path_detail::decode_utf8(a, i);
    const path_detail::Decoded y = path_detail::decode_utf8(b, j);
    const long long rank_x =
        x.code == static_cast<char32_t>(sep) ? -1LL : static_cast<long long>(x.code);
    const long long rank_y =
        y.code == static_cast<char32_t>(sep) ? -1LL : static_cast<long long>(y.code);
    if (rank_x != rank_y) {
      return rank_x < rank_y ? std::strong_ordering::less : std::strong_ordering::greater;
    }
    i += x.length;
    j += y.length;
  }
  if (i < a.size()) {
    return std::strong_ordering::greater;
  }
  if (j < b.size()) {
    return std::strong_ordering::less;
  }
  return std::strong_ordering::equal;
}

std::size_t PurePath::hash() const noexcept {
  // FNV-1a over the case-normalized text, seeded by flavour. Windows text that is not
  // ASCII needs python_lower(), which allocates; hash() is noexcept, so if that fails
  // the hash is the flavour seed alone.
  std::uint64_t value = 1469598103934665603ULL ^ static_cast<std::uint64_t>(flavour_);
  const auto mix = [&value](unsigned char byte) {
    value ^= byte;
    value *= 1099511628211ULL;
  };
  if (flavour_ == PathFlavour::posix || path_detail::is_ascii(text_)) {
    for (const char c : text_) {
      auto byte = static_cast<unsigned char>(c);
      if (flavour_ == PathFlavour::windows && byte >= 'A' && byte <= 'Z') {
        byte = static_cast<unsigned char>(byte + 32);
      }
      mix(byte);
    }
    return static_cast<std::size_t>(value);
  }
  std::string lowered;
  try {
    lowered = path_detail::python_lower(text_);
  } catch (...) {
    return static_cast<std::size_t>(value);
  }
  for (const char c : lowered) {
    mix(static_cast<unsigned char>(c));
  }
  return static_cast<std::size_t>(value);
}

}  // namespace tetherd::core
