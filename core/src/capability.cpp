#include "tetherd/core/capability.hpp"

#include <array>
#include <utility>

namespace tetherd::core {

namespace {
constexpr std::array<std::pair<Capability, std::string_view>, 20> kNames{{
    {Capability::Read, "READ"},
    {Capability::Write, "WRITE"},
    {Capability::Delete, "DELETE"},
    {Capability::List, "LIST"},
    {Capability::Move, "MOVE"},
    {Capability::Copy, "COPY"},
    {Capability::AtomicWrite, "ATOMIC_WRITE"},
    {Capability::Metadata, "METADATA"},
    {Capability::SetMtime, "SET_MTIME"},
    {Capability::SetMode, "SET_MODE"},
    {Capability::UserMetadata, "USER_METADATA"},
    {Capability::Symlink, "SYMLINK"},
    {Capability::Mkdir, "MKDIR"},
    {Capability::AtomicMove, "ATOMIC_MOVE"},
    {Capability::AtomicReplace, "ATOMIC_REPLACE"},
    {Capability::NoClobberCreate, "NO_CLOBBER_CREATE"},
    {Capability::Durable, "DURABLE"},
    {Capability::ExplicitDirs, "EXPLICIT_DIRS"},
    {Capability::LazyRead, "LAZY_READ"},
    {Capability::ServerSideCopy, "SERVER_SIDE_COPY"},
}};
}  // namespace

std::string_view to_string(Capability capability) noexcept {
  for (const auto& [value, name] : kNames) {
    if (value == capability) return name;
  }
  return "UNKNOWN";
}

std::optional<Capability> capability_from_string(std::string_view name) noexcept {
  for (const auto& [value, known] : kNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

bool is_gate(Capability capability) noexcept {
  return static_cast<std::uint32_t>(capability) <
         static_cast<std::uint32_t>(Capability::AtomicMove);
}

const std::vector<Capability>& all_capabilities() {
  static const std::vector<Capability> all = [] {
    std::vector<Capability> values;
    for (const auto& entry : kNames)
      values.push_back(entry.first);
    return values;
  }();
  return all;
}

CapabilitySet::CapabilitySet(std::initializer_list<Capability> capabilities) {
  for (auto capability : capabilities)
    add(capability);
}

CapabilitySet& CapabilitySet::add(Capability capability) noexcept {
  bits_ |= static_cast<std::uint32_t>(capability);
  return *this;
}

CapabilitySet& CapabilitySet::remove(Capability capability) noexcept {
  bits_ &= ~static_cast<std::uint32_t>(capability);
  return *this;
}

std::vector<Capability> CapabilitySet::list() const {
  std::vector<Capability> declared;
  for (const auto& entry : kNames) {
    if (has(entry.first)) declared.push_back(entry.first);
  }
  return declared;
}

std::string CapabilitySet::to_string() const {
  std::string text;
  for (auto capability : list()) {
    if (!text.empty()) text += '|';
    text += core::to_string(capability);
  }
  if (text.empty()) text = "(none)";
  if (mtime_precision)
    text += " mtime_precision=" + std::to_string(mtime_precision->count()) + "ns";
  if (mtime_range) {
    text += " mtime_range=" + std::to_string(mtime_range->first_second) + ".." +
            std::to_string(mtime_range->last_second) + "s";
  }
  if (mtime_clock_skew != std::chrono::seconds(1))
    text += " mtime_clock_skew=" + std::to_string(mtime_clock_skew.count()) + "ns";
  if (!hashes.empty()) {
    text += " hashes=";
    bool first = true;
    for (const auto& hash : hashes) {
      if (!first) text += ',';
      text += hash;
      first = false;
    }
  }
  return text;
}

}  // namespace tetherd::core
