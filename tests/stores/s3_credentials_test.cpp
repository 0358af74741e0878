// read_s3_credentials on real files: the AWS shared-credentials format as people write it
// (comments, spaces, CRLF, several profiles), and the errors, which never show a secret.

#include "tetherd/stores/s3_credentials.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "support/temp_dir.hpp"

using namespace tetherd;
using core::Errc;

namespace {

constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

class CredentialsFile {
 public:
  explicit CredentialsFile(std::string_view contents) {
    std::ofstream out(path_, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  }
  const std::string& path() const { return path_; }

 private:
  test_support::TempDir dir_{"tetherd-s3-credentials"};
  std::string path_ = (dir_.path() / "credentials").string();
};

// The error of reading `contents` with `profile`, which must fail.
core::StoreError failure(std::string_view contents, const std::string& profile,
                         std::string* path = nullptr) {
  CredentialsFile file(contents);
  if (path) *path = file.path();
  auto read = stores::read_s3_credentials(file.path(), profile);
  REQUIRE_FALSE(read);
  CHECK(read.error().operation == core::Operation::Open);
  CHECK(read.error().message().find(kSecret) == std::string::npos);
  return read.error();
}

}  // namespace

TEST_CASE("s3 credentials: the named profile's keys, among several profiles") {
  CredentialsFile file(
      "# written by aws configure\n"
      "[default]\n"
      "aws_access_key_id = AKIDDEFAULT\n"
      "aws_secret_access_key = default-secret\n"
      "\n"
      "; the backup user\n"
      "[backup]\n"
      "aws_access_key_id=AKIDBACKUP\n"
      "region = eu-west-1\n"
      "aws_secret_access_key =" +
      std::string(kSecret) + "\n");
  auto backup = stores::read_s3_credentials(file.path(), "backup");
  REQUIRE(backup);
  CHECK(backup->access_key == "AKIDBACKUP");
  CHECK(backup->secret_key == kSecret);
  CHECK(backup->session_token.empty());
  auto fallback = stores::read_s3_credentials(file.path(), "default");
  REQUIRE(fallback);
  CHECK(fallback->access_key == "AKIDDEFAULT");
  CHECK(fallback->secret_key == "default-secret");
}

TEST_CASE("s3 credentials: CRLF, indentation, tabs and a final line without newline") {
  CredentialsFile file(
      "\r\n"
      "  [ default ]  \r\n"
      "\taws_access_key_id\t=\tAKIDCRLF \r\n"
      "   # indented comment\r\n"
      "aws_secret_access_key = " +
      std::string(kSecret));
  auto read = stores::read_s3_credentials(file.path(), "default");
  REQUIRE(read);
  CHECK(read->access_key == "AKIDCRLF");
  CHECK(read->secret_key == kSecret);
}

TEST_CASE("s3 credentials: a session token is read; a key given twice keeps its last value") {
  CredentialsFile file(
      "[temp]\n"
      "aws_access_key_id = ASIAOLD\n"
      "aws_access_key_id = ASIATEMP\n"
      "aws_secret_access_key = s\n"
      "aws_session_token = FwoGZXIvYXdzEJr//////////wEaDM+token==\n");
  auto read = stores::read_s3_credentials(file.path(), "temp");
  REQUIRE(read);
  CHECK(read->access_key == "ASIATEMP");
  CHECK(read->session_token == "FwoGZXIvYXdzEJr//////////wEaDM+token==");
}

TEST_CASE("s3 credentials: a missing file is NotFound, an unreadable one PermissionDenied") {
  test_support::TempDir dir("tetherd-s3-credentials");
  const std::string missing = (dir.path() / "nope").string();
  auto absent = stores::read_s3_credentials(missing, "default");
  REQUIRE_FALSE(absent);
  CHECK(absent.error().code == Errc::NotFound);
  CHECK(absent.error().operation == core::Operation::Open);
  CHECK(absent.error().message().find(missing) != std::string::npos);

  if (::geteuid() != 0) {  // root reads any file
    CredentialsFile file("[default]\naws_access_key_id = a\naws_secret_access_key = b\n");
    REQUIRE(::chmod(file.path().c_str(), 0200) == 0);
    auto locked = stores::read_s3_credentials(file.path(), "default");
    REQUIRE_FALSE(locked);
    CHECK(locked.error().code == Errc::PermissionDenied);
    CHECK(locked.error().message().find(file.path()) != std::string::npos);
  }

  auto directory = stores::read_s3_credentials(dir.path().string(), "default");
  REQUIRE_FALSE(directory);
  CHECK(directory.error().code == Errc::IsDirectory);
}

TEST_CASE("s3 credentials: a missing profile names the file and the profiles there are") {
  std::string path;
  auto error =
      failure("[default]\naws_access_key_id = a\naws_secret_access_key = " + std::string(kSecret) +
                  "\n[other]\n",
              "backup", &path);
  CHECK(error.code == Errc::InvalidPath);
  CHECK(error.detail ==
        "credentials file '" + path + "' has no profile [backup] (it has: default, other)");
  error = failure("# nothing yet\n", "default", &path);
  CHECK(error.detail ==
        "credentials file '" + path + "' has no profile [default] (it has no profiles at all)");
}

TEST_CASE("s3 credentials: a missing or empty key names the file, the profile and the key") {
  std::string path;
  auto error = failure("[default]\naws_secret_access_key = " + std::string(kSecret) + "\n",
                       "default", &path);
  CHECK(error.code == Errc::InvalidPath);
  CHECK(error.detail == "credentials file '" + path +
                            "', profile [default]: aws_access_key_id is missing or empty");
  // Keys of another profile do not count.
  error = failure("[default]\naws_access_key_id = a\n[backup]\naws_secret_access_key = " +
                      std::string(kSecret) + "\n",
                  "default", &path);
  CHECK(error.detail == "credentials file '" + path +
                            "', profile [default]: aws_secret_access_key is missing or empty");
  error = failure("[default]\naws_access_key_id = a\naws_secret_access_key =\n", "default", &path);
  CHECK(error.detail == "credentials file '" + path +
                            "', profile [default]: aws_secret_access_key is missing or empty");
}

TEST_CASE("s3 credentials: malformed lines are refused by number, without their text") {
  std::string path;
  auto error =
      failure("[default]\naws_access_key_id = a\n" + std::string(kSecret) + "\n", "default", &path);
  CHECK(error.code == Errc::InvalidPath);
  CHECK(error.detail ==
        "credentials file '" + path + "', line 3: expected [profile], key = value or a comment");
  error = failure("[default\n", "default", &path);
  CHECK(error.detail ==
        "credentials file '" + path + "', line 1: a section header must end with ']'");
}
