// The S3 XML documents the store reads (pure functions): ListMultipartUploads pages and
// S3's timestamps.

#include "s3_xml.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace tetherd::stores::s3;
using namespace std::chrono;

TEST_CASE("s3 xml: timestamps are ISO 8601 UTC, with or without a fraction") {
  const auto base = sys_days(year(2026) / December / day(7)) + hours(18);
  CHECK(parse_timestamp("2026-12-07T18:00:00Z") == base);
  CHECK(parse_timestamp("2026-12-07T18:00:00.123Z") == base + milliseconds(123));
  CHECK(parse_timestamp("2026-12-07T18:00:00.5Z") == base + milliseconds(500));
  CHECK_FALSE(parse_timestamp(""));
  CHECK_FALSE(parse_timestamp("2026-12-07 18:00:00Z"));
  CHECK_FALSE(parse_timestamp("2026-12-07T18:00:00"));
  CHECK_FALSE(parse_timestamp("2026-12-07T18:00:00.Z"));
  CHECK_FALSE(parse_timestamp("2026-13-07T18:00:00Z"));
  CHECK_FALSE(parse_timestamp("2026-02-30T18:00:00Z"));
  CHECK_FALSE(parse_timestamp("2026-12-07T18:0x:00Z"));
}

TEST_CASE("s3 xml: a ListMultipartUploads page gives keys, ids, times and the next markers") {
  const auto page = parse_uploads_page(
      "<?xml version=\"1.0\"?><ListMultipartUploadsResult><Bucket>b</Bucket>"
      "<NextKeyMarker>p/b</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>"
      "<IsTruncated>true</IsTruncated>"
      "<Upload><Key>p/a</Key><UploadId>id1</UploadId>"
      "<Initiated>2026-12-07T18:00:00.000Z</Initiated></Upload>"
      "<Upload><Key>p/b</Key><UploadId>id2</UploadId></Upload>"
      "</ListMultipartUploadsResult>");
  REQUIRE(page.has_value());
  REQUIRE(page->uploads.size() == 2);
  CHECK(page->uploads[0].key == "p/a");
  CHECK(page->uploads[0].upload_id == "id1");
  CHECK(page->uploads[0].initiated == sys_days(year(2026) / December / day(7)) + hours(18));
  CHECK_FALSE(page->uploads[1].initiated.has_value());
  CHECK(page->truncated);
  CHECK(page->next_key_marker == "p/b");
  CHECK(page->next_upload_id_marker == "id2");
  // Truncated without a marker to go on from: refused, or paging would never end.
  CHECK_FALSE(
      parse_uploads_page("<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
                         "</ListMultipartUploadsResult>"));
  CHECK_FALSE(parse_uploads_page("<ListBucketResult/>"));
}

TEST_CASE("s3 xml: DeleteObjects: the quiet request body, and the failures of its answer") {
  CHECK(delete_objects_body({"p/a", "p/<&>"}) ==
        "<Delete><Quiet>true</Quiet><Object><Key>p/a</Key></Object>"
        "<Object><Key>p/&lt;&amp;&gt;</Key></Object></Delete>");
  CHECK(xml_safe_key("p/ä b"));
  CHECK_FALSE(xml_safe_key("p/a\x01"));
  CHECK_FALSE(xml_safe_key("p/a\nb"));
  const auto failures = parse_delete_result(
      "<?xml version=\"1.0\"?><DeleteResult><Deleted><Key>p/ok</Key></Deleted>"
      "<Error><Key>p/locked</Key><Code>AccessDenied</Code><Message>Access Denied</Message>"
      "</Error></DeleteResult>");
  REQUIRE(failures.has_value());
  REQUIRE(failures->size() == 1);
  CHECK((*failures)[0].key == "p/locked");
  CHECK((*failures)[0].code == "AccessDenied");
  CHECK((*failures)[0].message == "Access Denied");
  CHECK(parse_delete_result("<DeleteResult/>")->empty());
  CHECK_FALSE(parse_delete_result("<Error><Code>MalformedXML</Code></Error>"));
}

TEST_CASE("s3 xml: a ListObjectsV2 entry gives its ETag and Last-Modified second") {
  const auto page = parse_list_page(
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<IsTruncated>false</IsTruncated>"
      "<Contents><Key>p/a</Key><LastModified>2026-12-07T18:00:01.900Z</LastModified>"
      "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>4</Size></Contents>"
      "<Contents><Key>p/b</Key><Size>0</Size></Contents>"
      "</ListBucketResult>");
  REQUIRE(page);
  REQUIRE(page->objects.size() == 2);
  CHECK(page->objects[0].etag == "\"9b2cf535f27731c974343645a3985328\"");
  const auto second = duration_cast<seconds>(
      (sys_days(year(2026) / December / day(7)) + hours(18) + seconds(1)).time_since_epoch());
  CHECK(page->objects[0].modified_s == second.count());
  CHECK(page->objects[1].etag.empty());
  CHECK_FALSE(page->objects[1].modified_s);
}

TEST_CASE("s3 xml: CompleteMultipartUpload's answer gives the object's ETag") {
  CHECK(parse_complete_etag("<CompleteMultipartUploadResult "
                            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                            "<Location>http://h/b/k</Location><Bucket>b</Bucket><Key>k</Key>"
                            "<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
                            "</CompleteMultipartUploadResult>") ==
        "\"3858f62230ac3c915f300c664312c11f-9\"");
  CHECK_FALSE(parse_complete_etag("<Error><Code>InternalError</Code></Error>"));
  CHECK_FALSE(parse_complete_etag("not xml"));
}
