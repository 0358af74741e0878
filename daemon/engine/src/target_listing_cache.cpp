#include "tetherd/engine/target_listing_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace tetherd::daemon {

namespace {

using core::Errc;
using core::StoreError;

// File layout (little-endian as the host writes it; the file never leaves the machine):
//   magic "TETHLC\x01\n", u64 context length, context bytes, u64 directory count,
//   per directory: string path, i64 mtime_ns, u64 entry count, per entry: u8 type,
//   u8 flags (1 mtime, 2 mode, 4 link target), string name, u64 size, i64 mtime_ns,
//   u32 mode, string link target; then the FNV-1a 64 hash of everything before it.
// A string is a u64 length and its bytes.
constexpr std::string_view kMagic{"TETHLC\x01\n", 8};

std::uint64_t fnv1a(std::string_view bytes) noexcept {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

StoreError state_error(int error_number, const std::string& file, std::string_view what) {
  StoreError error = StoreError::make(
      Errc::IoError, std::string(what) + " " + file + ": " + std::strerror(error_number));
  error.store = "state";
  error.native_code = error_number;
  return error;
}

StoreError corrupt(const std::string& file, std::string_view why) {
  StoreError error = StoreError::make(
      Errc::IoError, "listing cache " + file + " is unusable (" + std::string(why) + ")");
  error.store = "state";
  return error;
}

class Writer {
 public:
  template <typename T>
  void put(T value) {
    out_.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  void put_string(std::string_view text) {
    put<std::uint64_t>(text.size());
    out_.append(text);
  }
  std::string& bytes() noexcept { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  bool get(T& value) {
    if (in_.size() - position_ < sizeof value) return false;
    std::memcpy(&value, in_.data() + position_, sizeof value);
    position_ += sizeof value;
    return true;
  }
  bool get_string(std::string& text) {
    std::uint64_t length = 0;
    if (!get(length) || in_.size() - position_ < length) return false;
    text.assign(in_.data() + position_, length);
    position_ += length;
    return true;
  }
  bool at_end() const noexcept { return position_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t position_ = 0;
};

std::string parent_directory(const std::string& file) {
  const auto slash = file.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : file.substr(0, slash);
}

core::Result<void> fsync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return state_error(errno, dir, "open");
  const int status = ::fsync(fd);
  const int error_number = errno;
  ::close(fd);
  if (status != 0) return state_error(error_number, dir, "fsync");
  return core::success();
}

core::Result<void> make_directories(const std::string& dir) {
  if (dir.empty() || dir == "/" || dir == ".") return core::success();
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return core::success();
    return state_error(ENOTDIR, dir, "create");
  }
  if (auto parent = make_directories(parent_directory(dir)); !parent) return parent;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return state_error(errno, dir, "create");
  return core::success();
}

}  // namespace

core::Result<TargetListingCache> TargetListingCache::load(const std::string& file,
                                                          std::string_view context) {
  TargetListingCache cache;
  // The file is used under another name while this run lasts: a crash leaves no file that
  // a later start could trust (it removes the leftover instead).
  const std::string in_use = file + ".in-use";
  if (::rename(file.c_str(), in_use.c_str()) != 0) {
    if (errno != ENOENT) return state_error(errno, file, "rename");
    if (::unlink(in_use.c_str()) != 0 && errno != ENOENT) {
      return state_error(errno, in_use, "remove");
    }
    return cache;
  }
  if (auto synced = fsync_directory(parent_directory(file)); !synced) return synced.error();
  const int fd = ::open(in_use.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return state_error(errno, in_use, "open");
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error_number = errno;
      ::close(fd);
      return state_error(error_number, file, "read");
    }
    if (got == 0) break;
    bytes.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);

  if (bytes.size() < kMagic.size() + sizeof(std::uint64_t) ||
      std::string_view(bytes).substr(0, kMagic.size()) != kMagic) {
    return corrupt(file, "not a listing cache of this version");
  }
  std::uint64_t stored_hash = 0;
  std::memcpy(&stored_hash, bytes.data() + bytes.size() - sizeof stored_hash, sizeof stored_hash);
  const std::string_view payload(bytes.data(), bytes.size() - sizeof stored_hash);
  if (fnv1a(payload) != stored_hash) return corrupt(file, "checksum mismatch: torn or damaged");

  Reader in(payload.substr(kMagic.size()));
  std::string saved_context;
  std::uint64_t count = 0;
  if (!in.get_string(saved_context)) return corrupt(file, "truncated header");
  if (saved_context != context) return cache;  // another rule, source or target: not ours
  if (!in.get(count)) return corrupt(file, "truncated header");
  for (std::uint64_t index = 0; index < count; ++index) {
    std::string path;
    Directory directory;
    std::uint64_t entries = 0;
    if (!in.get_string(path) || !in.get(directory.mtime_ns) || !in.get(entries)) {
      return corrupt(file, "truncated directory");
    }
    directory.entries.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(entries, 1 << 16)));
    for (std::uint64_t item = 0; item < entries; ++item) {
      Entry entry;
      std::uint8_t type = 0;
      std::uint8_t flags = 0;
      std::int64_t mtime_ns = 0;
      std::uint32_t mode = 0;
      std::string link;
      if (!in.get(type) || !in.get(flags) || !in.get_string(entry.name) || !in.get(entry.size) ||
          !in.get(mtime_ns) || !in.get(mode) || !in.get_string(link) ||
          type > static_cast<std::uint8_t>(core::EntryType::Other)) {
        return corrupt(file, "truncated entry");
      }
      entry.type = static_cast<core::EntryType>(type);
      if (flags & 1) entry.mtime_ns = mtime_ns;
      if (flags & 2) entry.mode = mode;
      if (flags & 4) entry.link_target = std::move(link);
      directory.entries.push_back(std::move(entry));
    }
    cache.directories_.emplace(std::move(path), std::move(directory));
  }
  if (!in.at_end()) return corrupt(file, "trailing bytes");
  return cache;
}

