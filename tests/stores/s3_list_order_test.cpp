// The reorder buffer of S3 listings (s3_list_order.hpp), without a server: a simulated
// bucket answers pages in S3's byte order and probes from its keys, driven the way the
// listing stream drives it (next_step). The result must be exactly StoreKey order with
// synthesized directories, deduplicated; memory must stay within the bound unless a
// directory really sorts after many keys; requests per page stay one.

#include "s3_list_order.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using tetherd::core::EntryType;
using tetherd::core::StoreKey;
using tetherd::stores::s3::ListOrder;

namespace {

/// One item of a listing page: an object, or a common prefix of a delimited listing.
struct Item {
  std::string key;
  bool common = false;
};

/// What a listing of `keys` (relative, any order) gives, as S3 would page it.
std::vector<Item> s3_items(std::vector<std::string> keys, bool recursive) {
  std::sort(keys.begin(), keys.end());  // bytes, as S3
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<Item> items;
  for (const auto& key : keys) {
    const auto slash = key.find('/');
    if (recursive || slash == std::string::npos) {
      items.push_back({key, false});
      continue;
    }
    const std::string prefix = key.substr(0, slash + 1);
    if (items.empty() || items.back().key != prefix) items.push_back({prefix, true});
  }
  return items;
}

/// The listing the contract wants, computed the plain way: every entry at once, sorted.
std::vector<std::pair<std::string, EntryType>> expected(const std::vector<std::string>& keys,
                                                        bool recursive) {
  auto valid = [](std::string_view name) {
    auto parsed = StoreKey::parse(name);
    return !name.empty() && parsed && parsed->str() == name;
  };
  std::map<StoreKey, EntryType> entries;
  for (std::string key : keys) {
    if (!recursive && key.find('/') != std::string::npos) {
      // Delimited: S3 rolls the key into its first segment's common prefix.
      const std::string first = key.substr(0, key.find('/'));
      if (valid(first)) entries.emplace(*StoreKey::parse(first), EntryType::Directory);
      continue;
    }
    const bool marker = !key.empty() && key.back() == '/';
    if (marker) key.pop_back();
    if (!valid(key)) continue;
    auto parsed = StoreKey::parse(key);
    for (auto parent = parsed->parent(); !parent.is_root(); parent = parent.parent())
      entries.emplace(parent, EntryType::Directory);
    if (marker) {
      entries.emplace(*parsed, EntryType::Directory);
    } else {
      entries.insert_or_assign(*parsed, EntryType::File);
    }
  }
  std::vector<std::pair<std::string, EntryType>> out;
  for (const auto& [key, type] : entries)
    out.emplace_back(key.str(), type);
  return out;
}

struct Run {
  std::vector<std::pair<std::string, EntryType>> listed;
  std::size_t fetches = 0;
  std::size_t probes = 0;
  std::size_t most_in_memory = 0;  ///< ready + held, at the most
  bool batches_bounded = true;
};

/// Drives a ListOrder over `keys` as the stream does, pages of `page` items.
Run simulate(const std::vector<std::string>& keys, bool recursive, std::size_t page,
             std::size_t batch, std::size_t bound) {
  const auto items = s3_items(keys, recursive);
  ListOrder order(recursive, bound);
  Run run;
  std::size_t next = 0;
  for (int guard = 0; guard < 10'000'000; ++guard) {
    const auto step = order.next_step(batch);
    if (step.kind == ListOrder::Step::Kind::Deliver) {
      auto entries = order.take(batch);
      if (entries.size() > batch) run.batches_bounded = false;
      if (entries.empty()) return run;
      for (const auto& entry : entries)
        run.listed.emplace_back(entry.key.str(), entry.type);
    } else if (step.kind == ListOrder::Step::Kind::Probe) {
      ++run.probes;
      const std::string below = step.probe + "/";
      const bool exists = std::any_of(
          keys.begin(), keys.end(), [&](const std::string& key) { return key.starts_with(below); });
      order.resolve(step.probe, exists);
    } else {
      ++run.fetches;
      const std::size_t end = std::min(items.size(), next + page);
      for (; next < end; ++next) {
        if (items[next].common) {
          order.add_common_prefix(items[next].key);
        } else {
          order.add_object(items[next].key, 1);
        }
      }
      if (next == items.size()) {
        order.end();
      } else {
        order.advance(items[next - 1].key, items[next - 1].common);
      }
    }
    run.most_in_memory = std::max(run.most_in_memory, order.ready() + order.held());
  }
  FAIL("the listing did not end");
  return run;
}

std::vector<std::string> names(const std::vector<std::pair<std::string, EntryType>>& listed) {
  std::vector<std::string> out;
  for (const auto& entry : listed)
    out.push_back(entry.first);
  return out;
}

}  // namespace

TEST_CASE("s3 list order: names with bytes below '/' next to directories of the same stem") {
  const std::vector<std::string> keys = {
      "a/b",   "a-b/c", "a b",   "a/b.c/d", "a/b/c",   "a.txt",   "a!",   "a.b/c/d",
      "a/b!",  "a/b c", "a/b-c", "a/b/c.d", "a/b/c-d", "a/b/c/e", "b",    "a/e/",
      "a/f-/", "a/f/g", "x.1",   "x.2",     "x/y",     "x-/z",    "m.d/", "m/"};
  const auto want_recursive = expected(keys, true);
  const auto want_flat = expected(keys, false);
  // The order itself, spelled out once for the top level.
  CHECK(names(want_flat) == std::vector<std::string>{"a", "a b", "a!", "a-b", "a.b", "a.txt", "b",
                                                     "m", "m.d", "x", "x-", "x.1", "x.2"});
  for (std::size_t page : {1u, 2u, 3u, 1000u}) {
    for (std::size_t batch : {1u, 2u, 5u, 1000u}) {
      for (std::size_t bound : {1u, 4u, 8u, 4000u}) {
        CAPTURE(page);
        CAPTURE(batch);
        CAPTURE(bound);
        auto recursive = simulate(keys, true, page, batch, bound);
        CHECK(recursive.listed == want_recursive);
        CHECK(recursive.batches_bounded);
        auto flat = simulate(keys, false, page, batch, bound);
        CHECK(flat.listed == want_flat);
        CHECK(flat.batches_bounded);
      }
    }
  }
}

