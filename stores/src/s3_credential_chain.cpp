#include "tetherd/stores/s3_credential_chain.hpp"

#include <string_view>

namespace tetherd::stores {

namespace {

/// The variable's value, or "" when it is unset or empty (both mean "not given").
std::string value_of(const EnvironmentLookup& environment, const char* name) {
  const char* value = environment(name);
  return value ? std::string(value) : std::string();
}

core::StoreError open_error(core::Errc code, std::string detail) {
  auto error = core::StoreError::make(code, std::move(detail));
  error.operation = core::Operation::Open;
  error.retryable = false;
  return error;
}

}  // namespace

core::Result<S3Credentials> find_s3_credentials(const std::string& file, const std::string& profile,
                                                const EnvironmentLookup& environment) {
  std::string section = profile;
  if (section.empty()) section = value_of(environment, "AWS_PROFILE");
  if (section.empty()) section = "default";
  if (!file.empty()) return read_s3_credentials(file, section);

  const std::string access_key = value_of(environment, "AWS_ACCESS_KEY_ID");
  const std::string secret_key = value_of(environment, "AWS_SECRET_ACCESS_KEY");
  if (!access_key.empty() && !secret_key.empty()) {
    S3Credentials keys;
    keys.access_key = access_key;
    keys.secret_key = secret_key;
    keys.session_token = value_of(environment, "AWS_SESSION_TOKEN");
    return keys;
  }
  if (!access_key.empty() || !secret_key.empty()) {
    return open_error(
        core::Errc::InvalidPath,
        std::string(access_key.empty() ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
            " is set in the environment but " +
            (access_key.empty() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") +
            " is not: give both, or neither");
  }

  std::string shared = value_of(environment, "AWS_SHARED_CREDENTIALS_FILE");
  if (shared.empty()) {
    const std::string home = value_of(environment, "HOME");
    if (home.empty()) {
      return open_error(core::Errc::NotFound,
                        "no S3 credentials: the store names no credentials_file, "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and HOME "
                        "is not set to find ~/.aws/credentials");
    }
    shared = home + "/.aws/credentials";
  }
  auto keys = read_s3_credentials(shared, section);
  if (!keys && keys.error().code == core::Errc::NotFound) {
    return open_error(core::Errc::NotFound,
                      "no S3 credentials: the store names no credentials_file, "
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set, and " +
                          shared + " does not exist");
  }
  return keys;
}

std::string s3_ca_bundle(const std::string& ca_file, const EnvironmentLookup& environment) {
  if (!ca_file.empty()) return ca_file;
  return value_of(environment, "AWS_CA_BUNDLE");
}

}  // namespace tetherd::stores
