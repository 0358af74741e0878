#include "tetherd/core/errors.hpp"

namespace tetherd::core {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::NotFound:
      return "NotFound";
    case Errc::AlreadyExists:
      return "AlreadyExists";
    case Errc::InvalidPath:
      return "InvalidPath";
    case Errc::IsDirectory:
      return "IsDirectory";
    case Errc::NotADirectory:
      return "NotADirectory";
    case Errc::DirectoryNotEmpty:
      return "DirectoryNotEmpty";
    case Errc::PermissionDenied:
      return "PermissionDenied";
    case Errc::CapabilityNotSupported:
      return "CapabilityNotSupported";
    case Errc::PreconditionFailed:
      return "PreconditionFailed";
    case Errc::Corrupted:
      return "Corrupted";
    case Errc::NoSpace:
      return "NoSpace";
    case Errc::ReadOnly:
      return "ReadOnly";
    case Errc::IoError:
      return "IoError";
    case Errc::Unavailable:
      return "Unavailable";
    case Errc::Timeout:
      return "Timeout";
    case Errc::RateLimited:
      return "RateLimited";
    case Errc::Cancelled:
      return "Cancelled";
    case Errc::Protocol:
      return "Protocol";
  }
  return "Unknown";
}

std::string_view describe(Errc code) noexcept {
  switch (code) {
    case Errc::NotFound:
      return "not found";
    case Errc::AlreadyExists:
      return "already exists";
    case Errc::InvalidPath:
      return "invalid path";
    case Errc::IsDirectory:
      return "is a directory";
    case Errc::NotADirectory:
      return "not a directory";
    case Errc::DirectoryNotEmpty:
      return "directory not empty";
    case Errc::PermissionDenied:
      return "permission denied";
    case Errc::CapabilityNotSupported:
      return "operation not supported by this store";
    case Errc::PreconditionFailed:
      return "precondition failed";
    case Errc::Corrupted:
      return "data corrupted";
    case Errc::NoSpace:
      return "no space left";
    case Errc::ReadOnly:
      return "read-only";
    case Errc::IoError:
      return "input/output error";
    case Errc::Unavailable:
      return "store unavailable";
    case Errc::Timeout:
      return "timed out";
    case Errc::RateLimited:
      return "rate limited";
    case Errc::Cancelled:
      return "cancelled";
    case Errc::Protocol:
      return "protocol error";
  }
  return "unknown error";
}

bool retryable_by_default(Errc code) noexcept {
  return code == Errc::Unavailable || code == Errc::Timeout || code == Errc::RateLimited;
}

namespace {
class StoreCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tetherd.store"; }
  std::string message(int value) const override {
    return std::string(describe(static_cast<Errc>(value)));
  }
};
}  // namespace

const std::error_category& store_category() noexcept {
  static const StoreCategory category;
  return category;
}

std::error_code make_error_code(Errc code) noexcept {
  return {static_cast<int>(code), store_category()};
}

std::string_view to_string(Operation operation) noexcept {
  switch (operation) {
    case Operation::Open:
      return "open";
    case Operation::Stat:
      return "stat";
    case Operation::List:
      return "list";
    case Operation::Read:
      return "read";
    case Operation::Write:
      return "write";
    case Operation::Copy:
      return "copy";
    case Operation::Move:
      return "move";
    case Operation::Remove:
      return "remove";
    case Operation::Mkdir:
      return "mkdir";
    case Operation::Rmdir:
      return "rmdir";
    case Operation::SetAttrs:
      return "set_attrs";
    case Operation::Symlink:
      return "symlink";
    case Operation::Readlink:
      return "readlink";
    case Operation::Close:
      return "close";
  }
  return "operation";
}

StoreError StoreError::make(Errc code, std::string detail) {
  StoreError error;
  error.code = code;
  error.detail = std::move(detail);
  error.retryable = retryable_by_default(code);
  return error;
}

std::string StoreError::message() const {
  std::string text;
  if (!store.empty()) text += "store '" + store + "': ";
  if (operation) {
    text += to_string(*operation);
    text += ' ';
  }
  if (!key.empty() || destination) {
    text += '\'' + key + '\'';
    if (destination) text += " -> '" + *destination + '\'';
    text += ": ";
  } else if (operation) {
    // An operation on no key in particular (opening a store, a store's root named by the
    // store): "store 'b': open: ...", not an empty pair of quotes.
    text.back() = ':';
    text += ' ';
  }
  text += detail.empty() ? std::string(describe(code)) : detail;
  if (!native_name.empty()) text += " (" + native_name + ')';
  return text;
}

}  // namespace tetherd::core
