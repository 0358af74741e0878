// find_s3_credentials: the order in which an S3 store looks for its keys when the config
// does not name them (as the AWS CLI does), on real files and a made-up environment.

#include "tetherd/stores/s3_credential_chain.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "support/temp_dir.hpp"

using namespace tetherd;
using core::Errc;

namespace {

/// A made-up environment: only the variables set here exist.
class Environment {
 public:
  Environment& set(const std::string& name, const std::string& value) {
    values_[name] = value;
    return *this;
  }
  stores::EnvironmentLookup lookup() const {
    return [this](const char* name) -> const char* {
      auto it = values_.find(name);
      return it == values_.end() ? nullptr : it->second.c_str();
    };
  }

 private:
  std::map<std::string, std::string> values_;
};

void write_file(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << contents;
}

const std::string kTwoProfiles =
    "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = default-secret\n"
    "[work]\naws_access_key_id = AKWORK\naws_secret_access_key = work-secret\n";

}  // namespace

TEST_CASE("s3 credentials: the config's file wins over the environment") {
  test_support::TempDir dir("s3-chain");
  write_file(dir.path() / "keys", kTwoProfiles);
  Environment environment;
  environment.set("AWS_ACCESS_KEY_ID", "AKENV").set("AWS_SECRET_ACCESS_KEY", "env-secret");
  auto keys =
      stores::find_s3_credentials((dir.path() / "keys").string(), "work", environment.lookup());
  REQUIRE(keys.ok());
  CHECK(keys->access_key == "AKWORK");
}

TEST_CASE("s3 credentials: without a file in the config, the environment's keys") {
  Environment environment;
  environment.set("AWS_ACCESS_KEY_ID", "AKENV")
      .set("AWS_SECRET_ACCESS_KEY", "env-secret")
      .set("AWS_SESSION_TOKEN", "token")
      .set("HOME", "/nonexistent-home");
  auto keys = stores::find_s3_credentials("", "", environment.lookup());
  REQUIRE(keys.ok());
  CHECK(keys->access_key == "AKENV");
  CHECK(keys->secret_key == "env-secret");
  CHECK(keys->session_token == "token");
}

TEST_CASE("s3 credentials: half of the environment's keys is an error naming the other half") {
  Environment environment;
  environment.set("AWS_ACCESS_KEY_ID", "AKENV").set("HOME", "/nonexistent-home");
  auto keys = stores::find_s3_credentials("", "", environment.lookup());
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.error().code == Errc::InvalidPath);
  CHECK_FALSE(keys.error().retryable);
  CHECK(keys.error().detail.find("AWS_SECRET_ACCESS_KEY") != std::string::npos);
  CHECK(keys.error().detail.find("AKENV") == std::string::npos);
}

TEST_CASE("s3 credentials: then ~/.aws/credentials, with AWS_PROFILE choosing the section") {
  test_support::TempDir dir("s3-chain");
  write_file(dir.path() / ".aws" / "credentials", kTwoProfiles);
  Environment environment;
  environment.set("HOME", dir.path().string());
  auto keys = stores::find_s3_credentials("", "", environment.lookup());
  REQUIRE(keys.ok());
  CHECK(keys->access_key == "AKDEFAULT");

  environment.set("AWS_PROFILE", "work");
  keys = stores::find_s3_credentials("", "", environment.lookup());
  REQUIRE(keys.ok());
  CHECK(keys->access_key == "AKWORK");

  // The config's profile wins over AWS_PROFILE.
  keys = stores::find_s3_credentials("", "default", environment.lookup());
  REQUIRE(keys.ok());
  CHECK(keys->access_key == "AKDEFAULT");
}

TEST_CASE("s3 credentials: AWS_SHARED_CREDENTIALS_FILE replaces ~/.aws/credentials") {
  test_support::TempDir dir("s3-chain");
  write_file(dir.path() / "elsewhere", kTwoProfiles);
  Environment environment;
  environment.set("HOME", "/nonexistent-home")
      .set("AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "elsewhere").string());
  auto keys = stores::find_s3_credentials("", "work", environment.lookup());
  REQUIRE(keys.ok());
  CHECK(keys->access_key == "AKWORK");
}

TEST_CASE("s3 credentials: nothing anywhere is NotFound, saying where it looked") {
  test_support::TempDir dir("s3-chain");
  Environment environment;
  environment.set("HOME", dir.path().string());
  auto keys = stores::find_s3_credentials("", "", environment.lookup());
  REQUIRE_FALSE(keys.ok());
  CHECK(keys.error().code == Errc::NotFound);
  CHECK_FALSE(keys.error().retryable);
  CHECK(keys.error().detail.find("AWS_ACCESS_KEY_ID") != std::string::npos);
  CHECK(keys.error().detail.find((dir.path() / ".aws" / "credentials").string()) !=
        std::string::npos);
}

TEST_CASE("s3 credentials: the CA bundle is the config's, else AWS_CA_BUNDLE, else none") {
  Environment environment;
  CHECK(stores::s3_ca_bundle("", environment.lookup()).empty());
  environment.set("AWS_CA_BUNDLE", "/etc/ssl/private-ca.pem");
  CHECK(stores::s3_ca_bundle("", environment.lookup()) == "/etc/ssl/private-ca.pem");
  CHECK(stores::s3_ca_bundle("/etc/mine.pem", environment.lookup()) == "/etc/mine.pem");
}
