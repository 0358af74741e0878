#pragma once

// s3_store: a bucket (below an optional prefix) of an S3-compatible object store, over
// HTTP(S) with SigV4, driven by libcurl's multi interface on the executor's libuv loop.
//
// Capabilities, and why:
//   READ (ranged GET, fetched in 8 MiB ranges pinned to the first response's ETag, so a
//   read never mixes two versions: a change in between fails with PreconditionFailed),
//   LAZY_READ, WRITE + ATOMIC_WRITE + ATOMIC_REPLACE (one PUT, or a multipart upload
//   completed in one step: readers see the old object or the new one; a failed or
//   cancelled multipart upload is aborted), NO_CLOBBER_CREATE (overwrite=false sends
//   If-None-Match: *, which radosgw and AWS enforce atomically on PUT; a 412 is
//   AlreadyExists. Caveat: above multipart_threshold the header goes on
//   CompleteMultipartUpload, which radosgw 16 ignores, so the store also HEADs the key
//   just before completing: for such large no-clobber writes on radosgw a concurrent
//   writer can still win the race between the HEAD and the completion),
//   DELETE (a recursive rmdir deletes its keys with DeleteObjects, 1,000 a request; a key the
//   server could not delete fails it with the key named), LIST, METADATA, COPY + SERVER_SIDE_COPY
//   (CopyObject up to copy_threshold, 5 GiB by default, the most CopyObject takes; above it a
//   multipart upload whose parts are UploadPartCopy ranges of the source, copied in parallel,
//   with the source's metadata set on the upload; the parts are pinned to the source's ETag,
//   which radosgw 16 ignores, so the store HEADs the source again before completing and
//   fails with PreconditionFailed if it changed; a failed or cancelled multipart copy is
//   aborted), MOVE (a copy, then DELETE: not atomic, so no ATOMIC_MOVE, but the contract's
//   "source or destination, never neither" holds because the source goes only after the copy
//   succeeded; once a CopyObject or the completion of a multipart copy is sent, a cancel no
//   longer stops the move; a directory moves page by page), SET_MTIME + SET_MODE (user
//   metadata x-amz-meta-mtime, nanoseconds since the epoch, and x-amz-meta-mode, octal;
//   set_attrs rewrites them with CopyObject onto the object itself, pinned to its ETag),
//   MKDIR, DURABLE (S3 answers a write or copy once it is stored durably). Not declared:
//   SYMLINK (an object store has none), EXPLICIT_DIRS (see below), USER_METADATA (no
//   operation uses it yet).
//
// Directories. The namespace is flat: a directory exists while some key lies below it.
// mkdir additionally writes a marker object "dir/" (empty, carrying the directory's mtime
// and mode), so a directory made by mkdir exists while empty and rmdir removes it; stat of
// a directory reports the marker's mtime and mode when there is one. A directory that
// exists only through the keys below it vanishes with its last key, which is why
// EXPLICIT_DIRS is not declared.
//
// Keys. Object key = prefix + "/" + store key (a directory marker adds "/"). Keys must be
// valid UTF-8 (S3 keys are UTF-8 text) and at most 1,024 bytes with the prefix: other keys
// are refused with InvalidPath before any request. Object keys that no StoreKey produces
// ("a//b", "./x", written by other tools) are left out of listings.
//
// Listings. A stream that fetches a ListObjectsV2 page (list_page_size keys, 1,000) when the
// consumer asks for entries and the buffer runs low: recursive listings are one flat listing
// (no delimiter), others are delimited by '/'. S3 lists in UTF-8 byte order of whole keys,
// which differs from StoreKey order when a name holds a byte below '/' ("a-b" sorts before
// "a/x" in S3, after it here), so a reorder buffer holds back an entry until no later key can
// precede it (s3_list_order.hpp has the rule and why it suffices). Memory is bounded by a few
// pages: when the buffer is full of entries held back by one name ("x.0001"... before where
// "x/" would be), one request (prefix "x/", max-keys 1) shows whether "x" is a directory. It
// is not, usually, and the entries go; only if it is (its entries come first, and S3 sends
// them after all the "x.*" keys) does the buffer grow, by the keys between them. A recursive
// rmdir and a directory move also go page by page. ListObjectsV2 does not return user
// metadata: a listed file carries the mtime and mode that the metadata cache
// (s3_metadata_cache.hpp) holds for its version, when it holds them; else only its size,
// and stat (a HEAD) tells the rest.
//
// Writes. Up to multipart_threshold bytes go in one PUT (a source whose size is not known
// in advance is buffered up to the threshold to find out). Above it, a multipart upload:
// the source is read on while the parts go up, at most 4 in flight at once (fewer with a
// lower max_concurrency), and their ETags are kept by part number, as parts answer in any
// order. Each part is in memory until it is stored, and reading waits while a whole part
// does, so a write holds at most 5 parts: 40 MiB with the default 8 MiB part_size. Parts
// are part_size, except that an object of known size that would need more than S3's
// 10,000 parts gets the least whole number of MiB that fits, and a stream of unknown size
// doubles its parts every 1,000 (then fewer go at once, so that their bytes in flight stay
// within 4 parts of the first size; the largest parts, after 9,000, are 512 × part_size).
// Objects above S3's 5 TiB fail with NoSpace. The upload is completed once the source has
// ended and every part is stored; on a failure or a cancel no part starts, the parts in
// flight are dropped and the upload is aborted.
//
// Checks that the contract asks for and S3 does not do (a write under a "file", a file
// over a "directory") would cost extra requests: a write lists "key/" and HEADs every
// ancestor, mkdir HEADs and lists its key. Below a prefix the store has seen whole (a
// recursive listing that ended, or a directory it created empty), it answers them from what
// it saw and what it has written and deleted since (s3_known_keys.hpp), trusting that no
// other program writes under its prefix; so a new file in a mirrored tree costs one PUT.
// These checks and the operation are not one atomic step.
//
// Errors: NoSuchKey → NotFound; AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId →
// PermissionDenied (not retryable); 412 → AlreadyExists for no-clobber writes, else
// PreconditionFailed; SlowDown, 429, 503 → RateLimited and other 5xx → Unavailable
// (retryable); refused or reset connections → Unavailable, timeouts → Timeout (retryable);
// a payload hash or MD5 mismatch → Corrupted. Retryable errors go to the caller (the
// engine retries), except throttling: S3 servers expect clients to back off when they
// answer 429, 503 or SlowDown, so the store itself sends such a request again, at most
// throttle_retries times, after an exponential backoff with jitter that honours the
// server's Retry-After (delta-seconds or an HTTP date) up to throttle_max_wait; a server
// asking for a longer pause gets it from the caller instead. Only then is RateLimited
// reported. The wait is a loop timer (nothing blocks) and a cancel ends it. Every request
// body is held in memory (a multipart write buffers each whole part), so a retried request
// is sent again byte for byte; there is no streamed body that could not be re-read.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "tetherd/core/store.hpp"
#include "tetherd/stores/s3_metadata_cache.hpp"

