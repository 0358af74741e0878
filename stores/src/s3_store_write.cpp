// The S3 store's writes: one PUT up to the multipart threshold, a multipart upload above it,
// its parts uploaded in parallel; and the part sizes of multipart uploads and copies.

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "s3_store_impl.hpp"

namespace tetherd::stores::s3 {

Result<std::uint64_t> part_size_for(std::uint64_t size, std::uint64_t configured) {
  if (size > kMaxObjectSize) return error_of(Errc::NoSpace, "S3 objects are at most 5 TiB");
  if (size <= configured * kMaxParts) return configured;
  constexpr std::uint64_t kMiB = 1u << 20;
  const std::uint64_t least = (size + kMaxParts - 1) / kMaxParts;
  return (least + kMiB - 1) / kMiB * kMiB;
}

std::uint64_t streamed_part_size(std::size_t number, std::uint64_t configured) {
  // Parts past kMaxParts are never sent: capping the exponent keeps the shift defined.
  const std::uint64_t doublings = std::min<std::uint64_t>((number - 1) / 1000, 9);
  return std::min(configured << doublings, kMaxPartSize);
}

namespace {

/// Parts of one write in flight at once (fewer when max_concurrency is lower). Every part
/// is held in memory until S3 answers it, so this bounds a write's memory (see WriteJob);
/// four keep data flowing while a part is being hashed or awaits its answer, and leave
/// connections to the writes beside this one.
constexpr std::size_t kPartsInFlight = 4;

/// One write. The source is read into `buffer`; at its end, if it held no more than
/// multipart_threshold, the buffer goes in one PUT. Otherwise (or at once, for a source
/// whose known size is above the threshold) a multipart upload is created, and the buffer is
/// cut into parts as it fills: each full part is sent as soon as there is room for it, while
/// reading goes on, so reading and uploading overlap. Parts answer in any order; their ETags
/// are kept by part number. Once the source has ended and every part answered, the upload
/// is completed. On a failure (a part, the source, a request) or a cancel nothing new
/// starts, the parts in flight are dropped and the upload is aborted.
///
/// Memory. A part stays in memory from the moment it is cut until S3 answers (a throttled
/// part is sent again as it was). Reading stops while a whole part waits for room, and the
/// parts in flight are at most `width`, of at most width × base_part_size bytes together
/// (a part larger than that goes alone). So a multipart write holds at most
/// (width + 1) × base_part_size: 5 × 8 MiB with the defaults. base_part_size is part_size
/// except for a known size above 10,000 parts (at most 525 MiB, at S3's 5 TiB). The parts
/// of a stream of unknown size grow past part 1,000 (streamed_part_size): then the write
/// holds at most width × base_part_size plus one grown part, or two grown parts once they
/// are larger than that (2 × 4 GiB at the end of a 5 TiB stream of 8 MiB parts). Before the
/// upload is decided, a source of unknown size is buffered up to multipart_threshold: it
/// may yet fit one PUT, whose body is in memory too.
struct WriteJob : std::enable_shared_from_this<WriteJob> {
  /// A part being uploaded.
  struct Part {
    S3Store::RequestId request = 0;
    std::size_t size = 0;
  };

  S3StorePtr store;
  StoreKey key;
  std::string object;
  core::ByteSourcePtr source;
  core::WriteOptions options;
  OperationRef op;
  Callback<EntryInfo> done;
  TimePoint mtime;

  std::string buffer;    ///< read from the source; buffer[sent..] not yet in a part
  std::size_t sent = 0;  ///< the bytes at the front of buffer that are in parts already
  std::uint64_t total = 0;
  bool at_end = false;                      ///< the source has ended
  std::optional<std::uint64_t> known_size;  ///< source->size()
  /// The size of every part but the last for a known size; the first parts' otherwise.
  std::uint64_t base_part_size = 0;
  std::size_t width = 1;  ///< most parts in flight
  bool multipart = false;
  std::string upload_id;
  /// By part number - 1, one for every part sent; set once the part answered.
  std::vector<std::string> etags;
  std::map<std::size_t, Part> in_flight;  ///< by part number
  std::uint64_t bytes_in_flight = 0;
  std::optional<StoreError> failure;  ///< the first: once set, nothing new starts
  bool reading = false;
  bool initiating = false;  ///< CreateMultipartUpload is out: it runs to its answer
  bool completing = false;
  bool committed = false;  ///< the final request is out: a cancel no longer stops us
  bool finished = false;   ///< `done` has run, or runs once the abort is through

