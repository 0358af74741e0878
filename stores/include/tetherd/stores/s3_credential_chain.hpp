#pragma once

// Where an S3 store's keys come from when the config does not say, looked up the way the
// AWS CLI does, so that a host already set up for it needs nothing more.

#include <functional>
#include <string>

#include "tetherd/core/result.hpp"
#include "tetherd/stores/s3_credentials.hpp"

namespace tetherd::stores {

/// Reads an environment variable: nullptr when it is not set. std::getenv in the daemon.
using EnvironmentLookup = std::function<const char*(const char*)>;

/// The keys for a store whose config names `file` (may be empty) and `profile` (may be
/// empty). The profile is `profile`, else $AWS_PROFILE, else "default". Then, first match:
///   1. `file` when the config names one (it wins: the config is explicit);
///   2. $AWS_ACCESS_KEY_ID with $AWS_SECRET_ACCESS_KEY (and $AWS_SESSION_TOKEN when set);
///      one of the two without the other is an error, not a fall-through;
///   3. the shared-credentials file: $AWS_SHARED_CREDENTIALS_FILE, else
///      $HOME/.aws/credentials.
/// Errors name what was looked at, never a secret: NotFound when nothing provides keys
/// (worth fixing, not retrying), and read_s3_credentials' errors for a file. Blocking (it
/// may read a file): call it off the loop thread.
core::Result<S3Credentials> find_s3_credentials(const std::string& file, const std::string& profile,
                                                const EnvironmentLookup& environment);

/// The CA bundle for a store whose config names `ca_file` (may be empty): `ca_file`, else
/// $AWS_CA_BUNDLE, else "" (the system's CAs).
std::string s3_ca_bundle(const std::string& ca_file, const EnvironmentLookup& environment);

}  // namespace tetherd::stores
