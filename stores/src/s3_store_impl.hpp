#pragma once

// The S3 store's class, shared by the files implementing it (see s3_store.hpp for what the
// store declares and why): s3_store.cpp (open, close, stat, mkdir, attributes),
// s3_store_requests.cpp (the request helpers every operation is built from: HEAD, listing,
// probes, checks, copy and delete of one object), s3_store_read.cpp (reads),
// s3_store_list.cpp (listings; their order: s3_list_order.hpp), s3_store_write.cpp (writes,
// multipart uploads included, and the part sizes of uploads and copies), s3_store_delete.cpp
// (remove, rmdir), s3_store_copy.cpp (copy, move), s3_store_part_copy.cpp (multipart copies of
// large objects). Each operation is a short chain of HTTP requests on the HttpClient; the chain's
// closures hold the store alive. Requests are signed at the moment they are made.

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "s3_http.hpp"
#include "s3_known_keys.hpp"
#include "s3_request.hpp"
#include "s3_xml.hpp"
#include "tetherd/stores/s3_store.hpp"

namespace tetherd::stores::s3 {

using core::Bytes;
using core::Callback;
using core::Capability;
using core::EntryInfo;
using core::EntryType;
using core::Errc;
using core::OperationRef;
using core::Result;
using core::StoreError;
using core::StoreKey;
using core::TimePoint;

/// Ranged GETs fetch this much at a time: the memory a reader holds.
inline constexpr std::uint64_t kReadChunk = 8u << 20;
/// A source is read in chunks of this size while a write buffers its data.
inline constexpr std::size_t kSourceChunk = 1u << 20;
/// The smallest part of a multipart upload but the last.
inline constexpr std::uint64_t kMinPartSize = 5u << 20;
/// The largest part of a multipart upload.
inline constexpr std::uint64_t kMaxPartSize = 5ull << 30;
/// The largest object CopyObject copies.
inline constexpr std::uint64_t kMaxCopySize = 5ull << 30;
/// The most parts a multipart upload may have.
inline constexpr std::uint64_t kMaxParts = 10000;
/// The largest object S3 stores (a larger upload fails with EntityTooLarge).
inline constexpr std::uint64_t kMaxObjectSize = 5ull << 40;
inline constexpr std::size_t kMaxObjectKey = 1024;

bool ok_status(const HttpResponse& response);

/// The part size of a multipart upload or copy of an object of `size` bytes, for a
/// `configured` part size of kMinPartSize..kMaxPartSize: `configured`, or for an object that
/// would need more than kMaxParts, the smallest whole number of MiB that fits (525 MiB for
/// the largest object). NoSpace (S3's EntityTooLarge) above kMaxObjectSize.
Result<std::uint64_t> part_size_for(std::uint64_t size, std::uint64_t configured);

/// The size of part `number` (1-based) of an upload whose size is not known in advance, for
/// a `configured` part size of kMinPartSize..kMaxPartSize: `configured` for parts 1 to 1,000,
/// doubled for each further 1,000 parts (at most kMaxPartSize), so that kMaxParts parts hold
/// at least 1,023,000 × configured (7.8 TiB at 8 MiB, 4.9 TiB at the 5 MiB minimum). Growing
/// from the start rather than near part 10,000 keeps the largest part small: the fewer
/// parts are left when growth begins, the larger each must be to reach S3's 5 TiB.
std::uint64_t streamed_part_size(std::size_t number, std::uint64_t configured);

/// Whether `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view text);

StoreError error_of(Errc code, std::string detail);

/// What HEAD tells about an object: size, our metadata, the ETag pinning its version.
struct ObjectHead {
  std::uint64_t size = 0;
  std::optional<TimePoint> mtime;
  std::optional<std::uint32_t> mode;
  std::string etag;
  /// Last-Modified, whole seconds since the epoch.
  std::optional<std::int64_t> modified_s;
  /// The headers a copy carries over, as CopyObject's COPY directive does: every user
  /// metadata header (x-amz-meta-*: our mtime and mode, and any other tool's) and the
  /// content headers (Content-Type, Cache-Control...). A multipart copy sets them when it
  /// creates the upload.
  Pairs carried;
};

ObjectHead head_of(const HttpResponse& response);

/// x-amz-meta-mtime and x-amz-meta-mode for this metadata (each only when given).
Pairs metadata_headers(const std::optional<TimePoint>& mtime,
                       const std::optional<std::uint32_t>& mode);

/// What a key is in the bucket.
struct Probe {
  enum class Kind { Missing, File, Directory } kind = Kind::Missing;
  ObjectHead head;      ///< the file, or the directory's marker
  bool marker = false;  ///< a directory with a marker object
};

class S3Store;
using S3StorePtr = std::shared_ptr<S3Store>;

class S3Store final : public core::Store {
 public:
  S3Store(core::Executor& executor, S3StoreOptions options, s3::Endpoint endpoint, uv_loop_t* loop);

