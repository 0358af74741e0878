#include "store_opener.hpp"

#include <memory>
#include <optional>

#include "tetherd/stores/local_store.hpp"
#include "tetherd/stores/sftp_store.hpp"
#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::daemon {

namespace {

/// Runs `open` on a worker and hands its result to `done` on the loop thread.
void open_on_worker(stores::UvExecutor& executor,
                    std::function<core::Result<core::StorePtr>()> open,
                    core::Callback<core::StorePtr> done) {
  auto result = std::make_shared<std::optional<core::Result<core::StorePtr>>>();
  executor.run_blocking([open = std::move(open), result] { result->emplace(open()); },
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
  options.root = sftp.root;
  return options;
}

}  // namespace

void open_configured_store(stores::UvExecutor& executor, const config::StoreConfig& wanted,
                           core::Callback<core::StorePtr> done) {
  if (const auto* local = std::get_if<config::LocalStoreConfig>(&wanted.backend)) {
    stores::LocalStoreOptions options;
    options.name = wanted.name;
    options.root = local->root.string();
    options.durable = local->durable;
    return open_on_worker(
        executor, [&executor, options] { return stores::open_local_store(executor, options); },
        std::move(done));
  }
  if (const auto* sftp = std::get_if<config::SftpStoreConfig>(&wanted.backend)) {
    return stores::open_sftp_store(executor, sftp_options(wanted.name, *sftp), std::move(done));
  }
  auto error = core::StoreError::make(core::Errc::CapabilityNotSupported,
                                      "store '" + wanted.name + "' has type " +
                                          std::string(config::store_type_name(wanted)) +
                                          ", which this build of tetherd cannot open yet");
  error.store = wanted.name;
  error.operation = core::Operation::Open;
  executor.post([done = std::move(done), error = std::move(error)]() mutable { done(error); });
}

}  // namespace tetherd::daemon
