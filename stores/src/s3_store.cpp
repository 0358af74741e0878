// The S3 store: open and close, and the operations on one key's metadata (stat, mkdir,
// set_attrs). The class and the files holding its other operations: s3_store_impl.hpp.

#include "tetherd/stores/s3_store.hpp"

#include <curl/curl.h>

#include <chrono>
#include <memory>

#include "s3_store_impl.hpp"
#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::stores::s3 {

bool ok_status(const HttpResponse& response) {
  return response.status >= 200 && response.status < 300;
}

/// Whether `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if ((length == 2 && code < 0x80) || (length == 3 && code < 0x800) ||
        (length == 4 && (code < 0x10000 || code > 0x10FFFF)) || (code >= 0xD800 && code <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

StoreError error_of(Errc code, std::string detail) {
  return StoreError::make(code, std::move(detail));
}

S3Store::S3Store(core::Executor& executor, S3StoreOptions options, s3::Endpoint endpoint,
                 uv_loop_t* loop)
    : Store(executor, options.name, capabilities()),
      options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      loop_(loop),
      client_(std::make_unique<s3::HttpClient>(
          loop, s3::HttpClientOptions{options_.max_concurrency, options_.ca_file})),
      jitter_(std::random_device()()),
      metadata_(options_.metadata_cache ? options_.metadata_cache
                                        : std::make_shared<S3MetadataCache>()) {
  while (!options_.prefix.empty() && options_.prefix.front() == '/')
    options_.prefix.erase(0, 1);
  while (!options_.prefix.empty() && options_.prefix.back() == '/')
    options_.prefix.pop_back();
}

core::CapabilitySet S3Store::capabilities() {
  core::CapabilitySet set{Capability::Read, Capability::Write, Capability::Delete, Capability::List,
                          Capability::Move, Capability::Copy, Capability::AtomicWrite,
                          Capability::Metadata, Capability::SetMtime, Capability::SetMode,
                          Capability::Mkdir, Capability::AtomicReplace, Capability::NoClobberCreate,
                          Capability::LazyRead, Capability::ServerSideCopy,
                          // S3 answers a PUT, a completed multipart upload or a copy only
                          // once the object is stored durably: nothing is left to flush.
                          Capability::Durable};
  set.mtime_precision = std::chrono::nanoseconds(1);
  return set;
}

void S3Store::check_access(core::Callback<void> done) {
  auto store = self();
  list_page(dir_prefix(StoreKey::root()), true, 1, {}, [store, done](Result<s3::ListPage> page) {
    if (page) return done(core::success());
    StoreError error = page.error();
    error.store = store->name();
    error.operation = core::Operation::Open;
    done(std::move(error));
  });
}

void S3Store::put_marker(const StoreKey& key, std::optional<TimePoint> mtime,
                         std::optional<std::uint32_t> mode,
                         std::function<void(Result<void>)> done) {
  send("PUT", dir_prefix(key), {}, metadata_headers(mtime, mode), {},
       [done](HttpResponse response) {
         if (ok_status(response)) return done(core::success());
         done(s3::map_failure(response, "PUT (directory marker)"));
       });
}

void S3Store::do_stat(const StoreKey& key, const OperationRef&, Callback<EntryInfo> done) {
  probe(key, [key, done](Result<Probe> probe) {
    if (!probe) return done(probe.error());
    EntryInfo info;
    info.key = key;
    switch (probe->kind) {
      case Probe::Kind::Missing:
        return done(error_of(Errc::NotFound, {}));
      case Probe::Kind::File:
        info.type = EntryType::File;
        info.size = probe->head.size;
        info.mtime = probe->head.mtime;
        info.mode = probe->head.mode;
        return done(info);
      case Probe::Kind::Directory:
        info.type = EntryType::Directory;
        if (probe->marker) {
          info.mtime = probe->head.mtime;
          info.mode = probe->head.mode;
        }
        return done(info);
    }
  });
}

void S3Store::do_mkdir(const StoreKey& key, core::MkdirOptions options, const OperationRef&,
                       Callback<void> done) {
  auto store = self();
  probe(key, [store, key, options, done](Result<Probe> found) {
    if (!found) return done(found.error());
    if (found->kind == Probe::Kind::File)
      return done(error_of(Errc::AlreadyExists, "a file exists there"));
    if (found->kind == Probe::Kind::Directory && !options.mode) return done(core::success());
    if (found->kind == Probe::Kind::Directory) {
      // Existing: it ends with the mode asked for and keeps its mtime.
      auto mtime = found->marker ? found->head.mtime : std::nullopt;
      return store->put_marker(key, mtime, options.mode, done);
    }
    store->check_ancestors(key, [store, key, options, done](Result<void> ok) {
      if (!ok) return done(ok.error());
      store->put_marker(key, TimePoint(std::chrono::system_clock::now().time_since_epoch()),
                        options.mode, [store, key, done](Result<void> made) {
                          // Nothing was below it: from now on, everything below is known.
                          if (made) store->known_keys().complete(store->dir_prefix(key));
                          done(std::move(made));
                        });
    });
  });
}

void S3Store::do_set_attrs(const StoreKey& key, core::Attrs attrs, const OperationRef&,
                           Callback<void> done) {
  auto store = self();
  probe(key, [store, key, attrs, done](Result<Probe> found) {
    if (!found) return done(found.error());
    if (found->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
    auto mtime = attrs.mtime ? attrs.mtime : found->head.mtime;
    auto mode = attrs.mode ? attrs.mode : found->head.mode;
    if (found->kind == Probe::Kind::Directory) return store->put_marker(key, mtime, mode, done);
    // The object copied onto itself with new metadata; pinned to the version we looked
    // at, so a concurrent rewrite is not given stale attributes.
    Pairs headers = metadata_headers(mtime, mode);
    headers.emplace_back("x-amz-metadata-directive", "REPLACE");
    if (!found->head.etag.empty())
      headers.emplace_back("x-amz-copy-source-if-match", found->head.etag);
    const auto object = store->object_key(key);
    store->copy_object(object, object, std::move(headers), done);
  });
}

core::Resolution S3Store::do_resolve(const StoreKey& key) const {
  return {"s3", "s3://" + endpoint_.bucket + "/" + object_key(key),
          endpoint_.scheme + "://" + endpoint_.host +
              (endpoint_.path_style ? " (path-style)" : "") + ", region " + endpoint_.region};
}

void S3Store::schedule_metadata_save() {
  if (closed_ || options_.metadata_cache_file.empty()) return;
  auto store = self();
  metadata_timer_ = executor().start_timer(
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.metadata_save_interval),
      [store] {
        store->metadata_timer_.reset();
        store->save_metadata([store] { store->schedule_metadata_save(); });
      });
}

void S3Store::save_metadata(std::function<void()> done) {
  if (options_.metadata_cache_file.empty() || !metadata_->changed() || saving_metadata_)
    return done();
  // Serialized here (the cache is the loop's), written on a worker. A failed save costs
  // HEADs at the next start, nothing else: it is not an error of any operation.
  saving_metadata_ = true;
  auto bytes = std::make_shared<std::string>(metadata_->serialize(s3_metadata_context(options_)));
  auto store = self();
  executor().run_blocking([file = options_.metadata_cache_file,
                           bytes] { (void)S3MetadataCache::write_file(file, *bytes); },
                          [store, done = std::move(done)] {
                            store->saving_metadata_ = false;
                            done();
                          });
}

void S3Store::do_close(Callback<void> done) {
  closed_ = true;
  if (abort_timer_) executor().cancel_timer(*std::exchange(abort_timer_, std::nullopt));
  if (metadata_timer_) executor().cancel_timer(*std::exchange(metadata_timer_, std::nullopt));
  // No operation is in flight any more; what is left belongs to streams and sources that
  // outlive the store (their contract: usable until released) or to the background sweep.
  // Their requests, in flight or waiting for a retry, are dropped, and replied on a later
  // turn as a lost connection, just as a request made after close is (send).
  for (auto& reply : drop_calls()) {
    executor().post([reply = std::move(reply)] {
      HttpResponse response;
      response.transport_code = CURLE_COULDNT_CONNECT;
      response.transport_error = "the store is closed";
      reply(std::move(response));
    });
  }
  auto client = std::shared_ptr<s3::HttpClient>(std::move(client_));
  auto store = self();
  client->close([store, client, done] { store->save_metadata([done] { done(core::success()); }); });
}

std::optional<StoreError> S3Store::reject_key(const StoreKey& key) const {
  if (!valid_utf8(key.str()))
    return error_of(Errc::InvalidPath, "S3 keys are UTF-8 text; this name is not valid UTF-8");
  if (dir_prefix(key).size() > kMaxObjectKey)
    return error_of(Errc::InvalidPath, "S3 keys are at most 1024 bytes (prefix included)");
  return std::nullopt;
}
}  // namespace tetherd::stores::s3

