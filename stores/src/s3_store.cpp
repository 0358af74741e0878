// The S3 store's operations (see s3_store.hpp for what it declares and why). Each
// operation is a short chain of HTTP requests on the HttpClient; the chain's closures hold
// the store alive. Requests are signed at the moment they are made.

#include "tetherd/stores/s3_store.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>
#include <map>
#include <memory>

#include "s3_http.hpp"
#include "s3_request.hpp"
#include "s3_xml.hpp"
#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::stores {

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
using s3::HttpResponse;
using s3::Pairs;

namespace {

/// Ranged GETs fetch this much at a time: the memory a reader holds.
constexpr std::uint64_t kReadChunk = 8u << 20;
/// A source is read in chunks of this size while a write buffers its data.
constexpr std::size_t kSourceChunk = 1u << 20;
constexpr std::uint64_t kMinPartSize = 5u << 20;
constexpr std::size_t kMaxObjectKey = 1024;

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

/// "Mon, 07 Dec 2026 11:00:00 GMT" (HEAD's Last-Modified).
std::optional<TimePoint> parse_http_date(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end) return std::nullopt;
  return TimePoint(std::chrono::seconds(timegm(&tm)));
}

std::string mtime_value(TimePoint when) {
  return std::to_string(when.time_since_epoch().count());
}

std::string mode_value(std::uint32_t mode) {
  char buffer[16];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, mode & 07777u, 8);
  return std::string(buffer, result.ptr);
}

/// What HEAD tells about an object: size, our metadata, the ETag pinning its version.
struct ObjectHead {
  std::uint64_t size = 0;
  std::optional<TimePoint> mtime;
  std::optional<std::uint32_t> mode;
  std::string etag;
};

ObjectHead head_of(const HttpResponse& response) {
  ObjectHead head;
  if (auto* length = response.header("content-length"))
    std::from_chars(length->data(), length->data() + length->size(), head.size);
  if (auto* etag = response.header("etag")) head.etag = *etag;
  if (auto* mtime = response.header("x-amz-meta-mtime")) {
    std::int64_t ns = 0;
    auto parsed = std::from_chars(mtime->data(), mtime->data() + mtime->size(), ns);
    if (parsed.ec == std::errc() && parsed.ptr == mtime->data() + mtime->size())
      head.mtime = TimePoint(std::chrono::nanoseconds(ns));
  }
  if (!head.mtime) {
    if (auto* modified = response.header("last-modified")) head.mtime = parse_http_date(*modified);
  }
  if (auto* mode = response.header("x-amz-meta-mode")) {
    std::uint32_t value = 0;
    auto parsed = std::from_chars(mode->data(), mode->data() + mode->size(), value, 8);
    if (parsed.ec == std::errc() && value <= 07777u) head.mode = value;
  }
  return head;
}

