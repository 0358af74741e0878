#pragma once

// Target arguments of the command line (`tetherd mirror SRC TARGET`): a local directory, or a
// remote store written as a URL, turned into the same StoreConfig a config file produces.

#include <optional>
#include <string>
#include <string_view>

#include "tetherd/config/config.hpp"

namespace tetherd::config {

/// What a target argument names: a local directory (no scheme), or a remote store.
struct TargetUrl {
  std::optional<StoreConfig> store;  ///< empty: a local path (kept in `path`)
  std::string path;                  ///< local: the argument as given; remote: ""
};

struct TargetUrlResult {
  std::optional<TargetUrl> target;
  std::string error;  ///< why there is no target: one sentence, quoting the argument
};

/// Parses a target argument:
/// - no "scheme://" prefix (a scheme is a letter, then letters, digits, '+', '-', '.'): a
///   local path, taken as given, even when it holds ':' ("./a:b", "/x/http://y");
/// - "sftp://[user@]host[:port][/path]": an SftpStoreConfig. The user defaults to the
///   effective user's login name, the port to 22. The root is the path: "/srv/x" stays
///   absolute, "/~/x" becomes "~/x" and "/~" becomes "~" (the login directory), no path at
///   all means "~"; "/" alone is the server's root. An IPv6 host goes in brackets
///   ("[::1]"; stored without them). User and path are percent-decoded. key_file and
///   known_hosts are left empty for the caller to fill in;
/// - "s3://bucket[/prefix]": an S3StoreConfig with bucket and (percent-decoded) prefix only;
///   endpoint, region and credentials_file are left empty for the caller to fill in;
/// - any other scheme is an error naming the supported ones.
/// The store's name, used in messages, is "sftp://user@host:port" or "s3://bucket".
TargetUrlResult parse_target_url(std::string_view argument);

}  // namespace tetherd::config
