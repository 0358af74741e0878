// as_uri(), is_absolute() and is_reserved(): the parts of PurePath that depend on what
// the operating system makes of a path.
#include <array>

#include "pure_path_internal.hpp"

namespace tetherd::core {

namespace {

// urllib.parse.quote_from_bytes(bytes, safe='/'): unreserved bytes and '/' stay.
void append_quoted(std::string& out, std::string_view bytes) {
  constexpr char hex[] = "0123456789ABCDEF";
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    const bool safe = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                      (byte >= '0' && byte <= '9') || byte == '_' || byte == '.' || byte == '-' ||
                      byte == '~' || byte == '/';
    if (safe) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[byte >> 4]);
      out.push_back(hex[byte & 0x0FU]);
    }
  }
}

// name.upper() == `reserved`, for the characters that can make that true: ASCII and
// the few non-ASCII characters whose upper case is ASCII (Python's full mapping).
std::string upper_for_reserved(std::string_view name) {
  std::string out;
  for (std::size_t at = 0; at < name.size();) {
    const path_detail::Decoded decoded = path_detail::decode_utf8(name, at);
    const char32_t code = decoded.code;
    if (code >= 'a' && code <= 'z') {
      out.push_back(static_cast<char>(code - 32));
    } else if (code < 0x80U) {
      out.push_back(static_cast<char>(code));
    } else {
      switch (code) {
        case 0xDFU:
          out.append("SS");
          break;
        case 0x131U:
          out.append("I");
          break;
        case 0x17FU:
          out.append("S");
          break;
        case 0xFB00U:
          out.append("FF");
          break;
        case 0xFB01U:
          out.append("FI");
          break;
        case 0xFB02U:
          out.append("FL");
          break;
        case 0xFB03U:
          out.append("FFI");
          break;
        case 0xFB04U:
          out.append("FFL");
          break;
        case 0xFB05U:
        case 0xFB06U:
          out.append("ST");
          break;
        default:
          out.append(name.substr(at, decoded.length));
          break;
      }
    }
    at += decoded.length;
  }
  return out;
}

// ntpath._isreservedname (Python 3.13).
bool is_reserved_name(std::string_view name) {
  if (!name.empty() && (name.back() == '.' || name.back() == ' ')) {
    return name != "." && name != "..";
  }
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 32 || c == '"' || c == '*' || c == ':' || c == '<' || c == '>' || c == '?' ||
        c == '|' || c == '/' || c == '\\') {
      return true;
    }
  }
  std::string_view base = name.substr(0, name.find('.'));
  while (!base.empty() && base.back() == ' ') {
    base.remove_suffix(1);
  }
  const std::string upper = upper_for_reserved(base);
  static constexpr std::array<std::string_view, 6> devices = {"CON", "PRN",    "AUX",
                                                              "NUL", "CONIN$", "CONOUT$"};
  for (const std::string_view device : devices) {
    if (upper == device) {
      return true;
    }
  }
  // COM and LPT followed by 1-9 or a superscript 1, 2 or 3 (U+00B9, U+00B2, U+00B3).
  if (upper.size() >= 4 && (upper.compare(0, 3, "COM") == 0 || upper.compare(0, 3, "LPT") == 0)) {
    const std::string_view digit = std::string_view(upper).substr(3);
    if (digit.size() == 1 && digit[0] >= '1' && digit[0] <= '9') {
      return true;
    }
    return digit == "\xC2\xB9" || digit == "\xC2\xB2" || digit == "\xC2\xB3";
  }
  return false;
}

}  // namespace

bool PurePath::is_absolute() const noexcept {
  if (flavour_ == PathFlavour::posix) {
    return root_size_ != 0;
  }
  // ntpath.isabs(str(path)): a drive letter and a root, or a UNC/device prefix.
  const std::string_view text = text_;
  if (text.substr(0, 2) == "\\\\") {
    return true;
  }
  if (text.empty()) {
    return false;
  }
  const std::size_t first = path_detail::decode_utf8(text, 0).length;
  return text.substr(first, 2) == ":\\";
}

bool PurePath::is_reserved() const {
  if (flavour_ == PathFlavour::posix) {
    return false;
  }
  // ntpath.isreserved(str(path)): every name after the drive and root.
  const std::string text = str();
  const path_detail::RootSplit split = path_detail::split_root_windows(text);
  std::string_view rest = std::string_view(text).substr(split.drive + split.root);
  while (true) {
    const std::size_t end = rest.find('\\');
    if (is_reserved_name(rest.substr(0, end))) {
      return true;
    }
    if (end == std::string_view::npos) {
      return false;
    }
    rest.remove_prefix(end + 1);
  }
}

std::string PurePath::as_uri() const {
  if (!is_absolute()) {
    throw PathError("relative path " + str() + " can't be expressed as a file URI");
  }
  std::string uri;
  const std::string_view drive = std::string_view(text_).substr(0, drive_size_);
  const std::string posix = as_posix();
  const bool letter_drive = !drive.empty() && drive.back() == ':' &&
                            path_detail::decode_utf8(drive, 0).length + 1 == drive.size();
  if (letter_drive) {
    // "file:///c:/a/b": the drive letter itself is not quoted.
    uri.append("file:///");
    uri.append(drive);
    append_quoted(uri, std::string_view(posix).substr(drive.size()));
  } else if (!drive.empty()) {
    uri.append("file:");
    append_quoted(uri, posix);
  } else {
    uri.append("file://");
    append_quoted(uri, text_);
  }
  return uri;
}

}  // namespace tetherd::core