Pairs metadata_headers(const std::optional<TimePoint>& mtime,
                       const std::optional<std::uint32_t>& mode) {
  Pairs headers;
  if (mtime) headers.emplace_back("x-amz-meta-mtime", mtime_value(*mtime));
  if (mode) headers.emplace_back("x-amz-meta-mode", mode_value(*mode));
  return headers;
}

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
  S3Store(core::Executor& executor, S3StoreOptions options, s3::Endpoint endpoint, uv_loop_t* loop)
      : Store(executor, options.name, capabilities()),
        options_(std::move(options)),
        endpoint_(std::move(endpoint)),
        client_(std::make_unique<s3::HttpClient>(
            loop, s3::HttpClientOptions{options_.max_concurrency, options_.ca_file})) {
    while (!options_.prefix.empty() && options_.prefix.front() == '/')
      options_.prefix.erase(0, 1);
    while (!options_.prefix.empty() && options_.prefix.back() == '/')
      options_.prefix.pop_back();
  }

  static core::CapabilitySet capabilities() {
    core::CapabilitySet set{
        Capability::Read, Capability::Write, Capability::Delete, Capability::List, Capability::Move,
        Capability::Copy, Capability::AtomicWrite, Capability::Metadata, Capability::SetMtime,
        Capability::SetMode, Capability::Mkdir, Capability::AtomicReplace,
        Capability::NoClobberCreate, Capability::LazyRead, Capability::ServerSideCopy,
        // S3 answers a PUT, a completed multipart upload or a copy only
        // once the object is stored durably: nothing is left to flush.
        Capability::Durable};
    set.mtime_precision = std::chrono::nanoseconds(1);
    return set;
  }

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

  s3::HttpClient::RequestId send(std::string method, const std::string& key, const Pairs& query,
                                 Pairs headers, std::string body, Reply reply) {
    if (!client_) {  // closed: streams outliving the store fail like a lost connection
      executor().post([reply] {
        HttpResponse response;
        response.transport_code = CURLE_COULDNT_CONNECT;
        response.transport_error = "the store is closed";
        reply(std::move(response));
      });
      return 0;
    }
    auto request = s3::make_request(endpoint_, std::move(method), key, query, std::move(headers),
                                    std::move(body), std::chrono::system_clock::now());
    return client_->start(std::move(request), std::move(reply));
  }
  void cancel_request(s3::HttpClient::RequestId id) {
    if (client_ && id != 0) client_->cancel(id);
  }

  /// HEAD: the object, nullopt when there is none.
  void head(const std::string& key, std::function<void(Result<std::optional<ObjectHead>>)> done) {
    send("HEAD", key, {}, {}, {}, [done](HttpResponse response) {
      if (ok_status(response)) return done(std::optional<ObjectHead>(head_of(response)));
      if (response.status == 404) return done(std::optional<ObjectHead>());
      done(s3::map_failure(response, "HEAD"));
    });
  }

  void list_page(const std::string& prefix, bool delimited, int max_keys, const std::string& token,
                 std::function<void(Result<s3::ListPage>)> done) {
    Pairs query{{"list-type", "2"},
                {"prefix", prefix},
                {"encoding-type", "url"},
                {"max-keys", std::to_string(max_keys)}};
    if (delimited) query.emplace_back("delimiter", "/");
    if (!token.empty()) query.emplace_back("continuation-token", token);
    send("GET", "", query, {}, {}, [done](HttpResponse response) {
      if (!ok_status(response)) return done(s3::map_failure(response, "ListObjectsV2"));
      auto page = s3::parse_list_page(response.body);
      if (!page) return done(error_of(Errc::Protocol, "ListObjectsV2: unreadable answer"));
      done(std::move(*page));
    });
  }

  /// Every object key under `prefix` (all pages).
  void list_all(std::string prefix, std::function<void(Result<std::vector<s3::ListedObject>>)> done,
                std::shared_ptr<std::vector<s3::ListedObject>> so_far = nullptr,
                std::string token = {}) {
    if (!so_far) so_far = std::make_shared<std::vector<s3::ListedObject>>();
    auto store = self();
    list_page(prefix, false, 1000, token, [store, prefix, done, so_far](Result<s3::ListPage> page) {
      if (!page) return done(page.error());
      for (auto& object : page->objects)
        so_far->push_back(std::move(object));
      if (!page->truncated) return done(std::move(*so_far));
      store->list_all(prefix, done, so_far, page->continuation);
    });
  }

  /// One listing of a single key below the prefix: the endpoint answers, the bucket exists,
  /// and these keys may read it.
  void check_access(core::Callback<void> done) {
    auto store = self();
    list_page(dir_prefix(StoreKey::root()), true, 1, {}, [store, done](Result<s3::ListPage> page) {
      if (page) return done(core::success());
      StoreError error = page.error();
      error.store = store->name();
      error.operation = core::Operation::Open;
      done(std::move(error));
    });
  }

  /// What `key` is: a file (HEAD), a directory (a marker or keys below), or nothing.
  void probe(const StoreKey& key, std::function<void(Result<Probe>)> done) {
    if (key.is_root()) return done(Probe{Probe::Kind::Directory, {}, false});
    auto store = self();
    head(object_key(key), [store, key, done](Result<std::optional<ObjectHead>> file) {
      if (!file) return done(file.error());
      if (*file) return done(Probe{Probe::Kind::File, **file, false});
      const std::string prefix = store->dir_prefix(key);
      store->list_page(prefix, false, 1, {}, [store, prefix, done](Result<s3::ListPage> page) {
        if (!page) return done(page.error());
        if (page->objects.empty()) return done(Probe{});
        if (page->objects.front().key != prefix)
          return done(Probe{Probe::Kind::Directory, {}, false});
        store->head(prefix, [done](Result<std::optional<ObjectHead>> marker) {
          if (!marker) return done(marker.error());
          if (!*marker) return done(Probe{Probe::Kind::Directory, {}, false});
          done(Probe{Probe::Kind::Directory, **marker, true});
        });
      });
    });
  }

  /// Whether any key exists below directory `key` other than its own marker.
  void has_children(const StoreKey& key, std::function<void(Result<bool>)> done) {
    const std::string prefix = dir_prefix(key);
    list_page(prefix, false, 2, {}, [prefix, done](Result<s3::ListPage> page) {
      if (!page) return done(page.error());
      for (const auto& object : page->objects)
        if (object.key != prefix) return done(true);
      done(false);
    });
  }

  /// NotADirectory when a parent of `key` is a file (S3 would happily store "file/x").
  /// The ancestors are asked in parallel.
  void check_ancestors(const StoreKey& key, std::function<void(Result<void>)> done) {
    std::vector<StoreKey> ancestors;
    for (auto parent = key.parent(); !parent.is_root(); parent = parent.parent())
      ancestors.push_back(parent);
    if (ancestors.empty()) return done(core::success());
    struct Gather {
      std::size_t pending;
      std::optional<StoreError> error;
      std::function<void(Result<void>)> done;
    };
    auto gather = std::make_shared<Gather>(Gather{ancestors.size(), std::nullopt, done});
    for (const auto& ancestor : ancestors) {
      head(object_key(ancestor), [gather, ancestor](Result<std::optional<ObjectHead>> found) {
        if (!gather->error) {
          if (!found) {
            gather->error = found.error();
          } else if (*found) {
            gather->error = error_of(Errc::NotADirectory,
                                     "'" + core::printable(ancestor.str()) + "' is a file");
          }
        }
        if (--gather->pending > 0) return;
        if (gather->error) return gather->done(*gather->error);
        gather->done(core::success());
      });
    }
  }

  /// The checks before something is stored at `key` as a file: not a directory there, no
  /// file above it.
  void check_file_target(const StoreKey& key, std::function<void(Result<void>)> done) {
    auto store = self();
    has_children(key, [store, key, done](Result<bool> children) {
      if (!children) return done(children.error());
      if (*children) return done(error_of(Errc::IsDirectory, "a directory exists there"));
      store->check_ancestors(key, done);
    });
  }

  /// CopyObject from `from` (full key) to `to`; `headers` add the metadata directive etc.
  void copy_object(const std::string& from, const std::string& to, Pairs headers,
                   std::function<void(Result<void>)> done) {
    headers.emplace_back("x-amz-copy-source",
                         "/" + endpoint_.bucket + "/" + s3::uri_encode(from, true));
    send("PUT", to, {}, std::move(headers), {}, [done](HttpResponse response) {
      // CopyObject may fail after its 200 header went out: the error is then the body.
      auto body_error = s3::parse_error(response.body);
      if (ok_status(response) && !body_error) return done(core::success());
      if (ok_status(response)) response.status = 500;
      done(s3::map_failure(response, "CopyObject"));
    });
  }

  void delete_object(const std::string& key, std::function<void(Result<void>)> done) {
    send("DELETE", key, {}, {}, {}, [done](HttpResponse response) {
      if (ok_status(response) || response.status == 404) return done(core::success());
      done(s3::map_failure(response, "DELETE"));
    });
  }

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
                  std::optional<std::uint32_t> mode, std::function<void(Result<void>)> done) {
    send("PUT", dir_prefix(key), {}, metadata_headers(mtime, mode), {},
         [done](HttpResponse response) {
           if (ok_status(response)) return done(core::success());
           done(s3::map_failure(response, "PUT (directory marker)"));
         });
  }

  const S3StoreOptions& options() const { return options_; }
  const s3::Endpoint& endpoint() const { return endpoint_; }

 protected:
  void do_stat(const StoreKey& key, const OperationRef&, Callback<EntryInfo> done) override {
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

  void do_list(const StoreKey& dir, core::ListOptions options, const OperationRef&,
               Callback<core::EntryStreamPtr> done) override;
  void do_read(const StoreKey& key, core::ReadRange range, const OperationRef&,
               Callback<core::ByteSourcePtr> done) override;
  void do_write(const StoreKey& key, core::ByteSourcePtr source, core::WriteOptions options,
                const OperationRef& op, Callback<EntryInfo> done) override;

  void do_copy(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef&,
               Callback<void> done) override {
    auto store = self();
    probe(from, [store, from, to, overwrite, done](Result<Probe> source) {
      if (!source) return done(source.error());
      if (source->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
      if (source->kind == Probe::Kind::Directory)
        return done(error_of(Errc::IsDirectory, "copy takes files; this is a directory"));
      if (from == to) return done(core::success());
      store->check_destination(to, overwrite, false, [store, from, to, done](Result<void> ok) {
        if (!ok) return done(ok.error());
        store->copy_object(store->object_key(from), store->object_key(to), {}, done);
      });
    });
  }

  void do_move(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef& op,
               Callback<void> done) override;

  void do_remove(const StoreKey& key, bool missing_ok, const OperationRef&,
                 Callback<void> done) override {
    auto store = self();
    head(object_key(key), [store, key, missing_ok, done](Result<std::optional<ObjectHead>> file) {
      if (!file) return done(file.error());
      if (*file) return store->delete_object(store->object_key(key), done);
      store->has_children(key, [store, key, missing_ok, done](Result<bool> directory) {
        if (!directory) return done(directory.error());
        if (*directory) return done(error_of(Errc::IsDirectory, "rmdir removes directories"));
        // A marker alone is an (empty) directory too.
        store->head(store->dir_prefix(key),
                    [store, key, missing_ok, done](Result<std::optional<ObjectHead>> marker) {
                      if (!marker) return done(marker.error());
                      if (*marker)
                        return done(error_of(Errc::IsDirectory, "rmdir removes directories"));
                      store->check_ancestors(key, [missing_ok, done](Result<void> ancestors) {
                        if (!ancestors) return done(ancestors.error());
                        if (missing_ok) return done(core::success());
                        done(error_of(Errc::NotFound, {}));
                      });
                    });
      });
    });
  }

  void do_mkdir(const StoreKey& key, core::MkdirOptions options, const OperationRef&,
                Callback<void> done) override {
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
                          options.mode, done);
      });
    });
  }

  void do_rmdir(const StoreKey& key, bool recursive, const OperationRef&,
                Callback<void> done) override {
    auto store = self();
    probe(key, [store, key, recursive, done](Result<Probe> found) {
      if (!found) return done(found.error());
      if (found->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
      if (found->kind == Probe::Kind::File)
        return done(error_of(Errc::NotADirectory, "remove deletes files"));
      if (!recursive) {
        return store->has_children(key, [store, key, done](Result<bool> children) {
          if (!children) return done(children.error());
          if (*children) return done(error_of(Errc::DirectoryNotEmpty, {}));
          store->delete_object(store->dir_prefix(key), done);
        });
      }
      store->list_all(
          store->dir_prefix(key), [store, done](Result<std::vector<s3::ListedObject>> objects) {
            if (!objects) return done(objects.error());
            for_all<s3::ListedObject>(
                std::move(*objects),
                [store](const s3::ListedObject& object, std::function<void(Result<void>)> next) {
                  store->delete_object(object.key, std::move(next));
                },
                done);
          });
    });
  }

  void do_set_attrs(const StoreKey& key, core::Attrs attrs, const OperationRef&,
                    Callback<void> done) override {
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

  void do_symlink(const StoreKey&, std::string, const OperationRef&, Callback<void> done) override {
    done(error_of(Errc::CapabilityNotSupported, "an S3 bucket has no symlinks"));
  }
  void do_readlink(const StoreKey&, const OperationRef&, Callback<std::string> done) override {
    done(error_of(Errc::CapabilityNotSupported, "an S3 bucket has no symlinks"));
  }

  core::Resolution do_resolve(const StoreKey& key) const override {
    return {"s3", "s3://" + endpoint_.bucket + "/" + object_key(key),
            endpoint_.scheme + "://" + endpoint_.host +
                (endpoint_.path_style ? " (path-style)" : "") + ", region " + endpoint_.region};
  }

  void do_close(Callback<void> done) override {
    auto client = std::shared_ptr<s3::HttpClient>(std::move(client_));
    client->close([client, done] { done(core::success()); });
  }

  std::optional<StoreError> reject_key(const StoreKey& key) const override {
    if (!valid_utf8(key.str()))
      return error_of(Errc::InvalidPath, "S3 keys are UTF-8 text; this name is not valid UTF-8");
    if (dir_prefix(key).size() > kMaxObjectKey)
      return error_of(Errc::InvalidPath, "S3 keys are at most 1024 bytes (prefix included)");
    return std::nullopt;
  }

 public:
  /// Destination checks shared by copy and move of a file (`directory`: of a directory).
  void check_destination(const StoreKey& to, bool overwrite, bool directory,
                         std::function<void(Result<void>)> done) {
    auto store = self();
    probe(to, [store, to, overwrite, directory, done](Result<Probe> found) {
      if (!found) return done(found.error());
      if (found->kind == Probe::Kind::Directory && !directory)
        return done(error_of(Errc::IsDirectory, "the destination is a directory"));
      if (found->kind == Probe::Kind::File && directory)
        return done(error_of(Errc::NotADirectory, "the destination is a file"));
      if (found->kind != Probe::Kind::Missing && !overwrite)
        return done(error_of(Errc::AlreadyExists, {}));
      auto then = [store, to, done](Result<void> ok) {
        if (!ok) return done(ok.error());
        store->check_ancestors(to, done);
      };
      if (found->kind == Probe::Kind::Directory) {
        return store->has_children(to, [then](Result<bool> children) {
          if (!children) return then(children.error());
          if (*children) return then(error_of(Errc::DirectoryNotEmpty, {}));
          then(core::success());
        });
      }
      then(core::success());
    });
  }

 private:
  S3StoreOptions options_;
  s3::Endpoint endpoint_;
  std::unique_ptr<s3::HttpClient> client_;
};

// ---- reading ---------------------------------------------------------------------------

/// Streams a byte range of one object version in kReadChunk-sized ranged GETs, each pinned
/// with If-Match to the ETag of the first.
class S3ByteSource final : public core::ByteSource {
 public:
  S3ByteSource(S3StorePtr store, std::string key, std::string etag, std::string first,
               std::uint64_t next, std::uint64_t end)
      : store_(std::move(store)),
        key_(std::move(key)),
        etag_(std::move(etag)),
        buffer_(std::move(first)),
        next_(next),
        end_(end),
        total_((end - next) + buffer_.size()) {}

  void read(std::size_t max_bytes, Callback<Bytes> done) override {
    auto& executor = store_->executor();
    if (cancelled_) return executor.post([done] { done(error_of(Errc::Cancelled, {})); });
    if (error_) return executor.post([done, error = *error_] { done(error); });
    if (position_ < buffer_.size()) {
      const std::size_t count = std::min(max_bytes, buffer_.size() - position_);
      auto chunk = core::to_bytes(std::string_view(buffer_).substr(position_, count));
      position_ += count;
      return executor.post([done, chunk = std::move(chunk)] { done(chunk); });
    }
    if (next_ >= end_) return executor.post([done] { done(Bytes{}); });
    fetch(max_bytes, std::move(done));
  }

  void cancel() override {
    cancelled_ = true;
    if (pending_) {
      store_->cancel_request(request_);
      auto done = std::move(pending_);
      pending_ = nullptr;
      store_->executor().post([done] { done(error_of(Errc::Cancelled, {})); });
    }
  }

  std::optional<std::uint64_t> size() const override { return total_; }

 private:
  void fetch(std::size_t max_bytes, Callback<Bytes> done) {
    const std::uint64_t last = std::min(end_, next_ + kReadChunk) - 1;
    Pairs headers{{"Range", "bytes=" + std::to_string(next_) + "-" + std::to_string(last)}};
    if (!etag_.empty()) headers.emplace_back("If-Match", etag_);
    pending_ = std::move(done);
    auto self = std::static_pointer_cast<S3ByteSource>(shared_from_this());
    request_ = store_->send(
        "GET", key_, {}, std::move(headers), {}, [self, max_bytes](HttpResponse response) {
          auto done = std::move(self->pending_);
          self->pending_ = nullptr;
          if (!done) return;
          if (response.status == 206 && !response.body.empty()) {
            self->next_ += response.body.size();
            self->buffer_ = std::move(response.body);
            self->position_ = 0;
            return self->read(max_bytes, std::move(done));
          }
          StoreError error =
              response.status == 412
                  ? error_of(Errc::PreconditionFailed, "the object changed while it was read")
                  : s3::map_failure(response, "GET");
          if (response.status == 412) error.retryable = true;
          if (response.status == 206 || response.status == 200)
            error = error_of(Errc::Protocol, "GET: unexpected range answer");
          self->error_ = error;
          done(error);
        });
  }

  S3StorePtr store_;
  std::string key_;
  std::string etag_;
  std::string buffer_;
  std::size_t position_ = 0;
  std::uint64_t next_;   ///< offset of the next byte to fetch
  std::uint64_t end_;    ///< offset past the last byte to deliver
  std::uint64_t total_;  ///< bytes the source delivers in all
  bool cancelled_ = false;
  std::optional<StoreError> error_;
  Callback<Bytes> pending_;
  s3::HttpClient::RequestId request_ = 0;
};

void S3Store::do_read(const StoreKey& key, core::ReadRange range, const OperationRef&,
                      Callback<core::ByteSourcePtr> done) {
  auto store = self();
  const std::string object = object_key(key);
  auto not_found = [store, key, done] {
    store->probe(key, [done](Result<Probe> found) {
      if (!found) return done(found.error());
      if (found->kind == Probe::Kind::Directory)
        return done(error_of(Errc::IsDirectory, "read takes files"));
      done(error_of(Errc::NotFound, {}));
    });
  };
  auto empty = [store, object] {
    return std::make_shared<S3ByteSource>(store, object, std::string(), std::string(), 0, 0);
  };
  if (range.length && *range.length == 0) {
    return head(object, [not_found, empty, done](Result<std::optional<ObjectHead>> file) {
      if (!file) return done(file.error());
      if (!*file) return not_found();
      done(core::ByteSourcePtr(empty()));
    });
  }
  const std::uint64_t want_end =
      range.length ? range.offset + *range.length : std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t first_end = std::min(want_end, range.offset + kReadChunk);
  Pairs headers{
      {"Range", "bytes=" + std::to_string(range.offset) + "-" + std::to_string(first_end - 1)}};
  send("GET", object, {}, std::move(headers), {},
       [store, object, range, want_end, not_found, empty, done](HttpResponse response) {
         if (response.status == 404) return not_found();
         if (response.status == 416) return done(core::ByteSourcePtr(empty()));
         if (!ok_status(response)) return done(s3::map_failure(response, "GET"));
         std::string etag = response.header("etag") ? *response.header("etag") : std::string();
         std::uint64_t total = 0;
         std::string body = std::move(response.body);
         if (response.status == 206) {
           // Content-Range: bytes FIRST-LAST/TOTAL
           const std::string* content_range = response.header("content-range");
           auto slash = content_range ? content_range->rfind('/') : std::string::npos;
           if (slash == std::string::npos)
             return done(error_of(Errc::Protocol, "GET: 206 without Content-Range"));
           std::from_chars(content_range->data() + slash + 1,
                           content_range->data() + content_range->size(), total);
         } else {  // the whole object (servers answer an empty object so)
           total = body.size();
           body = range.offset < body.size() ? body.substr(range.offset) : std::string();
         }
         const std::uint64_t end = std::min(want_end, total);
         const std::uint64_t next = std::min(end, range.offset + body.size());
         if (body.size() > end - std::min(end, range.offset))
           body.resize(end - std::min(end, range.offset));
         done(core::ByteSourcePtr(std::make_shared<S3ByteSource>(store, object, std::move(etag),
                                                                 std::move(body), next, end)));
       });
}

// ---- listing ---------------------------------------------------------------------------

class S3EntryStream final : public core::EntryStream {
 public:
  S3EntryStream(core::Executor& executor, std::vector<EntryInfo> entries, std::size_t batch)
      : executor_(executor),
        entries_(std::move(entries)),
        batch_(std::max<std::size_t>(1, batch)) {}
  void next(Callback<std::vector<EntryInfo>> done) override {
    if (cancelled_) return executor_.post([done] { done(error_of(Errc::Cancelled, {})); });
    const std::size_t count = std::min(batch_, entries_.size() - position_);
    std::vector<EntryInfo> batch(entries_.begin() + static_cast<std::ptrdiff_t>(position_),
                                 entries_.begin() + static_cast<std::ptrdiff_t>(position_ + count));
    position_ += count;
    executor_.post([done, batch = std::move(batch)] { done(batch); });
  }
  void cancel() override { cancelled_ = true; }

 private:
  core::Executor& executor_;
  std::vector<EntryInfo> entries_;
  std::size_t batch_;
  std::size_t position_ = 0;
  bool cancelled_ = false;
};

void S3Store::do_list(const StoreKey& dir, core::ListOptions options, const OperationRef&,
                      Callback<core::EntryStreamPtr> done) {
  auto store = self();
  probe(dir, [store, dir, options, done](Result<Probe> found) {
    if (!found) return done(found.error());
    if (found->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
    if (found->kind == Probe::Kind::File)
      return done(error_of(Errc::NotADirectory, "list takes directories"));
    const std::string prefix = store->dir_prefix(dir);
    store->list_all(
        prefix, [store, dir, prefix, options, done](Result<std::vector<s3::ListedObject>> objects) {
          if (!objects) return done(objects.error());
          // Sorted and deduplicated by StoreKey (see the header on S3's order).
          std::map<StoreKey, EntryInfo> entries;
          auto add_directory = [&](const StoreKey& key) {
            if (key.is_root()) return;
            EntryInfo info;
            info.key = key;
            info.type = EntryType::Directory;
            entries.emplace(key, std::move(info));
          };
          for (const auto& object : *objects) {
            std::string_view relative(object.key);
            relative.remove_prefix(prefix.size());
            const bool marker = relative.empty() || relative.back() == '/';
            if (marker && !relative.empty()) relative.remove_suffix(1);
            if (relative.empty()) continue;  // the directory's own marker
            auto parsed = StoreKey::parse(relative);
            if (!parsed || parsed->str() != relative) continue;  // no StoreKey names it
            if (!options.recursive) {
              const auto slash = relative.find('/');
              if (slash != std::string_view::npos) {
                add_directory(*StoreKey::parse(relative.substr(0, slash)));
                continue;
              }
            } else {
              for (auto parent = parsed->parent(); !parent.is_root(); parent = parent.parent())
                add_directory(parent);
            }
            if (marker) {
              add_directory(*parsed);
            } else {
              EntryInfo info;
              info.key = *parsed;
              info.type = EntryType::File;
              info.size = object.size;
              entries.insert_or_assign(*parsed, std::move(info));
            }
          }
          std::vector<EntryInfo> list;
          list.reserve(entries.size());
          for (auto& entry : entries) {
            entry.second.key = dir.join(entry.first);  // keys are relative to the store root
            list.push_back(std::move(entry.second));
          }
          done(core::EntryStreamPtr(std::make_shared<S3EntryStream>(
              store->executor(), std::move(list), options.batch_size)));
        });
  });
}

// ---- writing ---------------------------------------------------------------------------

/// One write: buffers the source; a single PUT up to the multipart threshold, a multipart
/// upload above it (parts uploaded as they fill, aborted on failure or cancel).
struct WriteJob : std::enable_shared_from_this<WriteJob> {
  S3StorePtr store;
  StoreKey key;
  std::string object;
  core::ByteSourcePtr source;
  core::WriteOptions options;
  OperationRef op;
  Callback<EntryInfo> done;
  TimePoint mtime;

  std::string buffer;
  std::uint64_t total = 0;
  std::string upload_id;
  std::vector<std::string> etags;
  s3::HttpClient::RequestId request = 0;  ///< in flight, cancellable
  bool reading = false;
  bool initiating = false;
  bool committed = false;  ///< the final request is out: a cancel no longer stops us
  bool finished = false;

  std::shared_ptr<WriteJob> self() { return shared_from_this(); }

  void start() {
    auto job = self();
    op->set_cancel_hook([job] { job->on_cancel(); });
    store->check_file_target(key, [job](Result<void> ok) {
      job->request = 0;
      if (!ok) return job->fail(ok.error());
      job->pump();
    });
  }

  void on_cancel() {
    if (committed || finished) return;
    source->cancel();  // a pending read completes with Cancelled and fails the job
    // CreateMultipartUpload runs to its answer: dropped, it could leave an upload whose id
    // we never learn. Its callback goes on to upload_part, which sees the cancel and aborts.
    if (!reading && !initiating) fail(error_of(Errc::Cancelled, {}));
  }

  void pump() {
    if (finished) return;
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
    reading = true;
    auto job = self();
    source->read(kSourceChunk, [job](Result<Bytes> chunk) {
      job->reading = false;
      if (job->finished) return;
      if (!chunk) return job->fail(chunk.error());
      if (chunk->empty()) return job->finish_data();
      job->buffer.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
      job->total += chunk->size();
      const auto& options = job->store->options();
      if (job->upload_id.empty() && job->buffer.size() > options.multipart_threshold)
        return job->initiate();
      if (!job->upload_id.empty() && job->buffer.size() >= options.part_size)
        return job->upload_part(false);
      job->pump();
    });
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
          if (!ok_status(response))
            return job->fail(s3::map_failure(response, "CreateMultipartUpload"));
          auto id = s3::parse_upload_id(response.body);
          if (!id) return job->fail(error_of(Errc::Protocol, "CreateMultipartUpload: no UploadId"));
          job->upload_id = *id;
          job->upload_part(false);
        });
  }

  /// Uploads the next part (a full one, or with `last` whatever is left), then goes on.
  void upload_part(bool last) {
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
    const std::size_t size =
        last ? buffer.size() : static_cast<std::size_t>(store->options().part_size);
    std::string part = buffer.substr(0, size);
    buffer.erase(0, size);
    const std::string number = std::to_string(etags.size() + 1);
    Pairs headers{{"Content-MD5", s3::md5_base64(part)}};
    auto job = self();
    request = store->send("PUT", object, {{"partNumber", number}, {"uploadId", upload_id}},
                          std::move(headers), std::move(part), [job, last](HttpResponse response) {
                            job->request = 0;
                            if (!ok_status(response))
                              return job->fail(s3::map_failure(response, "UploadPart"));
                            auto* etag = response.header("etag");
                            if (!etag)
                              return job->fail(error_of(Errc::Protocol, "UploadPart: no ETag"));
                            job->etags.push_back(*etag);
                            if (last) return job->complete();
                            if (job->buffer.size() >= job->store->options().part_size)
                              return job->upload_part(false);
                            job->pump();
                          });
  }

  void finish_data() {
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
    if (!upload_id.empty()) return upload_part(true);
    committed = true;
    Pairs headers = object_headers();
    headers.emplace_back("Content-MD5", s3::md5_base64(buffer));
    if (!options.overwrite) headers.emplace_back("If-None-Match", "*");
    auto job = self();
    store->send("PUT", object, {}, std::move(headers), std::move(buffer),
                [job](HttpResponse response) {
                  if (ok_status(response)) return job->succeed();
                  if (response.status == 412 && !job->options.overwrite)
                    return job->fail(error_of(Errc::AlreadyExists, {}));
                  job->fail(s3::map_failure(response, "PUT"));
                });
  }

  void complete() {
    if (op->cancel_requested()) return fail(error_of(Errc::Cancelled, {}));
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
      if (!existing) return job->fail(existing.error());
      if (*existing) return job->fail(error_of(Errc::AlreadyExists, {}));
      if (job->op->cancel_requested()) return job->fail(error_of(Errc::Cancelled, {}));
      send_complete();
    });
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

  void fail(StoreError error) {
    if (finished) return;
    finished = true;
    if (request != 0) store->cancel_request(request);
    request = 0;
    if (upload_id.empty()) return done(std::move(error));
    // Abort the upload so no parts stay stored (and billed); then report.
    auto job = self();
    store->send(
        "DELETE", object, {{"uploadId", upload_id}}, {}, {},
        [job, error = std::move(error)](HttpResponse) mutable { job->done(std::move(error)); });
  }
};

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

