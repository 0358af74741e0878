#include "tetherd/stores/s3_metadata_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tetherd/stores/errno_map.hpp"

namespace tetherd::stores {

namespace {

constexpr std::string_view kMagic = "tetherd s3 metadata 1\n";

enum Flags : std::uint8_t { kModified = 1, kMtime = 2, kMode = 4 };

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof value];
  std::memcpy(bytes, &value, sizeof value);
  out.append(bytes, sizeof value);
}

void put_string(std::string& out, std::string_view text) {
  put(out, static_cast<std::uint32_t>(text.size()));
  out.append(text);
}

/// Reads what put() wrote; every get fails once the bytes run out.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  template <typename T>
  bool get(T& value) {
    if (bytes_.size() < sizeof value) return false;
    std::memcpy(&value, bytes_.data(), sizeof value);
    bytes_.remove_prefix(sizeof value);
    return true;
  }
  bool get_string(std::string& text) {
    std::uint32_t size = 0;
    if (!get(size) || bytes_.size() < size) return false;
    text.assign(bytes_.substr(0, size));
    bytes_.remove_prefix(size);
    return true;
  }
  bool at_end() const noexcept { return bytes_.empty(); }

 private:
  std::string_view bytes_;
};

core::StoreError file_error(const std::string& what, const std::string& file) {
  const int error = errno;
  return errno_error(error, what + " " + file + ": " + std::strerror(error));
}

}  // namespace

std::string_view S3MetadataCache::bare_etag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag.remove_prefix(1);
    etag.remove_suffix(1);
  }
  return etag;
}

void S3MetadataCache::remember(const std::string& key, Version version) {
  version.etag = std::string(bare_etag(version.etag));
  entries_.insert_or_assign(key, std::move(version));
  changed_ = true;
}

const S3MetadataCache::Version* S3MetadataCache::match(const std::string& key,
                                                       std::string_view etag, std::uint64_t size,
                                                       std::optional<std::int64_t> modified_s) {
  auto found = entries_.find(key);
  if (found == entries_.end()) return nullptr;
  Version& version = found->second;
  const bool same_modified =
      !version.modified_s || !modified_s || *version.modified_s == *modified_s;
  if (version.etag != bare_etag(etag) || version.size != size || !same_modified) {
    entries_.erase(found);
    changed_ = true;
    return nullptr;
  }
  if (!version.modified_s && modified_s) {
    version.modified_s = modified_s;
    changed_ = true;
  }
  return &version;
}

void S3MetadataCache::forget(const std::string& key) {
  if (entries_.erase(key) > 0) changed_ = true;
}

std::string S3MetadataCache::serialize(std::string_view context) {
  std::string out(kMagic);
  put_string(out, context);
  put(out, static_cast<std::uint64_t>(entries_.size()));
  for (const auto& [key, version] : entries_) {
    put_string(out, key);
    put_string(out, version.etag);
    put(out, version.size);
    const std::uint8_t flags = (version.modified_s ? kModified : 0) |
                               (version.mtime_ns ? kMtime : 0) | (version.mode ? kMode : 0);
    put(out, flags);
    put(out, version.modified_s.value_or(0));
    put(out, version.mtime_ns.value_or(0));
    put(out, version.mode.value_or(0));
  }
  put(out, fnv1a(out));
  changed_ = false;
  return out;
}

S3MetadataCache S3MetadataCache::parse(std::string_view bytes, std::string_view context) {
  S3MetadataCache cache;
  std::uint64_t stored_hash = 0;
  if (bytes.size() < kMagic.size() + sizeof stored_hash || !bytes.starts_with(kMagic)) return cache;
  std::memcpy(&stored_hash, bytes.data() + bytes.size() - sizeof stored_hash, sizeof stored_hash);
  const std::string_view payload = bytes.substr(0, bytes.size() - sizeof stored_hash);
  if (fnv1a(payload) != stored_hash) return cache;
  Reader in(payload.substr(kMagic.size()));
  std::string saved_context;
  std::uint64_t count = 0;
  if (!in.get_string(saved_context) || saved_context != context || !in.get(count)) return cache;
  S3MetadataCache loaded;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string key;
    Version version;
    std::uint8_t flags = 0;
    std::int64_t modified_s = 0, mtime_ns = 0;
    std::uint32_t mode = 0;
    if (!in.get_string(key) || !in.get_string(version.etag) || !in.get(version.size) ||
        !in.get(flags) || !in.get(modified_s) || !in.get(mtime_ns) || !in.get(mode))
      return cache;
    if (flags & kModified) version.modified_s = modified_s;
    if (flags & kMtime) version.mtime_ns = mtime_ns;
    if (flags & kMode) version.mode = mode;
    loaded.entries_.insert_or_assign(std::move(key), std::move(version));
  }
  if (!in.at_end()) return cache;
  return loaded;
}

S3MetadataCache S3MetadataCache::load(const std::string& file, std::string_view context) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse(bytes, context);
}

core::Result<void> S3MetadataCache::write_file(const std::string& file, const std::string& bytes) {
  const std::filesystem::path path(file);
  std::error_code ignored;
  std::filesystem::create_directories(path.parent_path(), ignored);
  const std::string temporary = file + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return file_error("cannot create", temporary);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto error = file_error("cannot write", temporary);
      ::close(fd);
      ::unlink(temporary.c_str());
      return error;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto error = file_error("cannot flush", temporary);
    ::close(fd);
    ::unlink(temporary.c_str());
    return error;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    auto error = file_error("cannot rename into", file);
    ::unlink(temporary.c_str());
    return error;
  }
  // The rename's durability only saves HEADs after a power loss; it is not worth failing for.
  const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return core::success();
}

std::string s3_metadata_cache_file(const std::string& state_dir, std::string_view context) {
  char name[64];
  std::snprintf(name, sizeof name, "s3-metadata-%016llx.bin",
                static_cast<unsigned long long>(fnv1a(context)));
  return state_dir + "/" + name;
}

}  // namespace tetherd::stores