  static core::CapabilitySet capabilities();

  S3StorePtr self() { return std::static_pointer_cast<S3Store>(shared_from_this()); }

  // ---- keys ----------------------------------------------------------------------------

  std::string object_key(const StoreKey& key) const {
    if (options_.prefix.empty()) return key.str();
    if (key.is_root()) return options_.prefix;
    return options_.prefix + "/" + key.str();
  }
  /// The prefix of everything below directory `key` (its marker's key too).
  std::string dir_prefix(const StoreKey& key) const {
    if (key.is_root()) return options_.prefix.empty() ? std::string() : options_.prefix + "/";
    return object_key(key) + "/";
  }

  // ---- requests ------------------------------------------------------------------------

  using Reply = std::function<void(HttpResponse)>;
  /// A request of the store's: stays the same across the retries of a throttled request.
  using RequestId = std::uint64_t;

  /// Signs and sends a request; `reply` runs once, on the loop, with the answer (unless the
  /// request is cancelled first). A throttled answer (429, 503, SlowDown: see
  /// s3_throttle.hpp) is not replied: the request is signed and sent again after a backoff
  /// on a loop timer, at most options().throttle_retries times, and the last answer is
  /// replied. Every body is in memory (a write buffers a whole part before sending it), so
  /// every request can be sent again as it was. A closed store replies a transport failure
  /// (a lost connection), and so does closing it to the requests still in flight or waiting
  /// for a retry (a stream's or a source's: operations have completed by then), so that a
  /// pending next() or read() fails rather than waits for ever. Returns 0 when closed.
  RequestId send(std::string method, const std::string& key, const Pairs& query, Pairs headers,
                 std::string body, Reply reply);
  /// Drops a request (in flight or waiting for its retry): its reply never runs.
  void cancel_request(RequestId id);

  /// HEAD: the object, nullopt when there is none.
  void head(const std::string& key, std::function<void(Result<std::optional<ObjectHead>>)> done);

  /// One ListObjectsV2 page of keys under `prefix` (`delimited`: by '/'), after `token`.
  RequestId list_page(const std::string& prefix, bool delimited, int max_keys,
                      const std::string& token, std::function<void(Result<s3::ListPage>)> done);

  /// Hands every object under `prefix` to `step`, one page (list_page_size keys) at a time,
  /// in S3's order; `step` calls its continuation when done with the page. The next page is
  /// fetched while `step` works, so at most two pages are held. `done` runs once, after the
  /// last step, with the first error (a failed step or listing ends the walk once no step
  /// is running). Keys a step deletes do not disturb the walk (pages continue after the
  /// last key listed).
  using PageStep =
      std::function<void(std::vector<s3::ListedObject>, std::function<void(Result<void>)>)>;
  void each_page(std::string prefix, PageStep step, std::function<void(Result<void>)> done);

  /// One listing of a single key below the prefix: the endpoint answers, the bucket exists,
  /// and these keys may read it.
  void check_access(core::Callback<void> done);

  /// What `key` is: a file (HEAD), a directory (a marker or keys below), or nothing.
  void probe(const StoreKey& key, std::function<void(Result<Probe>)> done);

  /// Whether any key exists below directory `key` other than its own marker.
  void has_children(const StoreKey& key, std::function<void(Result<bool>)> done);

  /// NotADirectory when a parent of `key` is a file (S3 would happily store "file/x").
  /// The ancestors are asked in parallel.
  void check_ancestors(const StoreKey& key, std::function<void(Result<void>)> done);

  /// The checks before something is stored at `key` as a file: not a directory there, no
  /// file above it.
  void check_file_target(const StoreKey& key, std::function<void(Result<void>)> done);

