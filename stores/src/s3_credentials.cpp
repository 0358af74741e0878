#include "tetherd/stores/s3_credentials.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string_view>
#include <vector>

#include "tetherd/stores/errno_map.hpp"

namespace tetherd::stores {
namespace {

using core::Errc;
using core::StoreError;

// A credentials file is a few hundred bytes; anything far larger is not one.
constexpr std::size_t kMaxFileSize = 1 << 20;

StoreError open_error(StoreError error) {
  error.operation = core::Operation::Open;
  return error;
}

StoreError invalid(std::string detail) {
  return open_error(StoreError::make(Errc::InvalidPath, std::move(detail)));
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

core::Result<std::string> read_whole(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return open_error(errno_error(error, "cannot open credentials file '" + path + "'"));
  }
  std::string contents;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      return open_error(errno_error(error, "cannot read credentials file '" + path + "'"));
    }
    if (got == 0) break;
    contents.append(buffer, static_cast<std::size_t>(got));
    if (contents.size() > kMaxFileSize) {
      ::close(fd);
      return invalid("credentials file '" + path + "' is larger than 1 MiB");
    }
  }
  ::close(fd);
  return contents;
}

}  // namespace

core::Result<S3Credentials> read_s3_credentials(const std::string& path,
                                                const std::string& profile) {
  auto contents = read_whole(path);
  if (!contents) return contents.error();

  S3Credentials found;
  bool profile_seen = false;
  bool in_profile = false;
  std::vector<std::string> profiles;
  std::string_view rest = *contents;
  for (std::size_t number = 1; !rest.empty(); ++number) {
    const auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = trim(line);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return invalid("credentials file '" + path + "', line " + std::to_string(number) +
                       ": a section header must end with ']'");
      }
      const std::string name(trim(line.substr(1, line.size() - 2)));
      in_profile = name == profile;
      profile_seen = profile_seen || in_profile;
      profiles.push_back(name);
      continue;
    }
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      // The line is not quoted: it might be a stray secret.
      return invalid("credentials file '" + path + "', line " + std::to_string(number) +
                     ": expected [profile], key = value or a comment");
    }
    if (!in_profile) continue;
    const std::string_view key = trim(line.substr(0, equals));
    const std::string value(trim(line.substr(equals + 1)));
    if (key == "aws_access_key_id") {
      found.access_key = value;
    } else if (key == "aws_secret_access_key") {
      found.secret_key = value;
    } else if (key == "aws_session_token") {
      found.session_token = value;
    }
  }

  if (!profile_seen) {
    std::string names;
    for (const std::string& name : profiles)
      names += (names.empty() ? "" : ", ") + name;
    return invalid("credentials file '" + path + "' has no profile [" + profile + "]" +
                   (names.empty() ? " (it has no profiles at all)" : " (it has: " + names + ")"));
  }
  for (const auto& [key, value] :
       {std::pair<std::string_view, const std::string&>{"aws_access_key_id", found.access_key},
        {"aws_secret_access_key", found.secret_key}}) {
    if (value.empty()) {
      return invalid("credentials file '" + path + "', profile [" + profile +
                     "]: " + std::string(key) + " is missing or empty");
    }
  }
  return found;
}

}  // namespace tetherd::stores
