// The reorder buffer of S3 listings (the reasoning: s3_list_order.hpp).

#include "s3_list_order.hpp"

#include <algorithm>
#include <utility>

namespace tetherd::stores::s3 {

using core::EntryInfo;
using core::EntryType;
using core::StoreKey;

namespace {

/// Whether `text` begins with `dir` + "/".
bool begins_below(std::string_view text, std::string_view dir) {
  return text.size() > dir.size() && text.starts_with(dir) && text[dir.size()] == '/';
}

/// Whether byte `c` sorts before '/' (0x01-0x2E; keys hold no NUL).
bool below_slash(char c) {
  return static_cast<unsigned char>(c) < static_cast<unsigned char>('/');
}

}  // namespace

ListOrder::ListOrder(bool recursive, std::size_t bound)
    : recursive_(recursive), bound_(std::max<std::size_t>(1, bound)) {}

void ListOrder::add(EntryInfo entry) {
  if (last_ && !(*last_ < entry.key)) return;  // released already (a parent named again)
  if (entry.type == EntryType::File) {
    auto key = entry.key;
    held_.insert_or_assign(std::move(key), std::move(entry));  // a file wins over a marker
  } else {
    auto key = entry.key;
    held_.emplace(std::move(key), std::move(entry));
  }
}

void ListOrder::add_directory(const StoreKey& key) {
  if (key.is_root()) return;
  EntryInfo info;
  info.key = key;
  info.type = EntryType::Directory;
  add(std::move(info));
}

void ListOrder::add_object(std::string_view relative, std::uint64_t size,
                           std::optional<core::TimePoint> mtime,
                           std::optional<std::uint32_t> mode) {
  const bool marker = relative.empty() || relative.back() == '/';
  if (marker && !relative.empty()) relative.remove_suffix(1);
  if (relative.empty()) return;  // the directory's own marker
  auto parsed = StoreKey::parse(relative);
  if (!parsed || parsed->str() != relative) return;  // no StoreKey names it
  if (!recursive_) {
    // Delimited: the server rolls keys below a '/' into common prefixes; be safe anyway.
    if (relative.find('/') != std::string_view::npos) return;
  } else {
    for (auto parent = parsed->parent(); !parent.is_root(); parent = parent.parent())
      add_directory(parent);
  }
  if (marker) return add_directory(*parsed);
  EntryInfo info;
  info.key = std::move(*parsed);
  info.type = EntryType::File;
  info.size = size;
  info.mtime = mtime;
  info.mode = mode;
  add(std::move(info));
}

void ListOrder::add_common_prefix(std::string_view relative) {
  if (relative.empty() || relative.back() != '/') return;
  relative.remove_suffix(1);
  if (relative.empty() || relative.find('/') != std::string_view::npos) return;
  auto parsed = StoreKey::parse(relative);
  if (!parsed || parsed->str() != relative) return;
  add_directory(*parsed);
}

void ListOrder::advance(std::string_view position, bool rolled) {
  position_.assign(position);
  rolled_ = rolled;
  // Proven-empty prefixes whose range the position has left are no longer needed.
  std::erase_if(not_directories_, [this](const std::string& dir) { return passed(dir); });
  release();
}

void ListOrder::end() {
  ended_ = true;
  not_directories_.clear();
  release();
}

void ListOrder::resolve(const std::string& dir, bool exists) {
  if (exists) {
    directories_.insert(dir);
  } else {
    not_directories_.insert(dir);
  }
  release();
}

bool ListOrder::passed(std::string_view dir) const {
  if (ended_) return true;
  if (rolled_) {
    // Every key beginning with position_ is in; if dir + "/" begins with it, so are they.
    if (dir.size() + 1 >= position_.size() &&
        (dir.starts_with(position_) ||
         (dir.size() + 1 == position_.size() && begins_below(position_, dir))))
      return true;
  }
  if (begins_below(position_, dir)) return false;  // inside the range
  // Past the range: position_ > dir + "/" (it does not begin with it, see above).
  const std::string_view head(position_.data(), std::min(position_.size(), dir.size()));
  if (head != dir) return head > dir;
  // position_ begins with dir (or is a prefix of it).
  if (position_.size() <= dir.size()) return false;  // at or before dir itself
  return static_cast<unsigned char>(position_[dir.size()]) > static_cast<unsigned char>('/');
}

std::optional<std::string_view> ListOrder::blocker(std::string_view key) const {
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (!below_slash(key[i])) continue;
    const std::string_view dir = key.substr(0, i);
    // Keys beginning with "" + "/" or "x/" + "/" name no StoreKey: no entry comes from them.
    if (dir.empty() || dir.back() == '/') continue;
    if (passed(dir)) return std::nullopt;  // and every longer one (see the header)
    if (not_directories_.count(dir)) continue;
    return dir;
  }
  return std::nullopt;
}

void ListOrder::release() {
  while (!held_.empty()) {
    auto first = held_.begin();
    if (blocker(first->first.str())) return;
    last_ = first->first;
    ready_.push_back(std::move(first->second));
    held_.erase(first);
  }
}

ListOrder::Step ListOrder::next_step(std::size_t batch) const {
  batch = std::max<std::size_t>(1, batch);
  const std::size_t in_memory = ready_.size() + held_.size();
  if (ended_ || ready_.size() >= batch) return {Step::Kind::Deliver, {}};
  if (in_memory < bound_) return {Step::Kind::Fetch, {}};
  // At the bound: hand out what is ready rather than fetch more.
  if (!ready_.empty()) return {Step::Kind::Deliver, {}};
  // Nothing ready, the bound reached: the first held entry is blocked. If we do not know
  // what holds it back, ask; a directory found there is the one case memory grows.
  auto dir = blocker(held_.begin()->first.str());
  if (dir && !directories_.count(*dir)) return {Step::Kind::Probe, std::string(*dir)};
  return {Step::Kind::Fetch, {}};
}

std::vector<EntryInfo> ListOrder::take(std::size_t most) {
  std::vector<EntryInfo> out;
  const std::size_t count = std::min(most, ready_.size());
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  return out;
}

}  // namespace tetherd::stores::s3
