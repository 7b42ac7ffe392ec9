// Shared-secret helpers: HMAC-SHA256, constant-time comparison and fresh
// random bytes (OpenSSL). For webhook signatures and the cluster's join
// handshake. Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

/// HMAC-SHA256 of `data` under `key`: 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Equal bytes, compared in time that does not depend on where they
/// differ (only on their sizes).
bool same_secret(std::string_view a, std::string_view b) noexcept;

/// `n` bytes from a cryptographically secure generator.
std::string random_bytes(std::size_t n);

/// Lower-case hex of raw bytes.
std::string to_hex(std::string_view bytes);

} // namespace sluice
