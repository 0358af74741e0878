#include "tetherd/config/store_url.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "remote_checks.hpp"

namespace tetherd::config {
namespace {

using detail::sftp_host;
using detail::sftp_root;
using detail::valid_bucket;

constexpr std::string_view supported =
    "sftp://[user@]host[:port]/path, s3://bucket/prefix, or a local path";

TargetUrlResult failed(std::string message) {
  return TargetUrlResult{std::nullopt, std::move(message)};
}

TargetUrlResult remote(StoreConfig store) {
  return TargetUrlResult{TargetUrl{std::move(store), ""}, ""};
}

// The scheme of "scheme://rest" in lower case, or nothing if `argument` has no such prefix.
std::optional<std::string> scheme_of(std::string_view argument) {
  const auto end = argument.find("://");
  if (end == std::string_view::npos || end == 0) return std::nullopt;
  const std::string_view scheme = argument.substr(0, end);
  if (!std::isalpha(static_cast<unsigned char>(scheme.front()))) return std::nullopt;
  const bool valid = std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
  if (!valid) return std::nullopt;
  std::string lowered(scheme);
  for (char& c : lowered)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lowered;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%XX" sequences decoded; nothing for a '%' without two hex digits or an encoded NUL.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_digit(text[i + 1]);
    const int low = hex_digit(text[i + 2]);
    if (high < 0 || low < 0 || (high == 0 && low == 0)) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::optional<std::string> current_user() {
  const passwd* entry = ::getpwuid(::geteuid());
  if (entry == nullptr || entry->pw_name == nullptr || *entry->pw_name == '\0') {
    return std::nullopt;
  }
  return std::string(entry->pw_name);
}

TargetUrlResult parse_sftp(std::string_view argument, std::string_view rest) {
  const std::string quoted = "\"" + std::string(argument) + "\"";
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return failed("invalid SFTP URL " + quoted +
                  ": '?' and '#' are not allowed (percent-encode them in the path)");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);

  SftpStoreConfig sftp;
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    if (userinfo.find(':') != std::string_view::npos) {
      return failed("invalid SFTP URL " + quoted +
                    ": no password in the URL (SFTP stores log in with a key)");
    }
    auto user = percent_decode(userinfo);
    if (!user) return failed("invalid SFTP URL " + quoted + ": bad percent-encoding in the user");
    if (user->empty()) return failed("invalid SFTP URL " + quoted + ": empty user before '@'");
    sftp.user = std::move(*user);
  } else if (auto user = current_user()) {
    sftp.user = std::move(*user);
  } else {
    return failed("cannot tell the current user's login name for " + quoted +
                  ": give it as sftp://user@host");
  }

  // host, [v6], host:port or [v6]:port.
  std::string_view host = authority;
  std::string_view port;
  bool port_given = false;  // a ':' after the host, even with nothing behind it
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return failed("invalid SFTP URL " + quoted + ": '[' without ']' around the host");
    }
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return failed("invalid SFTP URL " + quoted + ": expected ':port' after ']'");
    }
    if (!after.empty()) {
      port = after.substr(1);
      port_given = true;
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    port_given = true;
    if (port.find(':') != std::string_view::npos) {
      return failed("invalid SFTP URL " + quoted +
                    ": an IPv6 address goes in brackets, as in sftp://[::1]:22/path");
    }
  }
  if (host.empty()) return failed("invalid SFTP URL " + quoted + ": no host");
  auto bare_host = sftp_host(host);
  if (!bare_host) {
    return failed("invalid SFTP URL " + quoted + ": \"" + std::string(host) +
                  "\" is not a host name or address (an IPv6 address goes in brackets)");
  }
  sftp.host = std::move(*bare_host);
  if (port_given) {
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    const int number = digits ? std::stoi(std::string(port)) : 0;
    if (number < 1 || number > 65535) {
      return failed("invalid SFTP URL " + quoted +
                    ": the port must be a number from 1 to 65535, not \"" + std::string(port) +
                    "\"");
    }
    sftp.port = static_cast<std::uint16_t>(number);
  }

  auto decoded = percent_decode(path);
  if (!decoded) return failed("invalid SFTP URL " + quoted + ": bad percent-encoding in the path");
  // No path: the login directory; "/~" and "/~/x": the login directory and below it.
  std::string_view root = *decoded;
  if (root.empty()) {
    root = "~";
  } else if (root.starts_with("/~")) {
    root.remove_prefix(1);
  }
  auto server_root = sftp_root(root);
  if (!server_root) {
    return failed("invalid SFTP URL " + quoted +
                  ": other users' directories (\"~user\") are not supported; use an absolute "
                  "path or \"/~/path\" for the login directory");
  }
  sftp.root = std::move(*server_root);

  StoreConfig store;
  const std::string shown_host =
      sftp.host.find(':') == std::string::npos ? sftp.host : "[" + sftp.host + "]";
  store.name = "sftp://" + sftp.user + "@" + shown_host + ":" + std::to_string(sftp.port);
  store.backend = std::move(sftp);
  return remote(std::move(store));
}

TargetUrlResult parse_s3(std::string_view argument, std::string_view rest) {
  const std::string quoted = "\"" + std::string(argument) + "\"";
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return failed("invalid S3 URL " + quoted +
                  ": '?' and '#' are not allowed (percent-encode them in the prefix)");
  }
  const auto slash = rest.find('/');
  const std::string bucket(rest.substr(0, slash));
  if (bucket.empty()) return failed("invalid S3 URL " + quoted + ": no bucket");
  if (!valid_bucket(bucket)) {
    return failed("invalid S3 URL " + quoted + ": bad bucket name \"" + bucket +
                  "\": " + std::string(detail::bucket_rule));
  }
  S3StoreConfig s3;
  s3.bucket = bucket;
  if (slash != std::string_view::npos) {
    auto prefix = percent_decode(rest.substr(slash + 1));
    if (!prefix) {
      return failed("invalid S3 URL " + quoted + ": bad percent-encoding in the prefix");
    }
    if (prefix->starts_with('/')) {
      return failed("invalid S3 URL " + quoted + ": the key prefix must not start with '/'");
    }
    s3.prefix = std::move(*prefix);
  }
  StoreConfig store;
  store.name = "s3://" + bucket;
  store.backend = std::move(s3);
  return remote(std::move(store));
}

}  // namespace

TargetUrlResult parse_target_url(std::string_view argument) {
  if (argument.empty()) return failed("the target is empty: give " + std::string(supported));
  const auto scheme = scheme_of(argument);
  if (!scheme) return TargetUrlResult{TargetUrl{std::nullopt, std::string(argument)}, ""};
  const std::string_view rest = argument.substr(scheme->size() + 3);
  if (*scheme == "sftp") return parse_sftp(argument, rest);
  if (*scheme == "s3") return parse_s3(argument, rest);
  return failed("unsupported target \"" + std::string(argument) + "\": scheme \"" + *scheme +
                "://\" is not one tetherd speaks; give " + std::string(supported));
}

}  // namespace tetherd::config
