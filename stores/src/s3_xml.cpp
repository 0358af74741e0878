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
    page.objects.push_back(std::move(object));
  }
  for (auto prefix : root.children("CommonPrefixes"))
    page.common_prefixes.push_back(decode(prefix.child_value("Prefix")));
  page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  page.continuation = root.child_value("NextContinuationToken");
  if (page.truncated && page.continuation.empty()) return std::nullopt;
  return page;
}

std::optional<std::string> parse_upload_id(std::string_view body) {
  pugi::xml_document document;
  if (!load(document, body)) return std::nullopt;
  std::string id = document.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty()) return std::nullopt;
  return id;
}

std::optional<std::vector<UploadInProgress>> parse_uploads(std::string_view body) {
  pugi::xml_document document;
  if (!load(document, body)) return std::nullopt;
  auto root = document.child("ListMultipartUploadsResult");
  if (!root) return std::nullopt;
  std::vector<UploadInProgress> uploads;
  for (auto upload : root.children("Upload"))
    uploads.push_back({upload.child_value("Key"), upload.child_value("UploadId")});
  return uploads;
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