TEST_CASE("s3 list order: random names over a small alphabet list as the plain sort does") {
  // Bytes below '/', '/' itself, and bytes above it; invalid keys ("a//b", "/a", "./a")
  // and markers included: they must be dropped or merged just as the plain way does.
  const std::string alphabet = "ab -.!/";
  std::minstd_rand random(20261207);
  for (int round = 0; round < 400; ++round) {
    std::vector<std::string> keys;
    const int count = 1 + static_cast<int>(random() % 30);
    for (int i = 0; i < count; ++i) {
      std::string key;
      const int length = 1 + static_cast<int>(random() % 7);
      for (int j = 0; j < length; ++j)
        key += alphabet[random() % alphabet.size()];
      keys.push_back(key);
    }
    const std::size_t page = 1 + random() % 4;
    const std::size_t batch = 1 + random() % 3;
    const std::size_t bound = 1 + random() % 6;
    CAPTURE(round);
    CAPTURE(keys);
    CAPTURE(page);
    CAPTURE(batch);
    CAPTURE(bound);
    CHECK(simulate(keys, true, page, batch, bound).listed == expected(keys, true));
    CHECK(simulate(keys, false, page, batch, bound).listed == expected(keys, false));
  }
}

TEST_CASE("s3 list order: many keys before their stem's range stay within the bound") {
  // 2,000 "x.NNNN" files, no "x/": S3 sends them all before where "x/" would be. One probe
  // shows "x" is no directory; from then on entries go as pages come.
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i)
    keys.push_back("x." + std::to_string(10000 + i));
  keys.push_back("y");
  const std::size_t page = 10;
  const std::size_t bound = 4 * page;
  auto run = simulate(keys, true, page, 7, bound);
  CHECK(run.listed == expected(keys, true));
  CHECK(run.probes == 1);
  CHECK(run.fetches == keys.size() / page + 1);
  CHECK(run.most_in_memory <= bound + page);
  // Likewise delimited.
  auto flat = simulate(keys, false, page, 7, bound);
  CHECK(flat.listed == expected(keys, false));
  CHECK(flat.probes == 1);
  CHECK(flat.most_in_memory <= bound + page);
}

TEST_CASE("s3 list order: a directory after many keys of its stem is the one case that grows") {
  // "x/" exists: every "x.NNNN" sorts after "x" and its contents, which S3 sends last. They
  // must be held until then (the documented growth: the keys between "x.10000" and "x/").
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i)
    keys.push_back("x." + std::to_string(10000 + i));
  keys.push_back("x/in");
  keys.push_back("y");
  const std::size_t page = 10;
  auto run = simulate(keys, true, page, 7, 4 * page);
  CHECK(run.listed == expected(keys, true));
  CHECK(run.listed.front().first == "x");
  CHECK(run.listed[1].first == "x/in");
  CHECK(run.probes == 1);  // asked once, remembered
  CHECK(run.most_in_memory >= 500);
  CHECK(run.most_in_memory <= 500 + page + 2);
}

TEST_CASE("s3 list order: an ordinary tree costs one request per page, no probes") {
  // 100,000 keys in dated directories (bytes below '/' everywhere: '-' and '.'), pages of
  // 1,000: a no-op sync's listing must stay about 100 requests.
  std::vector<std::string> keys;
  for (int day = 1; day <= 100; ++day) {
    for (int i = 0; i < 1000; ++i) {
      keys.push_back("photos/2024-" + std::to_string(10 + day / 28) + "-" +
                     std::to_string(10 + day % 28) + "/IMG_" + std::to_string(10000 + i) + ".jpg");
    }
  }
  auto run = simulate(keys, true, 1000, 256, 4000);
  CHECK(run.listed == expected(keys, true));
  CHECK(run.fetches == 100);  // the 100th page says it is the last
  CHECK(run.probes <= 8);
  CHECK(run.most_in_memory <= 5000);
}

TEST_CASE("s3 list order: a common prefix as the position covers the keys below it") {
  // Delimited: "x.1" waits for the range of "x/"; the page ending with the common prefix
  // "x/" stands for every key below it, so "x.1" may go at once, after "x".
  ListOrder order(false, 100);
  order.add_object("x.1", 1);
  order.add_common_prefix("x/");
  order.advance("x/", true);
  REQUIRE(order.ready() == 2);
  auto entries = order.take(10);
  CHECK(entries[0].key.str() == "x");
  CHECK(entries[0].type == EntryType::Directory);
  CHECK(entries[1].key.str() == "x.1");
  // A plain key as the position leaves the range open: "y.1" waits.
  ListOrder plain(true, 100);
  plain.add_object("y.1", 1);
  plain.add_object("y/", 0);
  plain.advance("y/", false);
  CHECK(plain.ready() == 1);  // "y" (its marker); "y/..." may still come
  plain.advance("y0", false);
  CHECK(plain.ready() == 2);
}