  /// x-amz-copy-source naming object `from` (full key) of the bucket.
  std::string copy_source(const std::string& from) const;

  /// CopyObject from `from` (full key) to `to`; `headers` add the metadata directive etc.
  void copy_object(const std::string& from, const std::string& to, Pairs headers,
                   std::function<void(Result<void>)> done);

  /// A server-side copy of object `from` (full key), described by `source` (its HEAD), to
  /// `to`, content and metadata: CopyObject up to options().copy_threshold, a multipart
  /// upload of UploadPartCopy parts above it (copy_parts, s3_store_part_copy.cpp). With `op`,
  /// a cancel stops a multipart copy until its completion is sent; without, nothing does.
  void copy_file(const std::string& from, const std::string& to, const ObjectHead& source,
                 const OperationRef& op, std::function<void(Result<void>)> done);
  /// The multipart copy: parts of options().copy_part_size (more when the source would
  /// need over 10,000), copied in parallel up to max_concurrency, each pinned with
  /// x-amz-copy-source-if-match to source.etag, and the source's ETag checked once more
  /// (HEAD) before completing, so that the copy never mixes two versions of the source
  /// (PreconditionFailed); completed with the parts' ETags. On failure or cancel no further
  /// part starts and the upload is aborted: after the parts in flight have answered
  /// (failure), or at once with them dropped (cancel).
  void copy_parts(const std::string& from, const std::string& to, const ObjectHead& source,
                  const OperationRef& op, std::function<void(Result<void>)> done);

  /// Moves one listed object (of a directory being moved) to `to` (full key): copy_file
  /// (not cancellable), then DELETE of the source.
  void move_object(const s3::ListedObject& object, const std::string& to,
                   std::function<void(Result<void>)> done);

  void delete_object(const std::string& key, std::function<void(Result<void>)> done);
  /// Deletes these objects (full keys) with DeleteObjects, 1,000 keys a request, the
  /// requests in parallel; a key XML cannot carry goes by a DELETE of its own. A key the
  /// server reports it could not delete fails the whole with that key named (a key already
  /// gone is not a failure).
  void delete_objects(std::vector<std::string> keys, std::function<void(Result<void>)> done);

  /// Runs `step` for every item, all at once (the client caps connections), then `done`
  /// with the first error.
  template <typename Item>
  static void for_all(std::vector<Item> items,
                      std::function<void(const Item&, std::function<void(Result<void>)>)> step,
                      std::function<void(Result<void>)> done) {
    if (items.empty()) return done(core::success());
    struct Gather {
      std::size_t pending;
      std::optional<StoreError> error;
      std::function<void(Result<void>)> done;
    };
    auto gather = std::make_shared<Gather>(Gather{items.size(), std::nullopt, std::move(done)});
    for (const auto& item : items) {
      step(item, [gather](Result<void> result) {
        if (!result && !gather->error) gather->error = result.error();
        if (--gather->pending > 0) return;
        if (gather->error) return gather->done(*gather->error);
        gather->done(core::success());
      });
    }
  }

  /// Writes directory `key`'s marker with this metadata.
  void put_marker(const StoreKey& key, std::optional<TimePoint> mtime,
                  std::optional<std::uint32_t> mode, std::function<void(Result<void>)> done);

  /// What the store knows of its objects' metadata (see s3_metadata_cache.hpp): HEADs and
  /// successful PUTs record it, listings use it, and send() forgets an object's entry
  /// before any request that may change the object.
  S3MetadataCache& metadata() { return *metadata_; }
  /// What the store knows of its key space (s3_known_keys.hpp): send() records every
  /// object a request may create, deletes and recursive listings the rest.
  KnownKeys& known_keys() { return known_keys_; }
  /// Saves the metadata cache when it changed and has a file (on a worker), then `done`.
  void save_metadata(std::function<void()> done);
  /// Saves the cache every options().metadata_save_interval while the store is open.
  void schedule_metadata_save();

  const S3StoreOptions& options() const { return options_; }
  const s3::Endpoint& endpoint() const { return endpoint_; }

