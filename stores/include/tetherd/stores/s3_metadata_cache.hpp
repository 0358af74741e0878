#pragma once

// S3MetadataCache: the user metadata (mtime, mode) of the S3 store's objects, by object
// version, so that a listing can report it without a HEAD per object. ListObjectsV2 returns
// each key's size, ETag and Last-Modified but never its user metadata; without this cache a
// restart over 100,000 unchanged files would send 100,000 HEADs to learn their mtimes.
//
// What it trusts. An object's user metadata is fixed when that version of the object is
// written: changing it means writing the object again (PUT, a copy onto itself), which
// gives it a new Last-Modified. So a version is named by its key, ETag, size and
// Last-Modified, and the metadata recorded for that version stays true for as long as the
// listing shows the same four. Entries are recorded from HEAD answers (all four known) and
// from the store's own PUTs (the answer carries the ETag but no Last-Modified: the first
// listing that matches the ETag and size supplies it). In that window only, a third party
// rewriting the object with the same bytes but other metadata would go unseen: the content
// is the same, so the mirror's content stays exact. Last-Modified is compared in whole
// seconds, the precision of HEAD's header. Any request that may change an object (PUT,
// POST, DELETE, a copy onto it) forgets its entry before it is sent.
//
// The file. save() writes it atomically (temporary file, fsync, rename) with a checksum;
// load() of a missing, foreign (another endpoint, bucket or prefix) or damaged file gives an
// empty cache, which only costs HEADs. Since every entry is checked against the listing, a
// file saved long ago or left by a crash is as safe as a fresh one.
// Loop thread only, except load() and write_file(), which do blocking I/O on a worker.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tetherd/core/result.hpp"

namespace tetherd::stores {

class S3MetadataCache {
 public:
  struct Version {
    std::string etag;  ///< without its quotes
    std::uint64_t size = 0;
    /// Last-Modified, whole seconds since the epoch; nullopt until a listing shows it.
    std::optional<std::int64_t> modified_s;
    std::optional<std::int64_t> mtime_ns;
    std::optional<std::uint32_t> mode;
  };

  /// Records the metadata of object `key` (full key) as a HEAD or our own write showed it.
  void remember(const std::string& key, Version version);
  /// The recorded metadata of a listed object when its ETag, size and (once known)
  /// Last-Modified second are the recorded ones; else nullptr, and a differing entry is
  /// forgotten. A match missing its Last-Modified takes the listed one.
  const Version* match(const std::string& key, std::string_view etag, std::uint64_t size,
                       std::optional<std::int64_t> modified_s);
  void forget(const std::string& key);

  std::size_t size() const noexcept { return entries_.size(); }
  /// Whether anything changed since the last serialize().
  bool changed() const noexcept { return changed_; }

  /// The bytes save() writes, for `context` (endpoint, bucket, prefix); clears changed().
  std::string serialize(std::string_view context);
  /// The cache `bytes` hold for `context`; empty when they are another context's or damaged.
  static S3MetadataCache parse(std::string_view bytes, std::string_view context);
  /// Reads `file`: a missing, foreign or damaged file gives an empty cache. Blocking.
  static S3MetadataCache load(const std::string& file, std::string_view context);
  /// Writes `bytes` to `file` atomically and durably, creating its directory. Blocking.
  static core::Result<void> write_file(const std::string& file, const std::string& bytes);

  /// The ETag as listings and headers give it, without surrounding quotes.
  static std::string_view bare_etag(std::string_view etag);

 private:
  std::unordered_map<std::string, Version> entries_;
  bool changed_ = false;
};

/// The cache file of a store of `context` in `state_dir`.
std::string s3_metadata_cache_file(const std::string& state_dir, std::string_view context);

}  // namespace tetherd::stores
