#pragma once

// ListOrder: turns the pages of a ListObjectsV2 listing, which arrive in S3's order (UTF-8
// bytes of whole keys), into the entries of a store listing in StoreKey order (segment-wise:
// bytes, with '/' below every other byte), holding back only the entries that a later page
// could still precede. Pure logic, no I/O: the S3 listing stream (s3_store_list.cpp) feeds it
// pages and answers the probes it asks for.
//
// Where the two orders differ. Compare an entry k with an entry e that sorts before it in
// StoreKey order. At the first byte i where they differ (or where the shorter one ends) the
// orders agree unless one of them has '/' there and the other a byte below '/' (0x01-0x2E:
// space ! " # $ % & ' ( ) * + , - .). So e < k in StoreKey order but e > k in S3 order only
// when e begins with d + "/" and k with d + c, c < '/', for d = k[0, i): a "danger prefix"
// of k. (Synthesized directories and markers behave the same: a directory d is listed
// through the keys d + "/"..., all of which lie in that range.)
//
// When an entry may go. Let p be the listing position: every key up to p in S3's order has
// been received. An entry k held here may be released once, for every danger prefix d of k,
// either p is past the whole range of keys beginning with d + "/" (p > d + "/" and p does not
// begin with d + "/"), or a probe showed no key there (d is not a directory), or the listing
// has ended. Why nothing can then come before k: a future entry e comes from a key f > p that
// begins with e. If e < k in StoreKey order, take the first byte i where e and k differ:
//   - e a proper prefix of k: f begins with e and f > p >= k, so f = e + "/"... with
//     k[|e|] < '/' (k[|e|] = '/' makes e a parent of k, received with k already; a byte
//     above '/' would put f below k): e is the danger prefix d = k[0, |e|), f in its range;
//   - e[i] = '/', k[i] != '/': f > k needs k[i] < '/', so d = k[0, i) is a danger prefix
//     and f lies in its range;
//   - neither byte '/': e[i] < k[i] puts f below k, impossible; k[i] = '/' puts k first.
// In every case f lies in the range of a danger prefix d of k that is not passed and not
// shown empty, which the rule excludes. An entry at or before the last one released is a
// duplicate (a parent directory named again) and is dropped.
//
// Only the shortest unresolved danger prefix matters: the range of a longer one, d + c + ...
// with c < '/', lies wholly before d + "/", so passing d's range passes theirs.
//
// Memory. Released entries wait in `ready` for the consumer; held ones wait for the position.
// Every danger prefix not yet passed is a prefix of p (the keys between k and p begin with
// d), so few are open at once, and an entry is held only while the listing is inside one of
// them. The stream fetches no further page once ready + held reach the bound (a few pages);
// if the first held entry is still blocked then, by a prefix d of unknown kind, it asks for
// a probe (ListObjectsV2 prefix = d + "/", max-keys 1): nothing there, and d's range is empty
// and the held entries go; something there, and d is a directory whose entries truly come
// first: then, and only then, the listing goes on holding entries beyond the bound, at most
// the keys between k and d + "/" in S3's order (a million "x.0001"... files before "x/").

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/core/store.hpp"

namespace tetherd::stores::s3 {

class ListOrder {
 public:
  /// What the listing stream does next (see next_step).
  struct Step {
    enum class Kind {
      Deliver,  ///< hand the consumer up to a batch of ready entries (none: the end)
      Probe,    ///< ask whether any key begins with `probe` + "/" (then resolve())
      Fetch,    ///< fetch the next page (then add_*() and advance() or end())
    } kind = Kind::Fetch;
    std::string probe;
  };

  /// `recursive`: objects yield their parent directories as entries too; otherwise the
  /// listing is delimited ('/'), so keys hold no '/' and directories come as common
  /// prefixes. `bound`: the entries held and ready above which no page is fetched.
  ListOrder(bool recursive, std::size_t bound);

  /// One object of the listing; `relative`: its key below the listed directory's prefix.
  /// Keys that no StoreKey produces ("a//b", "./x") and the directory's own marker yield
  /// nothing. `mtime` and `mode` go into the file's entry (a marker's are not used).
  void add_object(std::string_view relative, std::uint64_t size,
                  std::optional<core::TimePoint> mtime = std::nullopt,
                  std::optional<std::uint32_t> mode = std::nullopt);
  /// One common prefix of a delimited listing ("d/").
  void add_common_prefix(std::string_view relative);
  /// Every key up to `position` (S3's order, relative) has been added; with `rolled`, every
  /// key beginning with `position` too (a common prefix stands for the keys below it).
  /// Positions only move forward.
  void advance(std::string_view position, bool rolled);
  /// The listing has no more pages: everything held is ready.
  void end();
  /// A probe's answer: whether some key begins with `dir` + "/".
  void resolve(const std::string& dir, bool exists);

  /// What to do for a consumer asking for `batch` entries.
  Step next_step(std::size_t batch) const;
  /// Takes up to `most` ready entries, in StoreKey order (keys relative to the listing).
  std::vector<core::EntryInfo> take(std::size_t most);

  std::size_t ready() const noexcept { return ready_.size(); }
  std::size_t held() const noexcept { return held_.size(); }
  bool ended() const noexcept { return ended_; }

 private:
  void add(core::EntryInfo entry);
  void add_directory(const core::StoreKey& key);
  /// Moves held entries to ready, in order, while the first one may go.
  void release();
  /// The shortest danger prefix of `key` neither passed nor shown not to be a directory.
  std::optional<std::string_view> blocker(std::string_view key) const;
  /// Whether every key beginning with `dir` + "/" has been received.
  bool passed(std::string_view dir) const;

  bool recursive_;
  std::size_t bound_;
  std::map<core::StoreKey, core::EntryInfo> held_;
  std::deque<core::EntryInfo> ready_;
  std::optional<core::StoreKey> last_;  ///< the last entry released
  std::string position_;
  bool rolled_ = false;
  bool ended_ = false;
  /// Danger prefixes a probe found empty (kept until passed), and those it found to be
  /// directories (never probed again).
  std::set<std::string, std::less<>> not_directories_;
  std::set<std::string, std::less<>> directories_;
};

}  // namespace tetherd::stores::s3