// ---- moving ----------------------------------------------------------------------------

void S3Store::do_move(const StoreKey& from, const StoreKey& to, bool overwrite,
                      const OperationRef& op, Callback<void> done) {
  auto store = self();
  probe(from, [store, from, to, overwrite, op, done](Result<Probe> source) {
    if (!source) return done(source.error());
    if (source->kind == Probe::Kind::Missing) return done(error_of(Errc::NotFound, {}));
    if (from == to) return done(core::success());
    const bool directory = source->kind == Probe::Kind::Directory;
    if (directory && to.is_within(from))
      return done(error_of(Errc::InvalidPath, "cannot move a directory into itself"));
    store->check_destination(
        to, overwrite, directory, [store, from, to, directory, op, done](Result<void> ok) {
          if (!ok) return done(ok.error());
          // Past this point the move runs to its end: each object is copied, then its source
          // deleted, so an interruption leaves it at one place or the other.
          if (op->cancel_requested()) return done(error_of(Errc::Cancelled, {}));
          if (!directory) {
            const auto source_key = store->object_key(from);
            return store->copy_object(source_key, store->object_key(to), {},
                                      [store, source_key, done](Result<void> copied) {
                                        if (!copied) return done(copied.error());
                                        store->delete_object(source_key, done);
                                      });
          }
          const std::string from_prefix = store->dir_prefix(from);
          const std::string to_prefix = store->dir_prefix(to);
          store->list_all(from_prefix, [store, from_prefix, to_prefix,
                                        done](Result<std::vector<s3::ListedObject>> objects) {
            if (!objects) return done(objects.error());
            for_all<s3::ListedObject>(
                std::move(*objects),
                [store, from_prefix, to_prefix](const s3::ListedObject& object,
                                                std::function<void(Result<void>)> next) {
                  const std::string target = to_prefix + object.key.substr(from_prefix.size());
                  const std::string source_key = object.key;
                  store->copy_object(source_key, target, {},
                                     [store, source_key, next](Result<void> copied) {
                                       if (!copied) return next(copied.error());
                                       store->delete_object(source_key, next);
                                     });
                },
                done);
          });
        });
  });
}

}  // namespace

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
  if (options.part_size < kMinPartSize) return fail("part_size is below S3's 5 MiB minimum");
  if (options.multipart_threshold < options.part_size)
    return fail("multipart_threshold is below part_size");
  if (options.max_concurrency < 1) return fail("max_concurrency must be at least 1");
  auto endpoint = s3::Endpoint::parse(options.endpoint);
  if (!endpoint) return fail(endpoint.error().detail);
  endpoint->bucket = options.bucket;
  endpoint->region = options.region;
  endpoint->path_style = options.path_style;
  endpoint->credentials = {options.access_key, options.secret_key, options.session_token};
  return core::StorePtr(
      std::make_shared<S3Store>(executor, std::move(options), std::move(*endpoint), uv->loop()));
}

void check_s3_store(const core::StorePtr& store, core::Callback<void> done) {
  auto s3 = std::dynamic_pointer_cast<S3Store>(store);
  if (!s3) {
    return done(error_of(Errc::InvalidPath, "check_s3_store: not an S3 store"));
  }
  s3->check_access(std::move(done));
}

}  // namespace tetherd::stores
