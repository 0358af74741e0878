#pragma once

// SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02, the version OpenSSH speaks):
// packet encoding and decoding, file attributes, and the mapping of SSH_FX_* status codes
// onto core::Errc. Pure functions over bytes; no I/O.
//
// Why our own SFTP client over a libssh2 channel rather than libssh2's sftp API: libssh2
// 1.10 (Debian 12) keeps one state slot per request kind in its LIBSSH2_SFTP object, so
// two stats (or two opens) cannot be in flight at once in non-blocking mode, and it has no
// posix-rename@openssh.com (atomic overwrite), no way to see the server's extensions
// (fsync@openssh.com decides DURABLE) and no lsetstat. Requests here carry ids, any number
// may be outstanding, and replies are matched by id.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tetherd/core/errors.hpp"

namespace tetherd::stores::sftp {

enum PacketType : std::uint8_t {
  kInit = 1,
  kVersion = 2,
  kOpen = 3,
  kClose = 4,
  kRead = 5,
  kWrite = 6,
  kLstat = 7,
  kFstat = 8,
  kSetstat = 9,
  kFsetstat = 10,
  kOpendir = 11,
  kReaddir = 12,
  kRemove = 13,
  kMkdir = 14,
  kRmdir = 15,
  kRealpath = 16,
  kStat = 17,
  kRename = 18,
  kReadlink = 19,
  kSymlink = 20,
  kStatus = 101,
  kHandle = 102,
  kData = 103,
  kName = 104,
  kAttrs = 105,
  kExtended = 200,
  kExtendedReply = 201,
};

enum Status : std::uint32_t {
  kOk = 0,
  kEof = 1,
  kNoSuchFile = 2,
  kPermissionDenied = 3,
  kFailure = 4,
  kBadMessage = 5,
  kNoConnection = 6,
  kConnectionLost = 7,
  kOpUnsupported = 8,
};

// SSH_FXF_* open flags.
inline constexpr std::uint32_t kOpenRead = 0x01;
inline constexpr std::uint32_t kOpenWrite = 0x02;
inline constexpr std::uint32_t kOpenCreate = 0x08;
inline constexpr std::uint32_t kOpenTruncate = 0x10;
inline constexpr std::uint32_t kOpenExclusive = 0x20;

struct FileAttrs {
  static constexpr std::uint32_t kSize = 0x1;
  static constexpr std::uint32_t kUidGid = 0x2;
  static constexpr std::uint32_t kPermissions = 0x4;
  static constexpr std::uint32_t kTimes = 0x8;
  static constexpr std::uint32_t kExtended = 0x80000000u;

  std::uint32_t flags = 0;
  std::uint64_t size = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint32_t permissions = 0;  ///< st_mode: type bits and permission bits
  std::uint32_t atime = 0;
  std::uint32_t mtime = 0;

  bool is_dir() const { return (flags & kPermissions) && (permissions & 0170000) == 0040000; }
  bool is_link() const { return (flags & kPermissions) && (permissions & 0170000) == 0120000; }
  bool is_file() const { return (flags & kPermissions) && (permissions & 0170000) == 0100000; }
};

/// Appends SFTP fields to a packet body.
class Writer {
 public:
  Writer& u8(std::uint8_t value);
  Writer& u32(std::uint32_t value);
  Writer& u64(std::uint64_t value);
  Writer& str(std::string_view value);
  Writer& attrs(const FileAttrs& attrs);
  std::string take() { return std::move(bytes_); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

/// Reads SFTP fields; a short or malformed packet sets failed() (values read then are 0).
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  std::uint8_t u8();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string str();
  FileAttrs attrs();
  bool failed() const { return failed_; }
  bool empty() const { return rest_.empty(); }

 private:
  bool need(std::size_t count);
  std::string_view rest_;
  bool failed_ = false;
};

/// One reply as it arrived: its type and the body after the request id.
struct Reply {
  std::uint8_t type = 0;
  std::string body;
};

/// "SSH_FX_NO_SUCH_FILE", ...
std::string_view status_name(std::uint32_t status);
/// The error a non-OK status means by itself (callers look closer at SSH_FX_FAILURE where
/// the operation tells more: mkdir over an existing entry, rmdir of a full directory).
core::StoreError status_error(std::uint32_t status, std::string_view server_message);
/// A malformed or unexpected reply.
core::StoreError protocol_error(std::string detail);
/// The status of a STATUS reply; nullopt if the reply is not a well-formed STATUS.
std::optional<std::uint32_t> reply_status(const Reply& reply, std::string* message = nullptr);

}  // namespace tetherd::stores::sftp
