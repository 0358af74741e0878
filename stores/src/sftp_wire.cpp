#include "sftp_wire.hpp"

namespace tetherd::stores::sftp {

Writer& Writer::u8(std::uint8_t value) {
  bytes_.push_back(static_cast<char>(value));
  return *this;
}

Writer& Writer::u32(std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes_.push_back(static_cast<char>((value >> shift) & 0xff));
  return *this;
}

Writer& Writer::u64(std::uint64_t value) {
  u32(static_cast<std::uint32_t>(value >> 32));
  return u32(static_cast<std::uint32_t>(value));
}

Writer& Writer::str(std::string_view value) {
  u32(static_cast<std::uint32_t>(value.size()));
  bytes_.append(value);
  return *this;
}

Writer& Writer::attrs(const FileAttrs& attrs) {
  // Only the fields a request sets; extended attributes are never sent.
  const std::uint32_t flags = attrs.flags & ~FileAttrs::kExtended;
  u32(flags);
  if (flags & FileAttrs::kSize) u64(attrs.size);
  if (flags & FileAttrs::kUidGid) u32(attrs.uid).u32(attrs.gid);
  if (flags & FileAttrs::kPermissions) u32(attrs.permissions);
  if (flags & FileAttrs::kTimes) u32(attrs.atime).u32(attrs.mtime);
  return *this;
}

bool Reader::need(std::size_t count) {
  if (failed_ || rest_.size() < count) {
    failed_ = true;
    return false;
  }
  return true;
}

std::uint8_t Reader::u8() {
  if (!need(1)) return 0;
  auto value = static_cast<std::uint8_t>(rest_[0]);
  rest_.remove_prefix(1);
  return value;
}

std::uint32_t Reader::u32() {
  if (!need(4)) return 0;
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value = (value << 8) | static_cast<std::uint8_t>(rest_[static_cast<std::size_t>(i)]);
  rest_.remove_prefix(4);
  return value;
}

std::uint64_t Reader::u64() {
  std::uint64_t high = u32();
  return (high << 32) | u32();
}

std::string Reader::str() {
  std::uint32_t length = u32();
  if (!need(length)) return {};
  std::string value(rest_.substr(0, length));
  rest_.remove_prefix(length);
  return value;
}

FileAttrs Reader::attrs() {
  FileAttrs attrs;
  attrs.flags = u32();
  if (attrs.flags & FileAttrs::kSize) attrs.size = u64();
  if (attrs.flags & FileAttrs::kUidGid) {
    attrs.uid = u32();
    attrs.gid = u32();
  }
  if (attrs.flags & FileAttrs::kPermissions) attrs.permissions = u32();
  if (attrs.flags & FileAttrs::kTimes) {
    attrs.atime = u32();
    attrs.mtime = u32();
  }
  if (attrs.flags & FileAttrs::kExtended) {
    std::uint32_t count = u32();
    for (std::uint32_t i = 0; i < count && !failed_; ++i) {
      str();
      str();
    }
  }
  return attrs;
}

std::string_view status_name(std::uint32_t status) {
  switch (status) {
    case kOk:
      return "SSH_FX_OK";
    case kEof:
      return "SSH_FX_EOF";
    case kNoSuchFile:
      return "SSH_FX_NO_SUCH_FILE";
    case kPermissionDenied:
      return "SSH_FX_PERMISSION_DENIED";
    case kFailure:
      return "SSH_FX_FAILURE";
    case kBadMessage:
      return "SSH_FX_BAD_MESSAGE";
    case kNoConnection:
      return "SSH_FX_NO_CONNECTION";
    case kConnectionLost:
      return "SSH_FX_CONNECTION_LOST";
    case kOpUnsupported:
      return "SSH_FX_OP_UNSUPPORTED";
    default:
      return "SSH_FX_UNKNOWN";
  }
}

core::StoreError status_error(std::uint32_t status, std::string_view server_message) {
  using core::Errc;
  Errc code = Errc::IoError;
  switch (status) {
    case kNoSuchFile:
      code = Errc::NotFound;
      break;
    case kPermissionDenied:
      code = Errc::PermissionDenied;
      break;
    case kNoConnection:
    case kConnectionLost:
      code = Errc::Unavailable;
      break;
    case kOpUnsupported:
      code = Errc::CapabilityNotSupported;
      break;
    case kBadMessage:
      code = Errc::Protocol;
      break;
    default:
      // SSH_FX_FAILURE is all v3 says for ENOSPC, EEXIST, ENOTEMPTY, EIO...: the callers
      // that can tell more (by a follow-up lstat or listing) do.
      code = Errc::IoError;
      break;
  }
  auto error = core::StoreError::make(code, std::string(server_message));
  error.native_code = static_cast<int>(status);
  error.native_name = std::string(status_name(status));
  return error;
}

core::StoreError protocol_error(std::string detail) {
  return core::StoreError::make(core::Errc::Protocol, "SFTP: " + std::move(detail));
}

std::optional<std::uint32_t> reply_status(const Reply& reply, std::string* message) {
  if (reply.type != kStatus) return std::nullopt;
  Reader reader(reply.body);
  std::uint32_t status = reader.u32();
  if (reader.failed()) return std::nullopt;
  // v3 servers add a message and a language tag; both optional in older drafts.
  if (message && !reader.empty()) *message = reader.str();
  return status;
}

}  // namespace tetherd::stores::sftp
