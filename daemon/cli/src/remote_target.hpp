#pragma once

// remote_target: the store a `tetherd mirror SRC sftp://...|s3://...` command line names,
// as the JSON a config file would hold, with what the URL leaves out taken from options
// or from the user's usual files (~/.ssh, ~/.aws).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tetherd/config/config.hpp"

namespace tetherd::daemon {

struct RemoteTargetOptions {
  // SFTP
  std::string key_file;              ///< empty: ~/.ssh/id_ed25519, id_ecdsa or id_rsa
  std::string known_hosts;           ///< empty: ~/.ssh/known_hosts (unless a fingerprint)
  std::string host_key_fingerprint;  ///< "SHA256:..."
  std::string passphrase_file;
  // S3
  std::string endpoint;          ///< required for s3://
  std::string region;            ///< empty: us-east-1
  std::string credentials_file;  ///< empty: the environment's keys, then ~/.aws/credentials
  std::string profile;           ///< empty: default
};

struct RemoteStoreJson {
  std::optional<nlohmann::json> store;
  std::string error;  ///< why not: one sentence naming the option to give
};

/// The "stores" entry for `store` (an SFTP or S3 store from parse_target_url). Relative file
/// options are made absolute against the working directory.
RemoteStoreJson remote_store_json(const config::StoreConfig& store,
                                  const RemoteTargetOptions& options);

}  // namespace tetherd::daemon