  /// Parts of multipart writes in flight: now, and the most at once since the store opened
  /// (over all its writes). Kept by the writes; tests read them to see parts go in parallel.
  struct PartsInFlight {
    std::size_t now = 0;
    std::size_t peak = 0;
  };
  PartsInFlight& parts_in_flight() { return parts_in_flight_; }

 protected:
  void do_stat(const StoreKey& key, const OperationRef&, Callback<EntryInfo> done) override;

  void do_list(const StoreKey& dir, core::ListOptions options, const OperationRef&,
               Callback<core::EntryStreamPtr> done) override;
  void do_read(const StoreKey& key, core::ReadRange range, const OperationRef&,
               Callback<core::ByteSourcePtr> done) override;
  void do_write(const StoreKey& key, core::ByteSourcePtr source, core::WriteOptions options,
                const OperationRef& op, Callback<EntryInfo> done) override;

  void do_copy(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef&,
               Callback<void> done) override;

  void do_move(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef& op,
               Callback<void> done) override;

  void do_remove(const StoreKey& key, bool missing_ok, const OperationRef&,
                 Callback<void> done) override;

  void do_mkdir(const StoreKey& key, core::MkdirOptions options, const OperationRef&,
                Callback<void> done) override;

  void do_rmdir(const StoreKey& key, bool recursive, const OperationRef&,
                Callback<void> done) override;

  void do_set_attrs(const StoreKey& key, core::Attrs attrs, const OperationRef&,
                    Callback<void> done) override;

  void do_symlink(const StoreKey&, std::string, const OperationRef&, Callback<void> done) override {
    done(error_of(Errc::CapabilityNotSupported, "an S3 bucket has no symlinks"));
  }
  void do_readlink(const StoreKey&, const OperationRef&, Callback<std::string> done) override {
    done(error_of(Errc::CapabilityNotSupported, "an S3 bucket has no symlinks"));
  }

  core::Resolution do_resolve(const StoreKey& key) const override;

  void do_close(Callback<void> done) override;

  std::optional<StoreError> reject_key(const StoreKey& key) const override;

 public:
  /// Aborts the stale multipart uploads under the prefix (sweep_s3_uploads in s3_store.hpp).
  void sweep_stale_uploads(Callback<std::size_t> done);

  /// Aborts multipart upload `upload_id` of `object` (key with the prefix), then runs
  /// `done`. An abort the server did not get (unreachable, 5xx) is sent again after
  /// growing pauses (1 s doubling to 5 min) for as long as the store is open, so that an
  /// upload cut short by a lost connection does not keep its parts stored for a day,
  /// until the sweep at a later open.
  void abort_upload(std::string object, std::string upload_id, std::function<void()> done);

  /// Destination checks shared by copy and move of a file (`directory`: of a directory).
  void check_destination(const StoreKey& to, bool overwrite, bool directory,
                         std::function<void(Result<void>)> done);

 private:
  struct Call;
  using CallPtr = std::shared_ptr<Call>;
  void attempt(const CallPtr& call);
  void answered(const CallPtr& call, HttpResponse response);
  void stop_timer(Call& call);
  /// Sends the aborts that failed again once the pause is over (abort_upload).
  void schedule_aborts();
  void send_pending_aborts();
  /// Drops every request, in flight or waiting for its retry; gives their replies.
  std::vector<Reply> drop_calls();

  S3StoreOptions options_;
  s3::Endpoint endpoint_;
  uv_loop_t* loop_;
  std::unique_ptr<s3::HttpClient> client_;
  /// Requests sent and not yet replied, by the store's id.
  std::map<RequestId, CallPtr> calls_;
  RequestId next_call_ = 1;
  std::minstd_rand jitter_;
  /// Uploads whose abort the server did not get yet: (object key, upload id).
  std::vector<std::pair<std::string, std::string>> pending_aborts_;
  std::optional<core::Executor::TimerId> abort_timer_;
  std::chrono::milliseconds abort_pause_{0};
  bool closed_ = false;
  std::shared_ptr<S3MetadataCache> metadata_;
  KnownKeys known_keys_;
  std::optional<core::Executor::TimerId> metadata_timer_;
  bool saving_metadata_ = false;
  PartsInFlight parts_in_flight_;
  /// When the store was opened: uploads initiated well before it are stale.
  std::chrono::system_clock::time_point opened_ = std::chrono::system_clock::now();
};

}  // namespace tetherd::stores::s3