  std::shared_ptr<WriteJob> self() { return shared_from_this(); }

  void start() {
    const auto& config = store->options();
    width = std::min(kPartsInFlight, static_cast<std::size_t>(config.max_concurrency));
    base_part_size = config.part_size;
    known_size = source->size();
    if (known_size) {
      auto chosen = part_size_for(*known_size, config.part_size);
      if (!chosen) {
        finished = true;
        return done(chosen.error());
      }
      base_part_size = *chosen;
      multipart = *known_size > config.multipart_threshold;
    }
    auto job = self();
    op->set_cancel_hook([job] { job->on_cancel(); });
    store->check_file_target(key, [job](Result<void> ok) {
      if (!ok) return job->fail(ok.error());
      job->advance();
    });
  }

  void on_cancel() {
    if (committed || finished) return;
    fail(error_of(Errc::Cancelled, {}));
  }

  std::size_t unsent() const { return buffer.size() - sent; }
  std::size_t next_part() const { return etags.size() + 1; }
  std::uint64_t part_size(std::size_t number) const {
    return known_size ? base_part_size : streamed_part_size(number, base_part_size);
  }

  /// Takes the next `size` unsent bytes out of the buffer: a whole buffer is moved, not
  /// copied (a multipart write reads exactly one part into it).
  std::string take(std::size_t size) {
    if (sent == 0 && size == buffer.size()) return std::exchange(buffer, {});
    std::string part = buffer.substr(sent, size);
    sent += size;
    return part;
  }

  void append(const Bytes& chunk) {
    // Once parts are cut, the buffer starts anew with room for one whole part, taking over
    // what is left of the old one (less than a part: reading waits while a part does).
    if (multipart && (sent > 0 || buffer.empty())) {
      std::string fresh;
      fresh.reserve(static_cast<std::size_t>(part_size(next_part())));
      fresh.append(buffer, sent);
      buffer = std::move(fresh);
      sent = 0;
    }
    buffer.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    total += chunk.size();
  }

  /// The next step after any event: reads on, creates the upload, starts the parts that
  /// are ready and have room, completes once everything is up.
  void advance() {
    if (finished || failure) return;
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
    if (!multipart) {
      if (at_end) return put_whole();
      if (!reading) read_more();
      return;
    }
    if (upload_id.empty()) {
      if (!initiating) initiate();
    } else if (!start_parts()) {
      return;
    }
    if (!reading && !at_end && unsent() < part_size(next_part())) read_more();
    if (at_end && !upload_id.empty() && unsent() == 0 && in_flight.empty() && !etags.empty())
      complete();
  }

  void read_more() {
    // A multipart write reads up to the end of the part being filled, so that parts come
    // out whole and go without being copied.
    std::size_t want = kSourceChunk;
    if (multipart) want = std::min<std::uint64_t>(want, part_size(next_part()) - unsent());
    reading = true;
    auto job = self();
    source->read(want, [job](Result<Bytes> chunk) { job->on_chunk(std::move(chunk)); });
  }

  void on_chunk(Result<Bytes> chunk) {
    reading = false;
    if (finished) return;
    if (failure) return settle();
    if (!chunk) return fail(chunk.error());
    if (chunk->empty()) {
      at_end = true;
    } else {
      append(*chunk);
      if (total > kMaxObjectSize)
        return fail(error_of(Errc::NoSpace, "S3 objects are at most 5 TiB"));
      if (unsent() > store->options().multipart_threshold) multipart = true;
    }
    advance();
  }

