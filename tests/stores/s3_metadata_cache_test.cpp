// S3MetadataCache without a server: which listed versions it vouches for, and its file.

#include "tetherd/stores/s3_metadata_cache.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"

using tetherd::stores::S3MetadataCache;

namespace {

S3MetadataCache::Version version(std::string etag, std::uint64_t size,
                                 std::optional<std::int64_t> modified_s) {
  S3MetadataCache::Version v;
  v.etag = std::move(etag);
  v.size = size;
  v.modified_s = modified_s;
  v.mtime_ns = 1'700'000'000'123'456'789;
  v.mode = 0640;
  return v;
}

}  // namespace

TEST_CASE("s3 metadata cache: a listed version with the recorded ETag, size and second matches") {
  S3MetadataCache cache;
  cache.remember("p/a", version("\"abc\"", 4, 1000));
  const auto* found = cache.match("p/a", "\"abc\"", 4, 1000);
  REQUIRE(found != nullptr);
  CHECK(*found->mtime_ns == 1'700'000'000'123'456'789);
  CHECK(*found->mode == 0640);
  // Quotes are not part of the ETag: a listing may give it bare.
  CHECK(cache.match("p/a", "abc", 4, 1000) != nullptr);
  CHECK(cache.match("p/other", "abc", 4, 1000) == nullptr);
}

TEST_CASE("s3 metadata cache: another version of the key is not vouched for and is forgotten") {
  S3MetadataCache cache;
  SUBCASE("another ETag") {
    cache.remember("k", version("abc", 4, 1000));
    CHECK(cache.match("k", "abd", 4, 1000) == nullptr);
  }
  SUBCASE("another size") {
    cache.remember("k", version("abc", 4, 1000));
    CHECK(cache.match("k", "abc", 5, 1000) == nullptr);
  }
  SUBCASE("the same bytes written again (a later Last-Modified)") {
    cache.remember("k", version("abc", 4, 1000));
    CHECK(cache.match("k", "abc", 4, 1001) == nullptr);
  }
  // Forgotten: even the recorded version no longer matches.
  CHECK(cache.match("k", "abc", 4, 1000) == nullptr);
  CHECK(cache.size() == 0);
}

TEST_CASE("s3 metadata cache: our own write's entry takes its Last-Modified from the listing") {
  S3MetadataCache cache;
  cache.remember("k", version("abc", 4, std::nullopt));
  (void)cache.serialize("context");
  REQUIRE(cache.match("k", "abc", 4, 1000) != nullptr);
  CHECK(cache.changed());  // the second it learnt is worth saving
  CHECK(cache.match("k", "abc", 4, 1000) != nullptr);
  CHECK(cache.match("k", "abc", 4, 1002) == nullptr);
}

TEST_CASE("s3 metadata cache: forget drops an entry") {
  S3MetadataCache cache;
  cache.remember("k", version("abc", 4, 1000));
  cache.forget("k");
  CHECK(cache.match("k", "abc", 4, 1000) == nullptr);
}

TEST_CASE("s3 metadata cache: saved and loaded for the same context only") {
  const tetherd::test_support::TempDir dir("s3-meta");
  const std::string file = (dir.path() / "state" / "cache.bin").string();
  S3MetadataCache cache;
  cache.remember("p/a", version("abc", 4, 1000));
  auto no_mode = version("def", 7, std::nullopt);
  no_mode.mode.reset();
  no_mode.mtime_ns.reset();
  cache.remember(std::string("p/\xff\n odd", 9), no_mode);
  REQUIRE(S3MetadataCache::write_file(file, cache.serialize("bucket b")).ok());
  CHECK_FALSE(cache.changed());

  auto loaded = S3MetadataCache::load(file, "bucket b");
  CHECK(loaded.size() == 2);
  const auto* a = loaded.match("p/a", "abc", 4, 1000);
  REQUIRE(a != nullptr);
  CHECK(*a->mode == 0640);
  const auto* odd = loaded.match(std::string("p/\xff\n odd", 9), "def", 7, 5);
  REQUIRE(odd != nullptr);
  CHECK_FALSE(odd->mode.has_value());
  CHECK_FALSE(odd->mtime_ns.has_value());

  CHECK(S3MetadataCache::load(file, "bucket c").size() == 0);
  CHECK(S3MetadataCache::load(file + ".missing", "bucket b").size() == 0);
}

TEST_CASE("s3 metadata cache: a damaged file loads as an empty cache") {
  const tetherd::test_support::TempDir dir("s3-meta");
  const std::string file = (dir.path() / "cache.bin").string();
  S3MetadataCache cache;
  cache.remember("p/a", version("abc", 4, 1000));
  std::string bytes = cache.serialize("ctx");
  SUBCASE("torn") {
    bytes.resize(bytes.size() - 3);
  }
  SUBCASE("a flipped byte") {
    bytes[bytes.size() / 2] ^= 0x20;
  }
  SUBCASE("empty") {
    bytes.clear();
  }
  std::ofstream(file, std::ios::binary) << bytes;
  CHECK(S3MetadataCache::load(file, "ctx").size() == 0);
}
