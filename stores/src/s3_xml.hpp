#pragma once

// The XML documents of the S3 API that the store reads and writes (pugixml): error
// bodies, ListObjectsV2 pages, multipart uploads. Parsing never throws; a document that is
// not what S3 sends gives nullopt, which callers report as a Protocol error.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::stores::s3 {

/// <Error><Code>NoSuchKey</Code><Message>…</Message></Error>
struct S3ErrorBody {
  std::string code;
  std::string message;
};
std::optional<S3ErrorBody> parse_error(std::string_view body);

struct ListedObject {
  std::string key;  ///< full object key, decoded
  std::uint64_t size = 0;
  std::string etag;  ///< as listed (quoted)
  /// LastModified, whole seconds since the epoch; nullopt when absent or unreadable.
  std::optional<std::int64_t> modified_s;
};

/// One page of ListObjectsV2 (requested with encoding-type=url: keys arrive percent-encoded,
/// so control characters survive XML; they are decoded here).
struct ListPage {
  std::vector<ListedObject> objects;
  std::vector<std::string> common_prefixes;  ///< decoded, ending in the delimiter
  bool truncated = false;
  std::string continuation;  ///< NextContinuationToken
};
std::optional<ListPage> parse_list_page(std::string_view body);

/// InitiateMultipartUpload's <UploadId>.
std::optional<std::string> parse_upload_id(std::string_view body);

/// UploadPartCopy's <CopyPartResult><ETag> (the part's ETag is in the body, not a header);
/// nullopt for an error body or none.
std::optional<std::string> parse_copy_part_etag(std::string_view body);

/// CompleteMultipartUpload's <CompleteMultipartUploadResult><ETag>: the object's ETag;
/// nullopt for an error body or none.
std::optional<std::string> parse_complete_etag(std::string_view body);

/// ListMultipartUploads: key and upload id of each upload in progress.
struct UploadInProgress {
  std::string key;
  std::string upload_id;
  /// When it was initiated (<Initiated>, server time); nullopt when absent or unreadable.
  std::optional<std::chrono::system_clock::time_point> initiated;
};
std::optional<std::vector<UploadInProgress>> parse_uploads(std::string_view body);

/// One page of ListMultipartUploads, with what the next page is asked with.
struct UploadsPage {
  std::vector<UploadInProgress> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};
/// nullopt also for a truncated page without a NextKeyMarker (it could never end).
std::optional<UploadsPage> parse_uploads_page(std::string_view body);

/// An ISO 8601 UTC timestamp as S3 writes them: "2026-12-07T18:00:00.123Z" (fraction
/// optional). nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text);

/// The body of CompleteMultipartUpload: parts numbered from 1, with their ETags.
std::string complete_multipart_body(const std::vector<std::string>& etags);

/// The body of DeleteObjects (quiet: the answer lists failures only) for these keys (at
/// most 1,000). Keys go in as XML text: one holding a control character cannot be sent so
/// (XML 1.0 has no such characters); see xml_safe_key.
std::string delete_objects_body(const std::vector<std::string>& keys);
/// Whether `key` can be written into an XML request body (no control character but TAB,
/// LF, CR, which XML may normalize too, so they count as unsafe as well).
bool xml_safe_key(std::string_view key);

/// A key DeleteObjects did not delete.
struct DeleteFailure {
  std::string key;
  std::string code;
  std::string message;
};
/// DeleteObjects' <DeleteResult>: its <Error> entries.
std::optional<std::vector<DeleteFailure>> parse_delete_result(std::string_view body);

/// Percent-decoding (with '+' as a space, as S3's encoding-type=url writes it).
std::string url_decode(std::string_view text);

}  // namespace tetherd::stores::s3