  /// Sends every part that is ready (whole, or the last) while there is room; false when
  /// the write failed.
  bool start_parts() {
    while (true) {
      const std::size_t number = next_part();
      const std::uint64_t size = part_size(number);
      const bool whole = unsent() >= size;
      // The last part is what is left at the end; a size that is a whole number of parts
      // leaves nothing, and no empty part is sent (S3 may refuse one; it would be a useless
      // request anyway). Only a source that ended before its first part sends one.
      const bool last = at_end && !whole && (unsent() > 0 || number == 1);
      if (!whole && !last) return true;
      if (number > kMaxParts) {
        fail(error_of(Errc::NoSpace, "the object needs more than S3's 10,000 parts"));
        return false;
      }
      const std::size_t part = whole ? static_cast<std::size_t>(size) : unsent();
      const bool room = in_flight.empty() || (in_flight.size() < width &&
                                              bytes_in_flight + part <= width * base_part_size);
      if (!room) return true;
      send_part(number, take(part));
    }
  }

  Pairs object_headers() const {
    Pairs headers = metadata_headers(mtime, options.mode);
    headers.emplace_back("Content-Type", "application/octet-stream");
    return headers;
  }

  void initiate() {
    auto job = self();
    initiating = true;
    store->send(
        "POST", object, {{"uploads", ""}}, object_headers(), {}, [job](HttpResponse response) {
          job->initiating = false;
          std::optional<std::string> id;
          if (ok_status(response)) id = s3::parse_upload_id(response.body);
          if (id) job->upload_id = *id;
          // Failed or cancelled meanwhile: the upload just made is aborted.
          if (job->failure) return job->settle();
          if (!ok_status(response))
            return job->fail(s3::map_failure(response, "CreateMultipartUpload"));
          if (!id) return job->fail(error_of(Errc::Protocol, "CreateMultipartUpload: no UploadId"));
          job->advance();
        });
  }

  void send_part(std::size_t number, std::string part) {
    const std::size_t size = part.size();
    Pairs headers{{"Content-MD5", s3::md5_base64(part)}};
    auto job = self();
    const auto request = store->send(
        "PUT", object, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
        std::move(headers), std::move(part),
        [job, number](HttpResponse response) { job->part_answered(number, std::move(response)); });
    etags.emplace_back();
    in_flight[number] = Part{request, size};
    bytes_in_flight += size;
    auto& counts = store->parts_in_flight();
    counts.peak = std::max(counts.peak, ++counts.now);
  }

  /// Forgets part `number` as in flight; false if it was not (dropped).
  bool land(std::size_t number) {
    auto it = in_flight.find(number);
    if (it == in_flight.end()) return false;
    bytes_in_flight -= it->second.size;
    in_flight.erase(it);
    --store->parts_in_flight().now;
    return true;
  }

  void part_answered(std::size_t number, HttpResponse response) {
    if (!land(number) || finished) return;
    if (!ok_status(response)) return fail(s3::map_failure(response, "UploadPart"));
    auto* etag = response.header("etag");
    if (!etag) return fail(error_of(Errc::Protocol, "UploadPart: no ETag"));
    etags[number - 1] = *etag;
    advance();
  }

  void put_whole() {
    committed = true;
    Pairs headers = object_headers();
    headers.emplace_back("Content-MD5", s3::md5_base64(buffer));
    if (!options.overwrite) headers.emplace_back("If-None-Match", "*");
    auto job = self();
    store->send("PUT", object, {}, std::move(headers), std::move(buffer),
                [job](HttpResponse response) {
                  if (ok_status(response)) {
                    if (const auto* etag = response.header("etag")) job->remember_written(*etag);
                    return job->succeed();
                  }
                  if (response.status == 412 && !job->options.overwrite)
                    return job->fail(error_of(Errc::AlreadyExists, {}));
                  job->fail(s3::map_failure(response, "PUT"));
                });
  }

