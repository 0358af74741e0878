#pragma once

// Checks of the values that name remote stores (hosts, SFTP roots, host key fingerprints,
// buckets), shared by the config reader and the target URL parser so both accept the same.

#include <optional>
#include <string>
#include <string_view>

namespace tetherd::config::detail {

/// A host name or IPv4 address (no spaces, '/', ':', '@', '[' or ']'), or an IPv6 address
/// in brackets ("[::1]"). Returns the host as the SFTP store wants it: brackets removed.
std::optional<std::string> sftp_host(std::string_view text);

/// The SFTP store's root for `text`: absolute paths, "~" and "~/x" as given; any other
/// relative path "x" becomes "~/x" (relative to the login directory). Nothing for "" and for
/// "~user/..." (other users' directories are not supported).
std::optional<std::string> sftp_root(std::string_view text);

/// "SHA256:" and 43 characters of base64 without padding, as `ssh-keygen -l` prints it (one
/// trailing '=' tolerated and removed). Nothing if `text` is not of that form.
std::optional<std::string> sha256_fingerprint(std::string_view text);
inline constexpr std::string_view fingerprint_rule =
    "\"SHA256:\" followed by 43 base64 characters, as `ssh-keygen -l -f KEY` prints it";

/// S3 bucket names: 3 to 63 characters of [a-z0-9.-], starting and ending with a letter or
/// digit.
bool valid_bucket(std::string_view bucket);
inline constexpr std::string_view bucket_rule =
    "use 3 to 63 characters: lower-case letters, digits, '.' and '-', starting and ending with "
    "a letter or digit";

}  // namespace tetherd::config::detail
