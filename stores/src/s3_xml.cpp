#include "s3_xml.hpp"

#include <charconv>
#include <pugixml.hpp>

namespace tetherd::stores::s3 {

namespace {

bool load(pugi::xml_document& document, std::string_view body) {
  return static_cast<bool>(document.load_buffer(body.data(), body.size()));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<S3ErrorBody> parse_error(std::string_view body) {
  pugi::xml_document document;
  if (!load(document, body)) return std::nullopt;
  auto error = document.child("Error");
  if (!error) return std::nullopt;
  return S3ErrorBody{error.child_value("Code"), error.child_value("Message")};
}

std::optional<ListPage> parse_list_page(std::string_view body) {
  pugi::xml_document document;
  if (!load(document, body)) return std::nullopt;
  auto root = document.child("ListBucketResult");
  if (!root) return std::nullopt;
  const bool encoded = std::string_view(root.child_value("EncodingType")) == "url";
  auto decode = [&](const char* text) { return encoded ? url_decode(text) : std::string(text); };
  ListPage page;
  for (auto contents : root.children("Contents")) {
    ListedObject object;
    object.key = decode(contents.child_value("Key"));
    std::string_view size = contents.child_value("Size");
    auto parsed = std::from_chars(size.data(), size.data() + size.size(), object.size);
    if (parsed.ec != std::errc()) return std::nullopt;
    object.etag = contents.child_value("ETag");
    if (auto modified = parse_timestamp(contents.child_value("LastModified"))) {
      object.modified_s =
          std::chrono::duration_cast<std::chrono::seconds>(modified->time_since_epoch()).count();
    }
    page.objects.push_back(std::move(object));
  }
  for (auto prefix : root.children("CommonPrefixes"))
    page.common_prefixes.push_back(decode(prefix.child_value("Prefix")));
  page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  page.continuation = root.child_value("NextContinuationToken");
  if (page.truncated && page.continuation.empty()) return std::nullopt;
  return page;
}

namespace {

/// The text of <root><child>…</child></root>; nullopt when the body is not that or the text
/// is empty.
std::optional<std::string> child_text(std::string_view body, const char* root, const char* child) {
  pugi::xml_document document;
  if (!load(document, body)) return std::nullopt;
  std::string text = document.child(root).child_value(child);
  if (text.empty()) return std::nullopt;
  return text;
}

}  // namespace

std::optional<std::string> parse_upload_id(std::string_view body) {
  return child_text(body, "InitiateMultipartUploadResult", "UploadId");
}

std::optional<std::string> parse_copy_part_etag(std::string_view body) {
  return child_text(body, "CopyPartResult", "ETag");
}

std::optional<std::string> parse_complete_etag(std::string_view body) {
  return child_text(body, "CompleteMultipartUploadResult", "ETag");
}

std::optional<std::vector<UploadInProgress>> parse_uploads(std::string_view body) {
  auto page = parse_uploads_page(body);
  if (!page) return std::nullopt;
  return std::move(page->uploads);
}

std::optional<UploadsPage> parse_uploads_page(std::string_view body) {
  pugi::xml_document document;
  if (!load(document, body)) return std::nullopt;
  auto root = document.child("ListMultipartUploadsResult");
  if (!root) return std::nullopt;
  const bool encoded = std::string_view(root.child_value("EncodingType")) == "url";
  auto decode = [&](const char* text) { return encoded ? url_decode(text) : std::string(text); };
  UploadsPage page;
  for (auto upload : root.children("Upload")) {
    page.uploads.push_back({decode(upload.child_value("Key")), upload.child_value("UploadId"),
                            parse_timestamp(upload.child_value("Initiated"))});
  }
  page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  page.next_key_marker = decode(root.child_value("NextKeyMarker"));
  page.next_upload_id_marker = root.child_value("NextUploadIdMarker");
  if (page.truncated && page.next_key_marker.empty()) return std::nullopt;
  return page;
}

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  auto number = [&](std::size_t at, std::size_t digits) -> std::optional<int> {
    if (at + digits > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = at; i < at + digits; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z')
    return std::nullopt;
  const auto year = number(0, 4), month = number(5, 2), day = number(8, 2), hour = number(11, 2),
             minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 60)
    return std::nullopt;
  std::chrono::nanoseconds fraction{0};
  if (text.size() > 20) {
    if (text[19] != '.' || text.size() == 21) return std::nullopt;
    std::int64_t scale = 100'000'000;
    for (std::size_t i = 20; i + 1 < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      fraction += std::chrono::nanoseconds((text[i] - '0') * scale);
      scale /= 10;
    }
  }
  const std::chrono::sys_days date = std::chrono::year(*year) /
                                     std::chrono::month(static_cast<unsigned>(*month)) /
                                     std::chrono::day(static_cast<unsigned>(*day));
  if (!(std::chrono::year(*year) / std::chrono::month(static_cast<unsigned>(*month)) /
        std::chrono::day(static_cast<unsigned>(*day)))
           .ok())
    return std::nullopt;
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(
      date + std::chrono::hours(*hour) + std::chrono::minutes(*minute) +
      std::chrono::seconds(*second) + fraction);
}

std::string delete_objects_body(const std::vector<std::string>& keys) {
  std::string out = "<Delete><Quiet>true</Quiet>";
  for (const auto& key : keys)
    out += "<Object><Key>" + escape(key) + "</Key></Object>";
  out += "</Delete>";
  return out;
}

bool xml_safe_key(std::string_view key) {
  for (const char c : key)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

std::optional<std::vector<DeleteFailure>> parse_delete_result(std::string_view body) {
  pugi::xml_document document;
  if (!load(document, body)) return std::nullopt;
  auto root = document.child("DeleteResult");
  if (!root) return std::nullopt;
  std::vector<DeleteFailure> failures;
  for (auto error : root.children("Error"))
    failures.push_back(
        {error.child_value("Key"), error.child_value("Code"), error.child_value("Message")});
  return failures;
}

std::string complete_multipart_body(const std::vector<std::string>& etags) {
  std::string out = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < etags.size(); ++i) {
    out += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + escape(etags[i]) +
           "</ETag></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

}  // namespace tetherd::stores::s3
