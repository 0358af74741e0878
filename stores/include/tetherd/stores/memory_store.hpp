#pragma once

// memory_store: the reference implementation of the Store contract, in memory. Every
// gate (but USER_METADATA, which no operation uses yet) and explicit directories;
// capabilities can be narrowed to play a weaker backend. Fault injection makes it the
// target of the engine's tests: fail the Nth matching operation with a chosen error, add
// latency (a timer on the loop), or stop answering until the fault is lifted or the
// operation is cancelled.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tetherd/core/store.hpp"

namespace tetherd::stores {

struct MemoryStoreOptions {
  std::string name = "memory";
  /// nullopt: everything the memory store implements (full_memory_capabilities()). An
  /// mtime_precision coarser than 1 ns is kept: mtimes are cut to it (as SFTP's whole
  /// seconds), so that the engine's tests can play such a target.
  std::optional<core::CapabilitySet> capabilities;
};

core::CapabilitySet full_memory_capabilities();

/// One injected fault. It matches operations by kind and key; of the matching ones it
/// lets `skip` pass, then applies to the next `times` (nullopt: until cleared).
struct Fault {
  enum class Kind {
    Fail,   ///< complete with `error` without doing anything
    Delay,  ///< wait `delay` on a loop timer, then perform the operation
    Hang,   ///< never complete until cancelled or the fault is cleared (then perform it)
  };
  Kind kind = Kind::Fail;
  std::optional<core::Operation> operation;  ///< nullopt: any operation
  std::optional<core::StoreKey> under;       ///< only keys within this one
  std::uint32_t skip = 0;
  std::optional<std::uint32_t> times = 1;
  core::StoreError error = core::StoreError::make(core::Errc::Unavailable, "injected fault");
  std::chrono::milliseconds delay{0};
};

class MemoryStore;

/// Creates an empty memory store completing on `executor`.
std::shared_ptr<MemoryStore> open_memory_store(core::Executor& executor,
                                               MemoryStoreOptions options = {});

class MemoryStore : public core::Store {
 public:
  using FaultId = std::uint64_t;

  FaultId inject(Fault fault);
  /// Lifts a fault; operations it holds hanging proceed now.
  void clear_fault(FaultId fault);
  void clear_faults();
  /// Operations currently held by Hang faults.
  std::size_t hung_operations() const noexcept;
  /// How many operations reached the backend (after the front's checks).
  std::uint64_t backend_calls() const noexcept { return backend_calls_; }

 protected:
  MemoryStore(core::Executor& executor, std::string name, core::CapabilitySet capabilities);
  std::uint64_t backend_calls_ = 0;
};

}  // namespace tetherd::stores
