#pragma once

// The S3 store's keys, read from a file in the AWS shared-credentials format, so that secrets
// never appear in the config (which names only the file and the profile).

#include <string>

#include "tetherd/core/result.hpp"

namespace tetherd::stores {

struct S3Credentials {
  std::string access_key;
  std::string secret_key;     ///< never logged, never put in an error message
  std::string session_token;  ///< temporary credentials (STS); empty for long-term keys
};

/// Reads the AWS shared-credentials INI format: [profile] sections with
/// aws_access_key_id / aws_secret_access_key and optionally aws_session_token (spaces around
/// '=' and around lines allowed, '#' and ';' comment lines, CRLF tolerated; a key given twice
/// in a profile keeps its last value; values are taken whole, with no inline comments).
/// Blocking: call it off the loop thread.
///
/// Errors (operation Open; messages name the file, the profile and the key, never a value):
/// NotFound if the file does not exist, PermissionDenied if it cannot be read, IsDirectory;
/// InvalidPath if the profile or one of its two keys is missing or empty, or if a line is
/// neither a section, a key = value pair, a comment nor blank.
core::Result<S3Credentials> read_s3_credentials(const std::string& path,
                                                const std::string& profile);

}  // namespace tetherd::stores
