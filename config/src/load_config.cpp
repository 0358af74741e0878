#include "tetherd/config/load_config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

#include "config_validator.hpp"
#include "json_document.hpp"

namespace tetherd::config {
namespace {

ConfigResult file_problem(const std::string& origin, std::string message, bool unreadable) {
  ConfigResult result;
  result.unreadable = unreadable;
  result.problems.push_back(Problem{origin, 0, 0, "", std::move(message)});
  return result;
}

}  // namespace

std::string Problem::to_string() const {
  std::string text = origin;
  if (line > 0) {
    text += ':' + std::to_string(line) + ':' + std::to_string(column);
  }
  text += ": ";
  if (!json_path.empty()) text += json_path + ": ";
  text += message;
  return text;
}

ConfigResult parse_config(std::string_view text, std::string_view origin) {
  const std::string origin_name(origin);
  if (text.size() > max_config_bytes) {
    return file_problem(origin_name,
                        "the config is " + std::to_string(text.size()) +
                            " bytes long; the limit is " + std::to_string(max_config_bytes),
                        false);
  }
  detail::JsonParseResult parsed = detail::parse_json(text);
  if (parsed.error) {
    ConfigResult result;
    result.problems.push_back(Problem{origin_name, parsed.error->position.line,
                                      parsed.error->position.column, "",
                                      std::move(parsed.error->message)});
    return result;
  }
  ConfigResult result = detail::validate_config(*parsed.value, origin_name);
  std::stable_sort(result.problems.begin(), result.problems.end(),
                   [](const Problem& a, const Problem& b) {
                     return a.line != b.line ? a.line < b.line : a.column < b.column;
                   });
  return result;
}

ConfigResult load_config(const std::filesystem::path& path) {
  const std::string origin = path.string();
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return file_problem(origin, "cannot read the config file: it is a directory", true);
  }
  errno = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(origin.c_str(), "rb"),
                                                       &std::fclose);
  if (!file) {
    const int saved_errno = errno;
    return file_problem(origin,
                        std::string("cannot read the config file: ") +
                            (saved_errno != 0 ? std::strerror(saved_errno) : "open failed"),
                        true);
  }
  // Read at most one byte past the limit: enough to know the file is too large.
  std::string text(max_config_bytes + 1, '\0');
  const std::size_t length = std::fread(text.data(), 1, text.size(), file.get());
  if (std::ferror(file.get()) != 0) {
    const int saved_errno = errno;
    return file_problem(origin,
                        std::string("cannot read the config file: ") +
                            (saved_errno != 0 ? std::strerror(saved_errno) : "read error"),
                        true);
  }
  text.resize(length);
  if (text.size() > max_config_bytes) {
    return file_problem(origin,
                        "the config file is larger than " + std::to_string(max_config_bytes) +
                            " bytes; a config is a few kilobytes",
                        false);
  }
  return parse_config(text, origin);
}

}  // namespace tetherd::config