core::Result<void> TargetListingCache::save(const std::string& file,
                                            std::string_view context) const {
  Writer out;
  out.bytes().append(kMagic);
  out.put_string(context);
  out.put<std::uint64_t>(directories_.size());
  for (const auto& [path, directory] : directories_) {
    out.put_string(path);
    out.put<std::int64_t>(directory.mtime_ns);
    out.put<std::uint64_t>(directory.entries.size());
    for (const Entry& entry : directory.entries) {
      const std::uint8_t flags =
          (entry.mtime_ns ? 1 : 0) | (entry.mode ? 2 : 0) | (entry.link_target ? 4 : 0);
      out.put<std::uint8_t>(static_cast<std::uint8_t>(entry.type));
      out.put<std::uint8_t>(flags);
      out.put_string(entry.name);
      out.put<std::uint64_t>(entry.size);
      out.put<std::int64_t>(entry.mtime_ns.value_or(0));
      out.put<std::uint32_t>(entry.mode.value_or(0));
      out.put_string(entry.link_target ? std::string_view(*entry.link_target) : std::string_view());
    }
  }
  out.put<std::uint64_t>(fnv1a(out.bytes()));

  const std::string dir = parent_directory(file);
  if (auto made = make_directories(dir); !made) return made;
  const std::string temporary = file + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return state_error(errno, temporary, "create");
  std::string_view rest = out.bytes();
  while (!rest.empty()) {
    const ssize_t wrote = ::write(fd, rest.data(), rest.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      const int error_number = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      return state_error(error_number, temporary, "write");
    }
    rest.remove_prefix(static_cast<std::size_t>(wrote));
  }
  if (::fsync(fd) != 0) {
    const int error_number = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return state_error(error_number, temporary, "fsync");
  }
  ::close(fd);
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    return state_error(error_number, file, "rename");
  }
  ::unlink((file + ".in-use").c_str());
  return fsync_directory(dir);
}

core::Result<void> TargetListingCache::restore(const std::string& file) {
  const std::string in_use = file + ".in-use";
  if (::rename(in_use.c_str(), file.c_str()) != 0) return state_error(errno, in_use, "rename");
  return fsync_directory(parent_directory(file));
}

std::optional<TargetListingCache::Directory> TargetListingCache::take(const std::string& dir) {
  auto found = directories_.find(dir);
  if (found == directories_.end()) return std::nullopt;
  Directory directory = std::move(found->second);
  directories_.erase(found);
  return directory;
}

void TargetListingCache::record(const std::string& dir, Directory directory,
                                std::uint64_t invalidations_before) {
  if (invalidations_ != invalidations_before) return;
  directories_[dir] = std::move(directory);
}

void TargetListingCache::set_target_clock(std::optional<std::chrono::nanoseconds> precision,
                                          std::chrono::nanoseconds skew) noexcept {
  records_allowed_ = precision.has_value();
  racy_window_ns_ = skew.count() + (precision ? precision->count() : 0);
}

void TargetListingCache::invalidate(const std::string& dir) {
  ++invalidations_;
  directories_.erase(dir);
}

void TargetListingCache::invalidate_subtree(const std::string& dir) {
  ++invalidations_;
  if (dir.empty()) {
    directories_.clear();
    return;
  }
  directories_.erase(dir);
  const std::string prefix = dir + "/";
  for (auto it = directories_.lower_bound(prefix);
       it != directories_.end() && it->first.starts_with(prefix);) {
    it = directories_.erase(it);
  }
}

TargetListingCache::Entry TargetListingCache::entry_of(const core::EntryInfo& info) {
  Entry entry;
  entry.name = std::string(info.key.name());
  entry.type = info.type;
  entry.size = info.size;
  if (info.mtime) entry.mtime_ns = info.mtime->time_since_epoch().count();
  entry.mode = info.mode;
  entry.link_target = info.link_target;
  return entry;
}

core::EntryInfo TargetListingCache::info_of(const core::StoreKey& dir, const Entry& entry) {
  core::EntryInfo info;
  auto key = dir.join(entry.name);
  if (key) info.key = std::move(*key);
  info.type = entry.type;
  info.size = entry.size;
  if (entry.mtime_ns) info.mtime = core::TimePoint(std::chrono::nanoseconds(*entry.mtime_ns));
  info.mode = entry.mode;
  info.link_target = entry.link_target;
  return info;
}

std::int64_t wall_clock_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string listing_cache_file(const std::string& state_dir, std::string_view context) {
  char name[64];
  std::snprintf(name, sizeof name, "listing-%016llx.bin",
                static_cast<unsigned long long>(fnv1a(context)));
  return state_dir + "/" + name;
}

std::string default_state_directory() {
  if (const char* systemd = std::getenv("STATE_DIRECTORY"); systemd && *systemd) {
    // systemd may list several, separated by ':'; the first is this unit's own.
    std::string first(systemd);
    return first.substr(0, first.find(':'));
  }
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg == '/') {
    return std::string(xdg) + "/tetherd";
  }
  if (const char* home = std::getenv("HOME"); home && *home == '/') {
    return std::string(home) + "/.local/state/tetherd";
  }
  return {};
}

}  // namespace tetherd::daemon