namespace tetherd::stores {

struct S3StoreOptions {
  std::string name = "s3";
  /// "https://s3.eu-west-1.amazonaws.com" or "http://127.0.0.1:7480" (no path).
  std::string endpoint;
  std::string region = "us-east-1";
  std::string bucket;
  /// Keys live under it ("" = the whole bucket); slashes at either end are dropped.
  std::string prefix;
  /// Read from a credentials file by the caller (read_s3_credentials, s3_credentials.hpp);
  /// never logged.
  std::string access_key;
  std::string secret_key;
  /// Temporary (STS) credentials only; sent, signed, as x-amz-security-token. Empty: none.
  std::string session_token;
  /// true: http://host/bucket/key; false: http://bucket.host/key.
  bool path_style = true;
  /// CA bundle for https; empty: the system's. Peers are always verified.
  std::string ca_file;
  /// Most HTTP connections (so requests) in flight at once.
  long max_concurrency = 8;
  /// Writes larger than this use a multipart upload (see "Writes" above).
  std::uint64_t multipart_threshold = 64u << 20;
  /// Size of each part but the last: 5 MiB (S3's least) to 5 GiB (its most). Larger for an
  /// object that would need more than 10,000 parts (S3's limit). Tuning and tests; not in
  /// the daemon's config.
  std::uint64_t part_size = 8u << 20;
  /// Server-side copies (copy, move) of objects larger than this use a multipart upload of
  /// UploadPartCopy parts; smaller ones a single CopyObject, which S3 refuses above 5 GiB
  /// (the default and the most accepted). Tuning and tests; not in the daemon's config.
  std::uint64_t copy_threshold = 5ull << 30;
  /// Size of each part of such a copy but the last: 5 MiB to 5 GiB. A source that would
  /// need more than 10,000 parts (S3's limit) gets larger ones.
  std::uint64_t copy_part_size = 512ull << 20;
  /// Keys per ListObjectsV2 request, 1 to 1,000 (S3's most). Tests lower it to page
  /// through small listings; not in the daemon's config.
  int list_page_size = 1000;
  /// A throttled request (429, 503, SlowDown) is sent again at most this many times before
  /// its error goes to the caller; the first retry waits about throttle_base_delay, each
  /// further one about twice as long (with jitter), and never less than the Retry-After the
  /// server sent, nor more than throttle_max_wait.
  int throttle_retries = 3;
  std::chrono::milliseconds throttle_base_delay{200};
  std::chrono::milliseconds throttle_max_wait{std::chrono::seconds(60)};
  /// Whether opening the store starts a sweep of stale multipart uploads (see
  /// sweep_s3_uploads), in the background: open does not wait for it.
  bool abort_stale_uploads = true;
  /// How much older than the store an upload must be to count as stale.
  std::chrono::seconds stale_upload_age{std::chrono::hours(24)};
  /// The objects' metadata as last seen (s3_metadata_cache.hpp), loaded by the caller from
  /// metadata_cache_file; null: the store starts with an empty one.
  std::shared_ptr<S3MetadataCache> metadata_cache;
  /// Where the store saves that cache: when it closes and, while it changes, every
  /// metadata_save_interval. Empty: never saved (it lives as long as the store).
  std::string metadata_cache_file;
  std::chrono::seconds metadata_save_interval{std::chrono::minutes(10)};
};

/// What a metadata cache file is valid for: the objects of this endpoint, bucket and prefix.
std::string s3_metadata_context(const S3StoreOptions& options);

/// Opens the store; no I/O (the first operation shows whether the server answers). The
/// executor must be a UvExecutor (libcurl runs on its loop). InvalidPath for an endpoint
/// that is not http(s)://host[:port], an empty bucket, a part size or a copy part size
/// outside 5 MiB..5 GiB, a copy threshold above 5 GiB, or a list page size
/// outside 1..1,000.
core::Result<core::StorePtr> open_s3_store(core::Executor& executor, S3StoreOptions options);

/// Lists one key under the store's prefix: fails (operation Open, the store named) when
/// the endpoint does not answer (Unavailable, Timeout: worth retrying), the bucket does not
/// exist (NotFound) or the keys are refused (PermissionDenied). `done` runs on the loop
/// thread. What a daemon does before it trusts a freshly opened store.
void check_s3_store(const core::StorePtr& store, core::Callback<void> done);

/// Aborts the stale multipart uploads under the store's prefix, and gives how many it
/// aborted. A write cut off by a crash (or a lost connection while aborting) leaves its
/// multipart upload behind, and S3 bills its parts for ever. The store's uploads carry no
/// mark of their own (an upload goes to the object's final key), so the rule is:
///   an upload is stale when its key lies under the store's prefix ("prefix/"; the whole
///   bucket when the prefix is empty) and the server says it was initiated more than
///   options.stale_upload_age (24 h by default) before this store was opened.
/// The prefix is taken to belong to this store (it is a mirror target). The age covers
/// clock skew between this host and the server, and a writer of another process still
/// uploading to the same prefix: aborting its upload would only fail its write (which is
/// retried), never lose data, and 24 h also outlasts any single upload. Uploads without a
/// readable initiation time are left alone. Opening the store runs this once in the
/// background (abort_stale_uploads); its outcome is not reported anywhere else, and the
/// next open tries again. `done` runs on the loop thread.
void sweep_s3_uploads(const core::StorePtr& store, core::Callback<std::size_t> done);

}  // namespace tetherd::stores
