#include "tetherd/core/store_key.hpp"

#include <cstdio>

namespace tetherd::core {

namespace {
StoreError invalid(std::string_view text, std::string why) {
  StoreError error = StoreError::make(Errc::InvalidPath, std::move(why));
  error.key = printable(text);
  return error;
}
}  // namespace

std::string printable(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return out;
}

Result<StoreKey> StoreKey::parse(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return invalid(text, "key contains a NUL byte");
  }
  std::string normalized;
  normalized.reserve(text.size());
  std::size_t position = 0;
  while (position <= text.size()) {
    std::size_t end = text.find('/', position);
    if (end == std::string_view::npos) end = text.size();
    std::string_view segment = text.substr(position, end - position);
    position = end + 1;
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") return invalid(text, "key contains a '..' segment");
    if (segment.size() > kMaxSegmentBytes) {
      return invalid(text, "key segment longer than 255 bytes");
    }
    if (!normalized.empty()) normalized += '/';
    normalized += segment;
  }
  return StoreKey(std::move(normalized));
}

Result<StoreKey> StoreKey::parse_file(std::string_view text) {
  auto key = parse(text);
  if (key && key->is_root()) {
    return invalid(text, "key names the store root, a file name is required");
  }
  return key;
}

std::vector<std::string_view> StoreKey::segments() const {
  std::vector<std::string_view> parts;
  any_segment([&parts](std::string_view segment) {
    parts.push_back(segment);
    return false;
  });
  return parts;
}

std::size_t StoreKey::depth() const noexcept {
  if (text_.empty()) return 0;
  std::size_t count = 1;
  for (char c : text_)
    count += c == '/' ? 1 : 0;
  return count;
}

std::string_view StoreKey::name() const noexcept {
  auto slash = text_.rfind('/');
  if (slash == std::string::npos) return text_;
  return std::string_view(text_).substr(slash + 1);
}

StoreKey StoreKey::parent() const {
  return StoreKey(std::string(parent_str()));
}

std::string_view StoreKey::parent_str() const noexcept {
  const auto slash = text_.rfind('/');
  if (slash == std::string::npos) return {};
  return std::string_view(text_).substr(0, slash);
}

Result<StoreKey> StoreKey::join(std::string_view relative) const {
  auto tail = parse(relative);
  if (!tail) return tail;
  return join(*tail);
}

StoreKey StoreKey::join(const StoreKey& relative) const {
  if (text_.empty()) return relative;
  if (relative.text_.empty()) return *this;
  return StoreKey(text_ + '/' + relative.text_);
}

bool StoreKey::is_within(const StoreKey& ancestor) const noexcept {
  if (ancestor.text_.empty()) return true;
  if (text_.size() < ancestor.text_.size()) return false;
  if (text_.compare(0, ancestor.text_.size(), ancestor.text_) != 0) return false;
  return text_.size() == ancestor.text_.size() || text_[ancestor.text_.size()] == '/';
}

StoreKey StoreKey::relative_to(const StoreKey& ancestor) const {
  if (ancestor.text_.empty()) return *this;
  if (!is_within(ancestor) || text_.size() == ancestor.text_.size()) return {};
  return StoreKey(text_.substr(ancestor.text_.size() + 1));
}

std::strong_ordering operator<=>(const StoreKey& a, const StoreKey& b) noexcept {
  // '/' sorts below every byte a segment can hold (NUL is refused), so comparing with
  // '/' mapped to 0 is exactly a segment-by-segment comparison.
  const std::string& left = a.text_;
  const std::string& right = b.text_;
  std::size_t common = left.size() < right.size() ? left.size() : right.size();
  for (std::size_t i = 0; i < common; ++i) {
    unsigned l = left[i] == '/' ? 0u : static_cast<unsigned char>(left[i]);
    unsigned r = right[i] == '/' ? 0u : static_cast<unsigned char>(right[i]);
    if (l != r) return l < r ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  return left.size() <=> right.size();
}

}  // namespace tetherd::core
