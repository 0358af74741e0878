#include "store_opener.hpp"

#include <cstdlib>
#include <memory>
#include <optional>

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
  options.connections = sftp.connections;
  options.timeout = sftp.timeout;
  return options;
}

stores::S3StoreOptions s3_options(const std::string& name, const config::S3StoreConfig& s3,
                                  const stores::S3Credentials& keys) {
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
  options.access_key = keys.access_key;
  options.secret_key = keys.secret_key;
  options.session_token = keys.session_token;
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
  // The keys come from the config's file, the environment or ~/.aws (read on a worker);
  // the store itself does no I/O to open and is made on the loop thread (libcurl runs on
  // the loop).
  on_worker<stores::S3Credentials>(
      executor,
      [file = s3.credentials_file.string(), profile = s3.profile] {
        return stores::find_s3_credentials(file, profile, std::getenv);
      },
      [&executor, name = wanted.name, s3, attempt](core::Result<stores::S3Credentials> keys) {
        if (attempt->cancelled) return;
        if (!keys) {
          core::StoreError error = keys.error();
          error.store = name;
          return attempt->finish(std::move(error));
        }
        auto store = stores::open_s3_store(executor, s3_options(name, s3, *keys));
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
