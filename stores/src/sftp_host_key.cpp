#include "sftp_host_key.hpp"

#include <memory>

namespace tetherd::stores::sftp {

namespace {

std::string_view key_type_name(int type) {
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA:
      return "ssh-rsa";
    case LIBSSH2_HOSTKEY_TYPE_DSS:
      return "ssh-dss";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
      return "ecdsa-sha2-nistp256";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
      return "ecdsa-sha2-nistp384";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
      return "ecdsa-sha2-nistp521";
    case LIBSSH2_HOSTKEY_TYPE_ED25519:
      return "ssh-ed25519";
    default:
      return "unknown";
  }
}

int known_host_key_bits(int type) {
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA:
      return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS:
      return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519:
      return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default:
      return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
  }
}

std::string strip_padding(std::string text) {
  while (!text.empty() && text.back() == '=')
    text.pop_back();
  return text;
}

core::StoreError refused(std::string detail) {
  auto error = core::StoreError::make(core::Errc::PermissionDenied, std::move(detail));
  error.retryable = false;  // a human must decide whether the key is the server's
  error.native_name = "host key";
  return error;
}

}  // namespace

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (static_cast<std::uint8_t>(bytes[i]) << 16) |
                      (static_cast<std::uint8_t>(bytes[i + 1]) << 8) |
                      static_cast<std::uint8_t>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string sha256_fingerprint(LIBSSH2_SESSION* session) {
  const char* hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256);
  if (!hash) return "SHA256:?";
  return "SHA256:" + strip_padding(base64(std::string_view(hash, 32)));
}

core::Result<void> verify_host_key(LIBSSH2_SESSION* session, const std::string& host, int port,
                                   const HostKeyPolicy& policy) {
  std::size_t length = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(session, &length, &type);
  if (!key) return refused("the server presented no host key");
  const std::string fingerprint = sha256_fingerprint(session);
  const std::string host_pattern = port == 22 ? host : "[" + host + "]:" + std::to_string(port);
  const std::string line = host_pattern + " " + std::string(key_type_name(type)) + " " +
                           base64(std::string_view(key, length));

  if (!policy.fingerprint.empty()) {
    std::string pinned = policy.fingerprint;
    if (pinned.rfind("SHA256:", 0) != 0) pinned = "SHA256:" + pinned;
    if (strip_padding(pinned) == fingerprint) return core::success();
    if (!policy.known_hosts_text) {
      return refused("host key of " + host_pattern + " is " + fingerprint + ", not the pinned " +
                     policy.fingerprint +
                     "; if the server's key really changed, pin the new fingerprint");
    }
  }
  if (!policy.known_hosts_text) {
    return refused("no known_hosts file and no pinned fingerprint to check the host key of " +
                   host_pattern + " (" + fingerprint + ") against");
  }

  std::unique_ptr<LIBSSH2_KNOWNHOSTS, void (*)(LIBSSH2_KNOWNHOSTS*)> hosts(
      libssh2_knownhost_init(session), libssh2_knownhost_free);
  if (!hosts) return refused("libssh2 could not set up host key checking");
  const std::string& text = *policy.known_hosts_text;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string entry = text.substr(begin, end - begin);
    // Lines libssh2 cannot parse (markers, unknown key types) are skipped, as ssh does.
    if (!entry.empty() && entry[0] != '#') {
      libssh2_knownhost_readline(hosts.get(), entry.c_str(), entry.size(),
                                 LIBSSH2_KNOWNHOST_FILE_OPENSSH);
    }
    begin = end + 1;
  }
  const int typemask =
      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | known_host_key_bits(type);
  libssh2_knownhost* found = nullptr;
  const int check =
      libssh2_knownhost_checkp(hosts.get(), host.c_str(), port, key, length, typemask, &found);
  switch (check) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
      return core::success();
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
      return refused("host key of " + host_pattern + " CHANGED: the server now presents " +
                     fingerprint + ", which " + policy.known_hosts_path +
                     " does not list for it. This may be an attack. If the change is "
                     "expected, replace its entry with: " +
                     line);
    default:
      return refused("host key of " + host_pattern + " (" + fingerprint + ") is not in " +
                     policy.known_hosts_path +
                     "; if that is the server's key, add this line: " + line);
  }
}

}  // namespace tetherd::stores::sftp
