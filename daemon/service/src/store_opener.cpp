#include "store_opener.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>

#include "tetherd/engine/target_listing_cache.hpp"
#include "tetherd/stores/local_store.hpp"
#include "tetherd/stores/s3_credential_chain.hpp"
#include "tetherd/stores/s3_store.hpp"
#include "tetherd/stores/sftp_store.hpp"
#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::daemon {

namespace {

/// Runs `work` on a worker and hands its result to `done` on the loop thread.
template <typename T>
void on_worker(stores::UvExecutor& executor, std::function<core::Result<T>()> work,
               core::Callback<T> done) {
  auto result = std::make_shared<std::optional<core::Result<T>>>();
  executor.run_blocking([work = std::move(work), result] { result->emplace(work()); },
                        [result, done = std::move(done)] {
                          if (*result) return done(std::move(**result));
                          done(core::StoreError::make(core::Errc::Cancelled, "open was cancelled"));
                        });
}

stores::SftpStoreOptions sftp_options(const std::string& name,
                                      const config::SftpStoreConfig& sftp) {
  stores::SftpStoreOptions options;
  options.name = name;
  options.host = sftp.host;
  options.port = sftp.port;
  options.user = sftp.user;
  options.key_file = sftp.key_file.string();
  options.known_hosts = sftp.known_hosts.string();
  options.passphrase_file = sftp.passphrase_file.string();
  options.host_key_fingerprint = sftp.host_key_fingerprint;
  options.root = sftp.root;
  options.create_root = sftp.create_root;
  options.connections = sftp.connections;
  options.timeout = sftp.timeout;
  return options;
}

/// The options of an S3 store, without its keys.
stores::S3StoreOptions s3_options(const std::string& name, const config::S3StoreConfig& s3) {
  stores::S3StoreOptions options;
  options.name = name;
  options.endpoint = s3.endpoint;
  options.region = s3.region;
  options.bucket = s3.bucket;
  options.prefix = s3.prefix;
  options.path_style = s3.path_style;
  options.ca_file = stores::s3_ca_bundle(s3.ca_file.string(), std::getenv);
  options.max_concurrency = s3.connections;
  options.multipart_threshold = s3.multipart_threshold;
  // A threshold below the default part size (the config takes 5 MiB up) cuts its uploads
  // into parts of the threshold's size: the store wants parts no larger than it.
  options.part_size = std::min(options.part_size, options.multipart_threshold);
  return options;
}

}  // namespace

core::CancelOpen open_configured_store(stores::UvExecutor& executor,
                                       const config::StoreConfig& wanted,
                                       core::Callback<core::StorePtr> done) {
  if (const auto* local = std::get_if<config::LocalStoreConfig>(&wanted.backend)) {
    stores::LocalStoreOptions options;
    options.name = wanted.name;
    options.root = local->root.string();
    options.durable = local->durable;
    // Opening a local root takes a moment on a worker; there is no server to give up on.
    on_worker<core::StorePtr>(
        executor, [&executor, options] { return stores::open_local_store(executor, options); },
        std::move(done));
    return [] {};
  }
  if (const auto* sftp = std::get_if<config::SftpStoreConfig>(&wanted.backend)) {
    return stores::open_sftp_store(executor, sftp_options(wanted.name, *sftp), std::move(done));
  }
  const auto& s3 = std::get<config::S3StoreConfig>(wanted.backend);
  // The S3 open goes through steps; `done` runs once, with the first of: the outcome, or
  // Cancelled when cancel() comes first.
  struct Attempt {
    core::Callback<core::StorePtr> done;
    core::StorePtr checking;  ///< the store whose first listing is under way
    bool cancelled = false;
    void finish(core::Result<core::StorePtr> outcome) {
      if (auto once = std::exchange(done, nullptr)) once(std::move(outcome));
    }
  };
  auto attempt = std::make_shared<Attempt>();
  attempt->done = std::move(done);
  // The keys come from the config's file, the environment or ~/.aws, and the metadata
  // cache from the state directory (both read on a worker); the store itself does no I/O
  // to open and is made on the loop thread (libcurl runs on the loop).
  struct Loaded {
    stores::S3Credentials keys;
    std::shared_ptr<stores::S3MetadataCache> metadata;
  };
  const std::string state_dir = default_state_directory();
  auto options = s3_options(wanted.name, s3);
  if (!state_dir.empty()) {
    options.metadata_cache_file =
        stores::s3_metadata_cache_file(state_dir, stores::s3_metadata_context(options));
  }
  on_worker<Loaded>(
      executor,
      [file = s3.credentials_file.string(), profile = s3.profile,
       options]() -> core::Result<Loaded> {
        auto keys = stores::find_s3_credentials(file, profile, std::getenv);
        if (!keys) return std::move(keys).error();
        auto metadata = std::make_shared<stores::S3MetadataCache>();
        if (!options.metadata_cache_file.empty()) {
          *metadata = stores::S3MetadataCache::load(options.metadata_cache_file,
                                                    stores::s3_metadata_context(options));
        }
        return Loaded{std::move(*keys), std::move(metadata)};
      },
      [&executor, name = wanted.name, options, attempt](core::Result<Loaded> loaded) mutable {
        if (attempt->cancelled) return;
        if (!loaded) {
          core::StoreError error = loaded.error();
          error.store = name;
          return attempt->finish(std::move(error));
        }
        options.access_key = loaded->keys.access_key;
        options.secret_key = loaded->keys.secret_key;
        options.session_token = loaded->keys.session_token;
        options.metadata_cache = std::move(loaded->metadata);
        auto store = stores::open_s3_store(executor, std::move(options));
        if (!store) return attempt->finish(std::move(store));
        // Opening sends nothing: one listing shows now, not at the first copy, whether the
        // endpoint answers, the bucket exists and the keys are accepted.
        attempt->checking = *store;
        stores::check_s3_store(*store, [store = *store, attempt](core::Result<void> checked) {
          if (attempt->cancelled) return;  // the cancel closed the store
          attempt->checking = nullptr;
          if (!checked) {
            store->close([store](core::Result<void>) {});
            return attempt->finish(std::move(checked).error());
          }
          attempt->finish(store);
        });
      });
  return [&executor, attempt, name = wanted.name] {
    if (attempt->cancelled || !attempt->done) return;
    attempt->cancelled = true;
    // Closing drops the listing in flight without an answer: the Cancelled comes from here.
    if (auto store = std::exchange(attempt->checking, nullptr)) {
      store->close([store](core::Result<void>) {});
    }
    executor.post([attempt, name] {
      auto error = core::StoreError::make(core::Errc::Cancelled, "open was cancelled");
      error.store = name;
      error.operation = core::Operation::Open;
      attempt->finish(std::move(error));
    });
  };
}

}  // namespace tetherd::daemon
