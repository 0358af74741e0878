#pragma once

// What a store can do. Gates are checked by the Store front before any I/O: an
// operation that needs an undeclared gate fails with CapabilityNotSupported. Quality
// flags gate nothing; they tell the engine how strong the guarantees are.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::core {

enum class Capability : std::uint32_t {
  // Gates.
  Read = 1u << 0,
  Write = 1u << 1,
  Delete = 1u << 2,  ///< remove, rmdir
  List = 1u << 3,
  Move = 1u << 4,
  Copy = 1u << 5,           ///< store-internal copy
  AtomicWrite = 1u << 6,    ///< write(atomic=true): readers see old or new, never a torn file
  Metadata = 1u << 7,       ///< stat
  SetMtime = 1u << 8,       ///< write(mtime=...), set_attrs(mtime=...)
  SetMode = 1u << 9,        ///< write(mode=...), set_attrs(mode=...)
  UserMetadata = 1u << 10,  ///< arbitrary key/value metadata on objects (object stores)
  Symlink = 1u << 11,       ///< symlink, readlink
  Mkdir = 1u << 12,
  // Quality flags.
  AtomicMove = 1u << 16,       ///< move is one atomic step (rename)
  AtomicReplace = 1u << 17,    ///< overwrite replaces atomically
  NoClobberCreate = 1u << 18,  ///< overwrite=false is enforced atomically, not check-then-act
  Durable = 1u << 19,          ///< completed writes are on stable storage (fsync)
  ExplicitDirs = 1u << 20,     ///< empty directories exist
  LazyRead = 1u << 21,         ///< read streams without fetching the whole object first
  ServerSideCopy = 1u << 22,   ///< copy/move do not pass data through this process
};

/// Upper-case name as in messages and config: "READ", "ATOMIC_WRITE".
std::string_view to_string(Capability capability) noexcept;
/// The inverse of to_string (exact, upper-case); nullopt for an unknown name.
std::optional<Capability> capability_from_string(std::string_view name) noexcept;
/// Whether the capability gates an operation (as opposed to a quality flag).
bool is_gate(Capability capability) noexcept;
/// Every capability, gates first, in declaration order.
const std::vector<Capability>& all_capabilities();

/// A store's declared capabilities plus its valued properties.
class CapabilitySet {
 public:
  CapabilitySet() = default;
  CapabilitySet(std::initializer_list<Capability> capabilities);

  bool has(Capability capability) const noexcept {
    return (bits_ & static_cast<std::uint32_t>(capability)) != 0;
  }
  CapabilitySet& add(Capability capability) noexcept;
  CapabilitySet& remove(Capability capability) noexcept;

  /// Granularity at which the store keeps modification times; nullopt: it keeps none.
  std::optional<std::chrono::nanoseconds> mtime_precision;
  /// How far the mtime the store stamps on a change may trail this host's wall clock at the
  /// moment of the change: about a kernel tick for a local file system; for a remote one
  /// (its server's clock) a second is assumed. The listing cache's racy window adds it.
  std::chrono::nanoseconds mtime_clock_skew = std::chrono::seconds(1);
  /// The modification times the store can hold, in whole seconds since the epoch, both
  /// ends included: a time outside is stored as the nearer end (SFTP v3 keeps an unsigned
  /// 32-bit count). nullopt: no limit worth stating.
  struct MtimeRange {
    std::int64_t first_second = 0;
    std::int64_t last_second = 0;
    bool operator==(const MtimeRange&) const = default;
  };
  std::optional<MtimeRange> mtime_range;
  /// Content digests the store can report ("md5", "sha256"); empty when none.
  std::set<std::string> hashes;

  /// Declared capabilities in declaration order.
  std::vector<Capability> list() const;
  /// "READ|WRITE|... mtime_precision=1ns hashes=md5,sha256"; " mtime_clock_skew=…ns" too
  /// when it is not the assumed second.
  std::string to_string() const;

  friend bool operator==(const CapabilitySet&, const CapabilitySet&) = default;

 private:
  std::uint32_t bits_ = 0;
};

}  // namespace tetherd::core