  void complete() {
    if (completing) return;
    completing = true;
    auto job = self();
    auto send_complete = [job] {
      job->committed = true;
      Pairs headers;
      if (!job->options.overwrite) headers.emplace_back("If-None-Match", "*");
      job->store->send("POST", job->object, {{"uploadId", job->upload_id}}, std::move(headers),
                       s3::complete_multipart_body(job->etags), [job](HttpResponse response) {
                         auto body_error = s3::parse_error(response.body);
                         if (ok_status(response) && !body_error) {
                           job->upload_id.clear();
                           if (auto etag = s3::parse_complete_etag(response.body))
                             job->remember_written(*etag);
                           return job->succeed();
                         }
                         if (response.status == 412 && !job->options.overwrite)
                           return job->fail(error_of(Errc::AlreadyExists, {}));
                         if (ok_status(response)) response.status = 500;
                         job->fail(s3::map_failure(response, "CompleteMultipartUpload"));
                       });
    };
    if (options.overwrite) return send_complete();
    // radosgw 16 ignores If-None-Match on CompleteMultipartUpload (AWS honours it), so a
    // no-clobber multipart write also looks first; between that HEAD and the completion
    // another writer could still slip in (see s3_store.hpp).
    store->head(object, [job, send_complete](Result<std::optional<ObjectHead>> existing) {
      if (job->finished || job->failure) return;  // cancelled meanwhile: aborted already
      if (!existing) return job->fail(existing.error());
      if (*existing) return job->fail(error_of(Errc::AlreadyExists, {}));
      if (job->op->cancel_requested()) return job->fail(error_of(Errc::Cancelled, {}));
      send_complete();
    });
  }

  /// Records the metadata the write stored, under the ETag the PUT or the completion
  /// answered with, so that the next listing reports it without a HEAD.
  void remember_written(const std::string& etag) {
    S3MetadataCache::Version version;
    version.etag = etag;
    version.size = total;
    version.mtime_ns = mtime.time_since_epoch().count();
    version.mode = options.mode;
    store->metadata().remember(object, std::move(version));
  }

  void succeed() {
    if (finished) return;
    finished = true;
    EntryInfo info;
    info.key = key;
    info.type = EntryType::File;
    info.size = total;
    info.mtime = mtime;
    info.mode = options.mode;
    done(std::move(info));
  }

  /// Fails the write with `error` (the first failure counts): nothing new starts, the parts
  /// in flight are dropped and a pending read is cancelled; settle() reports it.
  void fail(StoreError error) {
    if (finished || failure) return;
    failure = std::move(error);
    for (const auto& entry : in_flight) {
      store->cancel_request(entry.second.request);
      --store->parts_in_flight().now;
    }
    in_flight.clear();
    bytes_in_flight = 0;
    if (reading) source->cancel();  // the read completes soon, with Cancelled
    settle();
  }

  /// Once neither a read nor CreateMultipartUpload is pending (a pending read keeps the
  /// source in use; the upload's id is learnt only from its answer): aborts the upload, so
  /// that no parts stay stored (and billed), then reports the failure.
  void settle() {
    if (finished || reading || initiating) return;
    finished = true;
    if (upload_id.empty()) return done(std::move(*failure));
    auto job = self();
    store->abort_upload(object, upload_id, [job]() { job->done(std::move(*job->failure)); });
  }
};

}  // namespace

void S3Store::do_write(const StoreKey& key, core::ByteSourcePtr source, core::WriteOptions options,
                       const OperationRef& op, Callback<EntryInfo> done) {
  auto job = std::make_shared<WriteJob>();
  job->store = self();
  job->key = key;
  job->object = object_key(key);
  job->source = std::move(source);
  job->options = options;
  job->op = op;
  job->done = std::move(done);
  job->mtime =
      options.mtime.value_or(TimePoint(std::chrono::system_clock::now().time_since_epoch()));
  job->start();
}

}  // namespace tetherd::stores::s3