namespace tetherd::stores {

using core::Errc;
using s3::error_of;
using s3::kMaxCopySize;
using s3::kMaxPartSize;
using s3::kMinPartSize;
using s3::S3Store;

core::Result<core::StorePtr> open_s3_store(core::Executor& executor, S3StoreOptions options) {
  auto fail = [&](std::string detail) -> core::Result<core::StorePtr> {
    auto error = error_of(Errc::InvalidPath, std::move(detail));
    error.store = options.name;
    error.operation = core::Operation::Open;
    return error;
  };
  auto* uv = dynamic_cast<UvExecutor*>(&executor);
  if (!uv) return fail("the S3 store runs libcurl on a libuv loop: it needs a UvExecutor");
  if (options.bucket.empty()) return fail("no bucket given");
  if (options.part_size < kMinPartSize || options.part_size > kMaxPartSize)
    return fail("part_size must lie between S3's 5 MiB and 5 GiB");
  if (options.multipart_threshold < options.part_size)
    return fail("multipart_threshold is below part_size");
  if (options.max_concurrency < 1) return fail("max_concurrency must be at least 1");
  if (options.copy_part_size < kMinPartSize || options.copy_part_size > kMaxPartSize)
    return fail("copy_part_size must lie between S3's 5 MiB and 5 GiB");
  if (options.copy_threshold > kMaxCopySize)
    return fail("copy_threshold is above the 5 GiB CopyObject takes");
  if (options.list_page_size < 1 || options.list_page_size > 1000)
    return fail("list_page_size must lie between 1 and 1,000");
  auto endpoint = s3::Endpoint::parse(options.endpoint);
  if (!endpoint) return fail(endpoint.error().detail);
  endpoint->bucket = options.bucket;
  endpoint->region = options.region;
  endpoint->path_style = options.path_style;
  endpoint->credentials = {options.access_key, options.secret_key, options.session_token};
  const bool sweep = options.abort_stale_uploads;
  auto store =
      std::make_shared<S3Store>(executor, std::move(options), std::move(*endpoint), uv->loop());
  // In the background: open does no I/O, and a failed sweep is retried at the next open.
  if (sweep)
    executor.post([store] { store->sweep_stale_uploads([](core::Result<std::size_t>) {}); });
  store->schedule_metadata_save();
  return core::StorePtr(store);
}

std::string s3_metadata_context(const S3StoreOptions& options) {
  std::string prefix = options.prefix;
  while (!prefix.empty() && prefix.front() == '/')
    prefix.erase(0, 1);
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  return "tetherd s3 metadata\nendpoint " + options.endpoint + "\nbucket " + options.bucket +
         "\nprefix " + prefix + "\n";
}

void check_s3_store(const core::StorePtr& store, core::Callback<void> done) {
  auto s3 = std::dynamic_pointer_cast<S3Store>(store);
  if (!s3) {
    return done(error_of(Errc::InvalidPath, "check_s3_store: not an S3 store"));
  }
  s3->check_access(std::move(done));
}

void sweep_s3_uploads(const core::StorePtr& store, core::Callback<std::size_t> done) {
  auto s3 = std::dynamic_pointer_cast<S3Store>(store);
  if (!s3) return done(error_of(Errc::InvalidPath, "sweep_s3_uploads: not an S3 store"));
  s3->sweep_stale_uploads(std::move(done));
}

}  // namespace tetherd::stores
